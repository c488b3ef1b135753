#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLibBPF

/// What the running kernel offers the probes, and why a probe could not attach.
///
/// Two questions are answered before or after an attach:
/// - *Does the function exist?* ``isAvailable(function:)`` looks it up in `/proc/kallsyms`, so a
///   caller can skip functions a kernel does not have: a patch series renames and deletes some
///   (v5 03 deletes `virtio_transport_dgram_bind`), a module that is not loaded has none, and
///   the compiler may have renamed a static function (`foo.isra.0`) or inlined it away.
/// - *Can the mechanism work at all?* ``hasKprobes`` checks for the kprobe PMU.
///
/// ``reason(for:function:error:)`` turns a failed attach into the sentence that
/// ``ProbeStatus/Mechanism/unavailable(reason:)`` carries: the errno and its likely cause.
public enum FeatureDetection {
    /// The file listing the kernel's symbols, including those of loaded modules.
    public static let kallsymsPath = "/proc/kallsyms"
    /// The kprobe PMU's type file: present when kprobes can be created through `perf_event_open`.
    public static let kprobePMUPath = "/sys/bus/event_source/devices/kprobe/type"
    /// The legacy kprobe interface, which libbpf falls back to without the PMU.
    public static let tracefsKprobeEventsPaths = ["/sys/kernel/tracing/kprobe_events",
                                                  "/sys/kernel/debug/tracing/kprobe_events"]

    /// Whether the running kernel has a function (text symbol) called `function`, in vmlinux or
    /// a loaded module.
    ///
    /// Reads `/proc/kallsyms` afresh (about 0.1 s on a large kernel): modules come and go. To
    /// check many functions at once, take one ``KernelSymbols`` snapshot.
    ///
    /// - Parameter function: The exact symbol name, for example `vmci_transport_dgram_allow`.
    public static func isAvailable(function: String) -> Bool {
        KernelSymbols.current().contains(function)
    }

    /// Whether kprobes can be created: the kprobe PMU, or the legacy tracefs interface, exists.
    ///
    /// `false` on kernels built without `CONFIG_KPROBES` (the project's 6.18 host).
    public static var hasKprobes: Bool {
        access(kprobePMUPath, F_OK) == 0
            || tracefsKprobeEventsPaths.contains { access($0, F_OK) == 0 }
    }

    /// Whether the running kernel's BTF describes `struct name`: in vmlinux, or in the BTF of
    /// the loaded module `module` (`/sys/kernel/btf/<module>`).
    ///
    /// CO-RE relocations are resolved against exactly these at load time: `vsock.bpf.c` can
    /// name transport modules only if `struct vsock_sock` is found (vsock built in, or the
    /// `vsock` module loaded and built with BTF).
    ///
    /// - Parameters:
    ///   - name: The struct's name, for example `vsock_sock`.
    ///   - module: The module that may define it, for example `vsock`.
    ///
    /// The corresponding C functions are `btf__load_vmlinux_btf`, `btf__load_module_btf` and
    /// `btf__find_by_name_kind`.
    public static func kernelBTFHasStruct(_ name: String, module: String? = nil) -> Bool {
        guard let vmlinux = btf__load_vmlinux_btf() else { return false }
        defer { btf__free(vmlinux) }
        let kind = UInt32(BTF_KIND_STRUCT)
        if btf__find_by_name_kind(vmlinux, name, kind) > 0 { return true }
        guard let module, let split = btf__load_module_btf(module, vmlinux) else { return false }
        defer { btf__free(split) }
        return btf__find_by_name_kind(split, name, kind) > 0
    }

    /// The sentence explaining why `mechanism` could not attach to `function`.
    ///
    /// - Parameters:
    ///   - mechanism: `.kprobe` or `.fentry`.
    ///   - function: The kernel function.
    ///   - error: The libbpf error of the failed stage.
    ///   - symbols: A symbol snapshot, read afresh when `nil`.
    /// - Returns: For example `kprobe vsock_bind: ENOENT (No such file or directory): not in
    ///   /proc/kallsyms (its module is not loaded, or this kernel renamed or inlined it)`.
    public static func reason(for mechanism: ProbeStatus.Mechanism, function: String,
                              error: ProbeError, symbols: KernelSymbols? = nil) -> String {
        let errno = error.errno
        let symbols = symbols ?? KernelSymbols.current()
        var cause: String
        switch mechanism {
        case .fentry:
            cause = fentryCause(errno)
        default:
            cause = kprobeCause(errno)
            if !hasKprobes {
                cause = "this kernel has no kprobes (no \(kprobePMUPath) nor tracefs "
                    + "kprobe_events: CONFIG_KPROBES is off?)"
            }
        }
        if !symbols.contains(function) {
            cause += "; not in \(kallsymsPath) (its module is not loaded, or this kernel "
                + "renamed or inlined it)"
            let variants = symbols.variants(of: function)
            if !variants.isEmpty { cause += "; it has \(variants.joined(separator: ", "))" }
        }
        let stage: String
        switch error {
        case .load: stage = " at load"
        default: stage = ""
        }
        return "\(mechanism.shortName) \(function): \(errno)\(stage): \(cause)"
    }

    private static func kprobeCause(_ errno: LibbpfErrno) -> String {
        switch errno {
        case .noSuchFileOrDirectory: "the kernel found no such probe point"
        case .invalidArgument: "the kernel refused to probe it (notrace, on the kprobe "
            + "blocklist, or not at a function entry)"
        case .notPermitted, .permissionDenied: "not permitted (needs root: CAP_BPF and "
            + "CAP_PERFMON, and no lockdown)"
        case .noFunction: "the bpf() or perf_event_open() syscall is not available"
        default: "attach failed"
        }
    }

    private static func fentryCause(_ errno: LibbpfErrno) -> String {
        switch errno {
        case .notPermitted: "the kernel refuses fentry programs here (EPERM at load: "
            + "no BPF trampoline support, or a security policy)"
        case .noSuchFileOrDirectory, .init(rawValue: ESRCH): "not in the kernel's BTF"
        case .kernelNotSupported, .notSupported: "no BPF trampoline support"
        default: "attach failed"
        }
    }
}

extension ProbeStatus.Mechanism {
    /// `kprobe`, `fentry` or `unavailable`.
    var shortName: String {
        switch self {
        case .kprobe: "kprobe"
        case .kprobeEvent: "kprobe event"
        case .fentry: "fentry"
        case .unavailable: "unavailable"
        }
    }
}
