#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProbeCalls

/// Kprobes on module functions that outlive their module's unloads: trace events defined in
/// tracefs's `kprobe_events` as `MODULE:function`, which the kernel arms again, by itself, at every
/// load of that module.
///
/// A kprobe made through `perf_event_open` (libbpf's `bpf_program__attach_kprobe_opts`) is bound
/// to the function's address: once the module unloads it is gone for good, and closing it costs
/// RCU grace periods taken with `event_mutex` held, which every module load and every other
/// attach also needs (about 100 ms per link under TCG, measured in the 6.1 test VM). An event
/// defined here instead stays defined; at each load of the module, `trace_kprobe_module_callback`
/// (MODULE_STATE_COMING, before the module's init runs) registers its kprobe anew, enabled if the
/// event is in use. The BPF programs hang on the trace event (`perf_event_open` of type
/// `PERF_TYPE_TRACEPOINT` + `PERF_EVENT_IOC_SET_BPF`, as libbpf's own legacy kprobe path does),
/// so they are attached once per session and fire in every load's instance of the function.
///
/// An event on a module that is not loaded yet is accepted: the kernel logs "This probe might be
/// able to register after target module is loaded. Continue." and arms it at the load.
///
/// Events are grouped per process (`checker_<pid>`) and removed when the group goes; a group left
/// behind by a process that died is removed by the next one.
final class KprobeEventGroup {
    /// `checker_<pid>`: the group of this process's events.
    let group: String
    /// The tracefs mount.
    let tracefs: String
    private var names: [String] = []

    /// The group prefix; the pid follows.
    static let prefix = "checker_"

    /// Finds tracefs (mounting it at /sys/kernel/tracing if needed); nil when the kernel has no
    /// kprobe events there.
    init?(pid: Int32) {
        guard let tracefs = Self.findTracefs() else { return nil }
        self.tracefs = tracefs
        group = Self.prefix + String(pid)
        removeGroupsOfDeadProcesses()
    }

    deinit {
        for name in names.reversed() { remove(name) }
    }

    /// Defines `p:` (entry) or `r:` (return) probe `name` on `module:function` and returns the
    /// trace event's id.
    func define(name: String, function: String, module: String, isReturn: Bool) throws(ProbeError) -> UInt64 {
        let target = module.isEmpty ? function : "\(module):\(function)"
        let line = "\(isReturn ? "r" : "p"):\(group)/\(name) \(target)\n"
        let written = append(line, to: tracefs + "/kprobe_events")
        guard written == 0 else {
            throw .attach(program: "kprobe_events \(line.dropLast())", errno: LibbpfErrno(rawValue: written))
        }
        names.append(name)
        guard let text = Self.read(tracefs + "/events/\(group)/\(name)/id"),
              let id = UInt64(text.split(separator: "\n").first ?? "") else {
            remove(name)
            throw .attach(program: "kprobe_events \(group)/\(name) id", errno: LibbpfErrno(rawValue: ENOENT))
        }
        return id
    }

    /// Opens the trace event `id` for perf (any process, CPU 0): the fd a BPF program attaches to.
    func open(id: UInt64, name: String) throws(ProbeError) -> CInt {
        let descriptor = kcc_open_trace_event(id)
        guard descriptor >= 0 else {
            throw .attach(program: "perf_event_open \(group)/\(name)", errno: LibbpfErrno(rawValue: errno))
        }
        return descriptor
    }

    /// Removes event `name` (its perf events must be closed first, or the kernel says EBUSY).
    func remove(_ name: String) {
        _ = append("-:\(group)/\(name)\n", to: tracefs + "/kprobe_events")
        names.removeAll { $0 == name }
    }

    // MARK: - tracefs

    private static func findTracefs() -> String? {
        let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        if let found = candidates.first(where: { access($0 + "/kprobe_events", W_OK) == 0 }) { return found }
        // Not mounted (a virtme-ng guest mounts no tracefs): mount it where the kernel expects it.
        guard mount("nodev", candidates[0], "tracefs", 0, nil) == 0 else { return nil }
        return access(candidates[0] + "/kprobe_events", W_OK) == 0 ? candidates[0] : nil
    }

    /// Removes the events of `checker_<pid>` groups whose process is gone (a run that crashed).
    private func removeGroupsOfDeadProcesses() {
        guard let text = Self.read(tracefs + "/kprobe_events") else { return }
        for event in Self.staleEvents(in: text, isAlive: { kill($0, 0) == 0 || errno != ESRCH }) {
            _ = append("-:\(event)\n", to: tracefs + "/kprobe_events")
        }
    }

    /// The `group/name` of each event in a `kprobe_events` listing that belongs to a
    /// `checker_<pid>` group whose process is not alive.
    static func staleEvents(in listing: String, isAlive: (Int32) -> Bool) -> [String] {
        listing.split(separator: "\n").compactMap { line in
            // "r:checker_1234/r_vmci_transport_dgram_bind vmw_vsock_vmci_transport:vmci_…" (kretprobes
            // may read "r16:…" with their maxactive)
            guard let colon = line.firstIndex(of: ":"), let space = line.firstIndex(of: " "), colon < space else { return nil }
            let event = line[line.index(after: colon)..<space]
            guard event.hasPrefix(prefix), let slash = event.firstIndex(of: "/"),
                  let pid = Int32(event[event.index(event.startIndex, offsetBy: prefix.count)..<slash]),
                  !isAlive(pid) else { return nil }
            return String(event)
        }
    }

    /// Appends `text` to a tracefs file: 0, or the errno of the failed open or write.
    private func append(_ text: String, to path: String) -> Int32 {
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { return errno }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        return written == bytes.count ? 0 : (written < 0 ? errno : EIO)
    }

    private static func read(_ path: String) -> String? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            guard got > 0 else { break }
            bytes += chunk[..<got]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
