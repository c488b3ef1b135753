/// The Kconfig options `checker kernel build` adds to virtme-ng's minimal configuration, in
/// groups: what every build needs, then one group per sanitizer. Each option says why.
///
/// The base of the configuration is what `vng --kconfig` makes: `make x86_64_defconfig`, then
/// virtme-ng's own fragment (``VirtmeKernelConfig``: 9p, virtio, the serial console, devtmpfs,
/// overlayfs and what else its guests need). These groups come after it, so where they disagree
/// (virtme-ng builds vsock in; the checker needs it as modules) they win.
struct KernelConfigFragment: Sendable {
    /// The group's name, written as a heading into the merged fragment.
    let name: String
    let options: [KernelConfigOption]

    /// The fragment's text as `merge_config.sh` reads it: each option under a comment saying why.
    var text: String {
        var lines = ["# checker kernel build: \(name)"]
        for option in options {
            lines.append("# " + option.why)
            lines.append(option.line)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What every checker kernel needs: vsock as modules, BTF, the probes' kernel features.
    static let checker = KernelConfigFragment(name: "vsock as modules, BTF, probes", options: [
        KernelConfigOption("MODULES", .yes, "Loadable modules: the checker loads and unloads the vsock core and its transports between seeds."),
        KernelConfigOption("MODULE_UNLOAD", .yes, "rmmod: each seed starts from unloaded transports, and checker series replaces the stock vsock modules with rebuilt ones."),
        KernelConfigOption("MODULE_SIG", .no, "No module signing: it needs a key, and the modules checker series rebuilds would not carry its signature."),
        KernelConfigOption("VSOCKETS", .module, "The vsock core as a module (virtme-ng builds it in): a built-in core cannot be unloaded or replaced by a patched one."),
        KernelConfigOption("VSOCKETS_DIAG", .module, "vsock_diag, as Debian builds it: the series' module build rebuilds it with the core."),
        KernelConfigOption("VSOCKETS_LOOPBACK", .module, "The LOCAL transport (vsock_loopback), a module as in Debian."),
        KernelConfigOption("VIRTIO_VSOCKETS", .module, "The guest-to-host transport (vmw_vsock_virtio_transport); it loads without a device."),
        KernelConfigOption("VIRTIO_VSOCKETS_COMMON", .module, "The virtio transports' shared code, a module beside them (the series changes it)."),
        KernelConfigOption("VMWARE_VMCI", .module, "The VMCI driver the VMCI transport needs; a module, as in Debian."),
        KernelConfigOption("VMWARE_VMCI_VSOCKETS", .module, "The VMCI transport, the only datagram transport of unpatched 6.1 (DESIGN.md, Facts measured)."),
        KernelConfigOption("VHOST_MENU", .yes, "Shows the vhost drivers; VHOST_VSOCK sits under it."),
        KernelConfigOption("VHOST_VSOCK", .module, "The host-to-guest transport (vhost_vsock), a module as in Debian."),
        KernelConfigOption("HYPERV", .module, "The Hyper-V bus hv_sock needs (a module: nothing here runs on Hyper-V)."),
        KernelConfigOption("HYPERV_VSOCKETS", .module, "hv_sock: the series changes every transport's datagram callbacks, so a whole-tree build compiles this one too."),
        KernelConfigOption("DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT", .yes, "DWARF debug info, which pahole turns into BTF (virtme-ng asks for it too)."),
        KernelConfigOption("DEBUG_INFO_BTF", .yes, "vmlinux BTF (/sys/kernel/btf/vmlinux): the probes are CO-RE objects."),
        KernelConfigOption("DEBUG_INFO_BTF_MODULES", .yes, "Module BTF (/sys/kernel/btf/vsock): the probes read struct vsock_sock, which lives in the vsock module."),
        KernelConfigOption("BPF_SYSCALL", .yes, "bpf(2): the probes are BPF programs."),
        KernelConfigOption("BPF_JIT", .yes, "JIT-compiled probes (fentry/fexit need the JIT)."),
        KernelConfigOption("BPF_EVENTS", .yes, "BPF programs on kprobes and tracepoints: module functions are probed with kprobes (DESIGN.md)."),
        KernelConfigOption("FTRACE", .yes, "The tracing core, under which kprobe events and BPF trampolines sit."),
        KernelConfigOption("FUNCTION_TRACER", .yes, "Function entry hooks (fentry) for BPF trampolines."),
        KernelConfigOption("DYNAMIC_FTRACE", .yes, "Patchable function entries: fentry/fexit attach through them, and kprobes use them (KPROBES_ON_FTRACE)."),
        KernelConfigOption("KPROBES", .yes, "kprobes: how the checker probes functions inside modules without pinning them."),
        KernelConfigOption("KPROBE_EVENTS", .yes, "kprobe events, through which libbpf attaches kprobe programs (perf_event_open of a kprobe PMU falls back on them)."),
        KernelConfigOption("IKCONFIG", .yes, "The configuration inside the kernel, so a guest can show which options it booted with."),
        KernelConfigOption("IKCONFIG_PROC", .yes, "... as /proc/config.gz."),
        KernelConfigOption("DEBUG_KERNEL", .yes, "Shows the kernel hacking options the sanitizers and lockdep sit under."),
        KernelConfigOption("DRM_I915", .no, "x86_64_defconfig builds Intel's GPU driver (349 C files in 6.1.176), for a device no QEMU guest has."),
        KernelConfigOption("KUNIT", .yes, "KUnit, which the sanitizers' own test modules (kasan_test, kcsan_test) need: loading one makes real reports on demand."),
    ])

    /// KASAN: use-after-free and out-of-bounds accesses.
    static let kasan = KernelConfigFragment(name: "KASAN", options: [
        KernelConfigOption("KASAN", .yes, "The kernel address sanitizer: reports use-after-free and out-of-bounds accesses (BUG: KASAN: ...)."),
        KernelConfigOption("KASAN_GENERIC", .yes, "Generic (software shadow) KASAN, the mode x86-64 has."),
        KernelConfigOption("KASAN_INLINE", .yes, "Checks inlined at each access instead of calls: about twice as fast (Kconfig's help), which matters under TCG; costs text size."),
        KernelConfigOption("KASAN_KUNIT_TEST", .module, "kasan_test: loading it in the guest makes real KASAN reports (the console scanner's fixtures)."),
    ])

    /// KCSAN: data races.
    static let kcsan = KernelConfigFragment(name: "KCSAN", options: [
        KernelConfigOption("KCSAN", .yes, "The kernel concurrency sanitizer: reports data races (BUG: KCSAN: data-race in a / b); GCC 11+ builds it (bookworm has 12)."),
        KernelConfigOption("KCSAN_KUNIT_TEST", .module, "kcsan_test: loading it in the guest makes real KCSAN reports (the console scanner's fixtures)."),
    ])

    /// lockdep: lock order, lock state and RCU checks.
    static let lockdep = KernelConfigFragment(name: "lockdep", options: [
        KernelConfigOption("PROVE_LOCKING", .yes, "lockdep: reports possible deadlocks and inconsistent lock states (vsock_register_mutex against the socket locks)."),
        KernelConfigOption("PROVE_RCU", .yes, "RCU checks (suspicious RCU usage); follows PROVE_LOCKING, listed so that losing it is noticed."),
        KernelConfigOption("DEBUG_LOCKDEP", .yes, "lockdep's checks of its own state, as the issue asks (slower; a TCG guest notices)."),
        KernelConfigOption("DEBUG_ATOMIC_SLEEP", .yes, "Reports sleeping in atomic context (BUG: sleeping function called from invalid context), as syzbot's configs do."),
        KernelConfigOption("DEBUG_LOCKING_API_SELFTESTS", .yes, "lockdep's boot self-test: proves lockdep works at each boot, and with debug_locks_verbose= on the command line prints real lockdep reports."),
    ])
}
