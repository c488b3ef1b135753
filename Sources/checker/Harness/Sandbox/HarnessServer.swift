import CSandbox
import Foundation

/// The child's side: loads the harness, enters the sandbox, then answers requests on its
/// protocol pipes until the parent closes them.
///
/// Everything that needs a file (the library, the loader, the unwinder, Foundation's JSON) is
/// touched before the sandbox closes; from then on the loop reads and writes its two pipes and
/// nothing else, which is what the seccomp allowlist permits (`CSandbox/sandbox.c`).
struct HarnessServer {
    let served: ServedHarness
    let library: String
    /// The address-space limit of the child (a patch that allocates without end fails there).
    var memoryLimit: UInt64 = 8 << 30

    /// Never returns normally: exits 0 when the parent closes the pipe, 3 when the sandbox could
    /// not be entered (the parent reports that as its own failure, not the patch's).
    func serve() -> Never {
        var input: Int32 = -1
        var output: Int32 = -1
        guard kcc_sandbox_note_library(library) == 0 else { fail("the harness \(library) is not loaded in the child") }
        guard kcc_sandbox_protocol_fds(&input, &output) == 0 else { fail("cannot move the protocol pipes: \(errnoText())") }
        guard kcc_sandbox_install_handlers() == 0 else { fail("cannot install the crash handlers: \(errnoText())") }
        // Foundation's JSON coders, warmed up while files can still be opened.
        _ = served.answer(Data(#"{"request":"no such request"}"#.utf8))
        _ = served.answer(Data(#"{"request":"reset"}"#.utf8))
        var report = [CChar](repeating: 0, count: 512)
        guard kcc_sandbox_enter(memoryLimit, &report, Int32(report.count)) == 0 else {
            fail("cannot enter the sandbox: \(errnoText())")
        }
        let applied = String(decoding: report.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var lines = LineReader(fd: input)
        write((try? HarnessProtocol.line(HarnessProtocol.Ready(ready: applied))) ?? Data(), to: output)
        while let line = lines.next() {
            write(served.answer(line), to: output)
        }
        exit(0)
    }

    private func write(_ data: Data, to fd: Int32) {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { exit(0) }   // the parent has gone
                offset += written
            }
        }
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("harness-server: error: \(message)\n".utf8))
        exit(3)
    }

    private func errnoText() -> String { String(cString: strerror(errno)) }
}

/// Lines from a file descriptor with read(2) alone (the sandbox allows nothing else).
struct LineReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(fd: Int32) { self.fd = fd }

    mutating func next() -> Data? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = Data(buffer[start..<newline])
                start = newline + 1
                if start > 1 << 16 { buffer.removeFirst(start); start = 0 }
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            buffer.append(contentsOf: chunk[0..<count])
        }
    }
}
