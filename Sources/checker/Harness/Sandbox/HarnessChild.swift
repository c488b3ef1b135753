import CSandbox
import Foundation
import Generators
import Model

/// The checker's side of one harness child (`checker harness-serve`): starts it, hands it
/// request lines, and reads its replies within a time bound. A child that dies during a call, or
/// does not answer within the bound, is the patch's crash (``HarnessCrash``), read from the
/// crash line its handlers leave on stderr; the checker itself never runs the patch's code.
///
/// One child serves requests until it dies; ``start()`` makes a new one (the engine resets
/// before every sequence, so a crash costs one new child).
final class HarnessChild {
    enum Answer {
        case line(Data)
        case crashed(HarnessCrash)
    }

    let build: HarnessBuild
    /// The `checker` executable the child runs (``VM/executablePath()`` in the checker; the
    /// built `checker` beside the test bundle in tests).
    let executable: String
    /// How long one call may take before the child is stopped and the call reported as a hang.
    let callBound: Duration
    /// Files the shim is made of: crash frames in them are the kernel's helpers, not the patch.
    let shimFiles: Set<String>

    /// What the sandbox of the current child applied (its first line).
    private(set) var sandbox: String?
    /// Children started so far (one, plus one after each crash).
    private(set) var starts = 0

    private var pid: pid_t = 0
    private var toChild: Int32 = -1
    private var fromChild: Int32 = -1
    /// The current child's stderr: an unlinked file, so nothing is left on disk.
    private var errors: Int32 = -1
    private var pending: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 1 << 16)

    init(build: HarnessBuild, executable: String = VM.executablePath(), callBound: Duration = .seconds(10),
         shimFiles: Set<String>) throws {
        self.build = build
        self.executable = executable
        self.callBound = callBound
        self.shimFiles = shimFiles
        // A child that died must never take the checker with it: writing to its pipe is EPIPE.
        signal(SIGPIPE, SIG_IGN)
    }

    deinit {
        stop()
        if errors >= 0 { close(errors) }
    }

    var isRunning: Bool { pid > 0 }

    /// Starts a child and waits for its `ready` line.
    func start() throws {
        stop()
        var input: [Int32] = [-1, -1]
        var output: [Int32] = [-1, -1]
        guard kcc_sandbox_pipe(&input) == 0, kcc_sandbox_pipe(&output) == 0 else {
            throw SystemError.unavailable("cannot make the harness child's pipes: \(String(cString: strerror(errno)))")
        }
        if errors >= 0 { close(errors) }
        errors = kcc_sandbox_anonymous_file(FileManager.default.temporaryDirectory.path)
        guard errors >= 0 else {
            throw SystemError.unavailable("cannot make a file for the harness child's stderr in \(FileManager.default.temporaryDirectory.path): \(String(cString: strerror(errno)))")
        }
        let arguments = [executable, "harness-serve", "--kind", build.kind.rawValue, "--library", build.library, "--name", build.name]
        var environment = ProcessInfo.processInfo.environment
        // The Swift runtime's own crash reporter would start a program: the child reports itself.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        let spawned = withCStrings(arguments) { argv in
            withCStrings(environment.map { "\($0.key)=\($0.value)" }) { envp in
                kcc_sandbox_spawn(executable, argv, envp, input[0], output[1], errors)
            }
        }
        close(input[0])
        close(output[1])
        guard spawned > 0 else {
            close(input[1])
            close(output[0])
            throw SystemError.unavailable("cannot start \(executable) harness-serve: \(String(cString: strerror(errno)))")
        }
        pid = spawned
        toChild = input[1]
        fromChild = output[0]
        pending = []
        starts += 1
        let first: Answer
        do {
            first = try readLine(within: .seconds(60), entry: nil)
        } catch let SystemError.unreliable(message) {
            // Not ready at all (it could not enter its sandbox, or did not answer): unavailable here.
            throw SystemError.unavailable(message)
        }
        switch first {
        case let .line(data):
            guard let ready = try? JSONDecoder().decode(HarnessProtocol.Ready.self, from: data) else {
                throw failure(starting: true, "its first line is not `ready`: \(String(decoding: data.prefix(200), as: UTF8.self))")
            }
            sandbox = ready.ready
        case .crashed:
            throw failure(starting: true, "it ended before it was ready")
        }
    }

    /// Sends one request line and waits for the reply. `entry` names the patch function the
    /// request calls, for a hang's report; nil when the request calls no patch code.
    func ask(_ request: Data, entry: String?) throws -> Answer {
        guard isRunning else { throw SystemError.unreliable("the harness child is not running (start it first)") }
        let sent = request.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let written = write(toChild, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return false }
                offset += written
            }
            return true
        }
        guard sent else { return .crashed(try died(entry: entry)) }
        return try readLine(within: callBound, entry: entry)
    }

    /// Stops the child (closing its input ends its loop; a child that does not end is killed).
    func stop() {
        guard pid > 0 else { return }
        close(toChild)
        close(fromChild)
        var status: Int32 = 0
        var waits = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard waits < 50 else {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            waits += 1
            usleep(10_000)
        }
        pid = 0
    }

    // MARK: - Reading

    private func readLine(within bound: Duration, entry: String?) throws -> Answer {
        let deadline = ContinuousClock.now + bound
        var scanned = 0   // bytes of `pending` known to hold no newline
        while true {
            if let newline = pending[scanned...].firstIndex(of: 0x0A) {
                let line = Data(pending[..<newline])
                pending.removeFirst(newline + 1)
                return .line(line)
            }
            scanned = pending.count
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return .crashed(try hung(entry: entry)) }
            var poller = pollfd(fd: fromChild, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(Double(Int32.max), max(1, (left / .milliseconds(1)).rounded(.up))))
            let ready = poll(&poller, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { read(fromChild, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return .crashed(try died(entry: entry)) }
            pending.append(contentsOf: chunk[0..<count])
        }
    }

    /// The child closed its pipe: it died. Its status and crash line say how.
    private func died(entry: String?) throws -> HarnessCrash {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
        close(toChild)
        close(fromChild)
        let report = HarnessCrashReport(stderr: stderrText(), library: build.library, shimFiles: shimFiles)
        let ending = Self.ending(status)
        // A crash line from outside a patch call, or no line while no patch code was called: the
        // checker's own child failed. No line during a patch call: the patch ended the process
        // without running its handlers (`_exit`, an uncatchable signal).
        if let line = report.line, line.inCall == nil { throw failure("it ended (\(ending)) outside the patch's code") }
        if report.line == nil, entry == nil { throw failure("it ended (\(ending)) while no patch code ran") }
        return report.crash(ending: ending, bound: nil, entry: entry)
    }

    /// No reply within the bound: ask the child where it is (SIGUSR2), then kill it.
    private func hung(entry: String?) throws -> HarnessCrash {
        kill(pid, SIGUSR2)
        var waits = 0
        while waits < 300, !stderrText().contains("kind=hang") {
            waits += 1
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
        close(toChild)
        close(fromChild)
        guard entry != nil else { throw failure("it did not answer a request that calls no patch code within \(callBound)") }
        let report = HarnessCrashReport(stderr: stderrText(), library: build.library, shimFiles: shimFiles)
        return report.crash(ending: "killed after \(Self.seconds(callBound)) s", bound: callBound, entry: entry)
    }

    /// What the current child wrote to stderr so far (at most its last 1 MiB).
    private func stderrText() -> String {
        var status = stat()
        guard errors >= 0, fstat(errors, &status) == 0, status.st_size > 0 else { return "" }
        let size = Int(min(status.st_size, 1 << 20))
        var bytes = [UInt8](repeating: 0, count: size)
        let count = bytes.withUnsafeMutableBytes { pread(errors, $0.baseAddress, size, off_t(status.st_size) - off_t(size)) }
        return String(decoding: bytes.prefix(max(0, count)), as: UTF8.self)
    }

    /// The checker's own failure (not the patch's), one line ending with the child's last line on
    /// stderr. A child that cannot be started or cannot enter its sandbox here is a skip (the
    /// harness is unavailable on this machine); one that fails after it was ready makes the run
    /// inconclusive: what it had observed can no longer be trusted.
    private func failure(starting: Bool = false, _ what: String) -> SystemError {
        let last = stderrText().split(separator: "\n").last.map { ": \($0)" } ?? ""
        let message = "the harness child (\(executable) harness-serve) failed: \(what)\(last)"
        return starting ? .unavailable(message) : .unreliable(message)
    }

    static func ending(_ status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exit status \((status >> 8) & 0xff)" }
        return "killed by \(HarnessCrashReport.signalName(signal))"
    }

    static func seconds(_ duration: Duration) -> String {
        let value = duration / .seconds(1)
        return value == value.rounded() ? "\(Int(value))" : String(format: "%.1f", value)
    }
}

/// `strings` as a NULL-terminated `char *[]` for the duration of `body`.
private func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
