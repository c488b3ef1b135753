#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The kprobes the kernel has registered now, from debugfs `kprobes/list`: which functions are
/// probed, in which module, and whether each probe is live.
///
/// The kprobe events of ``ProbeSession/attachAcrossLoads(_:module:)`` are armed by the kernel at
/// every load of their module; if it failed to (it would only log "Failed to re-register probe"),
/// calls would go unseen. Reading this list after each load turns that into an observation:
/// a probe missing here, or marked `[GONE]` or `[DISABLED]`, makes the operation unreliable.
///
/// Lines read `ffffffffc0a98f00  r  vmci_transport_connect+0x0  vmw_vsock_vmci_transport [FTRACE]`:
/// address, type (`k` kprobe, `r` kretprobe), `symbol+offset`, module (absent for vmlinux), flags.
public struct RegisteredKprobes: Sendable {
    public struct Probe: Hashable, Sendable {
        public let function: String
        public let module: String
        public let isReturn: Bool
        /// Neither `[GONE]` (its module went) nor `[DISABLED]`.
        public let isLive: Bool
    }

    public let probes: [Probe]

    /// Parses the list's text.
    public init(list: String) {
        probes = list.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, fields[1] == "k" || fields[1] == "r",
                  let plus = fields[2].firstIndex(of: "+") else { return nil }
            let module = fields.count >= 4 && !fields[3].hasPrefix("[") ? String(fields[3]) : ""
            // The flags run together: "[GONE][FTRACE]".
            let flags = fields.dropFirst(3).filter { $0.hasPrefix("[") }.joined()
            return Probe(function: String(fields[2][..<plus]), module: module, isReturn: fields[1] == "r",
                         isLive: !flags.contains("[GONE]") && !flags.contains("[DISABLED]"))
        }
    }

    /// Reads the list now (mounting debugfs if it is not); nil when it cannot be read.
    public static func current() -> RegisteredKprobes? {
        let path = "/sys/kernel/debug/kprobes/list"
        if access(path, R_OK) != 0 {
            _ = mount("nodev", "/sys/kernel/debug", "debugfs", 0, nil)
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard got > 0 else { break }
            bytes += chunk[..<got]
        }
        return RegisteredKprobes(list: String(decoding: bytes, as: UTF8.self))
    }

    /// Whether a live probe of that kind sits on `module`'s `function`.
    public func isLive(_ function: String, in module: String, isReturn: Bool) -> Bool {
        probes.contains { $0.function == function && $0.module == module && $0.isReturn == isReturn && $0.isLive }
    }
}
