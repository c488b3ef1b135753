#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLibBPF
import Synchronization

/// Where libbpf's own messages go: the verifier log, BTF and relocation notes, warnings.
///
/// libbpf prints through one process-wide callback (`libbpf_set_print`). By default it writes
/// warnings and info to standard error. ``route(minimum:to:)`` sends each message at or above a
/// level to a Swift closure instead, as one formatted `String` with its trailing newline
/// removed; ``silence()`` drops them all; ``restoreDefault()`` gives libbpf back its own printer.
///
/// ```swift
/// LibbpfLog.route(minimum: .info) { level, message in
///     FileHandle.standardError.write("libbpf \(level): \(message)\n")
/// }
/// ```
///
/// The setting is global to the process, like libbpf's; change it before opening objects.
public enum LibbpfLog {
    /// The level of a libbpf message, lowest (most verbose) last.
    public enum Level: Int, Comparable, Sendable, CustomStringConvertible {
        /// Something failed or looks wrong. The corresponding C value is `LIBBPF_WARN`.
        case warning = 0
        /// Progress worth showing. The corresponding C value is `LIBBPF_INFO`.
        case info = 1
        /// Everything, including relocation details. The corresponding C value is `LIBBPF_DEBUG`.
        case debug = 2

        /// Orders by importance: `.warning` is greater than `.info`, which is greater than `.debug`.
        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue > rhs.rawValue }

        /// `warning`, `info` or `debug`.
        public var description: String {
            switch self {
            case .warning: "warning"
            case .info: "info"
            case .debug: "debug"
            }
        }
    }

    /// A receiver of formatted libbpf messages.
    public typealias Sink = @Sendable (Level, String) -> Void

    /// The current route: the lowest level passed on, and where to.
    private static let route = Mutex<(minimum: Level, sink: Sink)?>(nil)

    /// Sends libbpf's messages at `minimum` or more important to `sink`.
    ///
    /// - Parameters:
    ///   - minimum: The least important level passed on; `.warning` passes warnings only.
    ///   - sink: Called once per message, on the thread that called libbpf.
    ///
    /// The corresponding C function is `libbpf_set_print`.
    public static func route(minimum: Level, to sink: @escaping Sink) {
        route.withLock { $0 = (minimum, sink) }
        _ = libbpf_set_print(forward)
    }

    /// Sends libbpf's messages at `minimum` or more important to standard error, each prefixed
    /// with `libbpf: ` (once: libbpf's own prefix is kept).
    ///
    /// - Parameter minimum: The least important level printed.
    public static func routeToStandardError(minimum: Level) {
        route(minimum: minimum) { _, message in
            // One write(2) per line, so lines from several threads do not interleave.
            // libbpf starts most of its own messages with "libbpf: "; do not say it twice.
            let text = message.hasPrefix("libbpf: ") ? message : "libbpf: \(message)"
            var line = Array("\(text)\n".utf8)
            _ = line.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
    }

    /// Drops every libbpf message.
    ///
    /// The corresponding C call is `libbpf_set_print(NULL)`.
    public static func silence() {
        route.withLock { $0 = nil }
        _ = libbpf_set_print(nil)
    }

    /// Gives libbpf back its own printer (warnings and info to standard error).
    ///
    /// libbpf exposes no pointer to its default printer; this reproduces it.
    public static func restoreDefault() {
        routeToStandardError(minimum: .info)
    }

    /// The C callback: formats the message with `vsnprintf` and hands it to the current sink.
    private static let forward: libbpf_print_fn_t = { cLevel, format, arguments in
        let level = Level(rawValue: Int(cLevel.rawValue)) ?? .debug
        guard let format, let arguments,
              let (minimum, sink) = LibbpfLog.route.withLock({ $0 }),
              level >= minimum
        else { return 0 }
        // A va_list can be read once only, so format into a buffer big enough for a verifier
        // log excerpt, and mark anything longer as cut.
        let capacity = 64 * 1024
        let message = withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer in
            let written = vsnprintf(buffer.baseAddress, capacity, format, arguments)
            guard written >= 0 else { return "(unformattable libbpf message)" }
            let length = min(Int(written), capacity - 1)
            var text = String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress,
                                                               count: length),
                              as: UTF8.self)
            if Int(written) >= capacity { text += " [cut at \(capacity) bytes]" }
            while text.hasSuffix("\n") { text.removeLast() }
            return text
        }
        sink(level, message)
        return 0
    }
}
