import Foundation
import Synchronization
import Testing
@testable import Probes

/// These call into libbpf for real: only libbpf produces its own error codes (4000 and up).
@Suite("ProbeObject open", .serialized)
struct ProbeObjectTests {
    init() {
        // libbpf warns on stderr about the bad ELF files below; keep the test output clean.
        LibbpfLog.silence()
    }

    @Test("garbage bytes fail to open with a libbpf format error")
    func garbageFailsWithFormatError() {
        let garbage = (0..<256).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        #expect {
            _ = try ProbeObject(bytes: garbage, name: "garbage")
        } throws: { error in
            guard case .open(let object, let errno) = error as? ProbeError else { return false }
            return object == "garbage" && [.libbpfFormat, .libbpfLibelf].contains(errno)
        }
    }

    @Test("a truncated ELF header fails to open")
    func truncatedELFFails() {
        // "\x7fELF", 64-bit, little-endian, then nothing.
        let bytes: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]
        #expect(throws: ProbeError.self) {
            _ = try ProbeObject(bytes: bytes, name: "truncated")
        }
    }

    @Test("an empty buffer is EINVAL")
    func emptyIsEINVAL() {
        #expect(throws: ProbeError.open(object: "empty", errno: .invalidArgument)) {
            _ = try ProbeObject(bytes: [], name: "empty")
        }
    }

    // The route is process-wide, and the suites that open objects silence libbpf as each of their
    // tests starts, in parallel with this one: a silence may land between the route and the open,
    // or between two messages of one open (a debug line through, the warning dropped). Those
    // happen only while tests start, so attempts go on until the warning came through, for up to
    // 20 s (50 attempts 10 ms apart were too few in a TCG guest sharing two cores with another
    // guest: a local CI run saw all of them silenced).
    @Test("libbpf's messages reach the routed sink")
    func logIsRouted() throws {
        let lines = Lines()
        defer { LibbpfLog.silence() }
        // libbpf formats its messages with printf arguments, so the object's name shows up only if
        // the va_list was read.
        let routedWarning = { lines.all.contains { $0.hasPrefix("warning: ") && $0.contains("'logged'") } }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(20))
        repeat {
            LibbpfLog.route(minimum: .debug) { level, message in lines.append("\(level): \(message)") }
            _ = try? ProbeObject(bytes: [0, 1, 2, 3], name: "logged")
            if routedWarning() { break }
            usleep(10_000)
        } while clock.now < deadline
        #expect(routedWarning())
        #expect(lines.all.allSatisfy { !$0.hasSuffix("\n") })
    }
}

/// A thread-safe list of log lines.
final class Lines: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { storage.withLock { $0.append(line) } }
    var all: [String] { storage.withLock { $0 } }
}
