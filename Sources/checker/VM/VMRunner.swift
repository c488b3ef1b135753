import Dispatch
import Foundation
import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs vng, records what the guest prints, and never waits longer than the timeout.
///
/// - vng runs in a session of its own, so that on timeout (or when the checker itself is
///   interrupted) the whole process group — vng, QEMU and anything they started — gets SIGTERM
///   and, 5 s later, SIGKILL.
/// - vng's stdout (the guest command's stdout) and stderr (the kernel console and the guest
///   command's stderr) are read as they arrive: both go, line by line, to `console.log`; stdout
///   also goes, byte for byte, to `stdout.txt`; with `echo`, lines are echoed to our stderr.
enum VMRunner {
    enum Ending: Equatable, Sendable {
        case exited(Int32)
        case signaled(Int32)
        /// Killed after the timeout.
        case timedOut
        /// Killed because the guest kernel oopsed, panicked or reported a hung task and the guest
        /// did not finish within the grace period after it (a crashed guest rarely finishes;
        /// waiting for the timeout would waste the run's remaining time).
        case stoppedAfterCrash
        /// Killed because the checker asked (``StopRequest``): a crash reproduction's candidate
        /// ran past its bound.
        case stopped
        /// Stopped because the checker itself got SIGINT or SIGTERM.
        case interrupted(Int32)
    }

    struct Outcome: Equatable, Sendable {
        var ending: Ending
        var seconds: Double
    }

    /// How long a guest may go on after its kernel oopsed or panicked.
    static let crashGrace: Duration = .seconds(30)

    /// Runs `vng arguments…`; its output goes to `consolePath` and `stdoutPath`.
    static func run(vng: String, arguments: [String], timeout: Duration, consolePath: String, stdoutPath: String,
                    echo: Bool, crashGrace: Duration = crashGrace, stopRequest: StopRequest? = nil) async throws -> Outcome {
        let sink = try ConsoleSink(consolePath: consolePath, stdoutPath: stdoutPath, echo: echo)
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: .seconds(5))]
        let teardown = options.teardownSequence
        let started = ContinuousClock.now
        // vng starts virtme-run and friends by name: its own folder (a virtual environment's bin)
        // goes first on PATH.
        let folder = URL(fileURLWithPath: vng).deletingLastPathComponent().path
        let path = folder + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let result = try await Subprocess.run(
            .path(FilePath(vng)), arguments: Arguments(arguments), environment: .inherit.updating(["PATH": path]),
            platformOptions: options,
            input: .none, output: .sequence, error: .sequence
        ) { execution -> (stop: Event?, interrupted: Int32?) in
            let forwarding = SignalForwarding(processGroup: execution.processIdentifier.value)
            defer { forwarding.cancel() }
            let stop = try await withThrowingTaskGroup(of: Event.self) { group in
                group.addTask {
                    for try await buffer in execution.standardOutput {
                        await sink.append(buffer.withUnsafeBytes { Array($0) }, from: .stdout)
                    }
                    return .closed
                }
                group.addTask {
                    for try await buffer in execution.standardError {
                        await sink.append(buffer.withUnsafeBytes { Array($0) }, from: .stderr)
                    }
                    return .closed
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: .seconds(2))
                        if let crashed = await sink.crashSeen, crashed.duration(to: .now) > crashGrace { return .crashed }
                    }
                }
                if let stopRequest {
                    group.addTask {
                        while !stopRequest.isRequested { try await Task.sleep(for: .milliseconds(100)) }
                        return .stopped
                    }
                }
                var closed = 0
                var stop: Event?
                while let event = try await group.next() {
                    switch event {
                    case .closed:
                        closed += 1
                        if closed == 2 {
                            group.cancelAll()
                            return stop
                        }
                    case .timedOut, .crashed, .stopped:
                        guard stop == nil else { continue }
                        stop = event
                        await execution.teardown(using: teardown)
                        // The pipes close when the group is gone; give the readers a moment.
                        group.addTask {
                            try await Task.sleep(for: .seconds(10))
                            return .gaveUpReading
                        }
                    case .gaveUpReading:
                        group.cancelAll()
                        return stop
                    }
                }
                return stop
            }
            return (stop, forwarding.received)
        }
        await sink.finish()
        let seconds = started.duration(to: .now).seconds
        if let signal = result.closureResult.interrupted { return Outcome(ending: .interrupted(signal), seconds: seconds) }
        if result.closureResult.stop == .timedOut { return Outcome(ending: .timedOut, seconds: seconds) }
        if result.closureResult.stop == .crashed { return Outcome(ending: .stoppedAfterCrash, seconds: seconds) }
        if result.closureResult.stop == .stopped { return Outcome(ending: .stopped, seconds: seconds) }
        switch result.terminationStatus {
        case let .exited(code): return Outcome(ending: .exited(code), seconds: seconds)
        case let .signaled(signal): return Outcome(ending: .signaled(signal), seconds: seconds)
        }
    }

    private enum Event: Sendable {
        case closed, timedOut, crashed, stopped, gaveUpReading
    }

    /// Asks a running VM to be killed, from outside its run.
    final class StopRequest: @unchecked Sendable {
        private let lock = NSLock()
        private var requested = false

        init() {}

        var isRequested: Bool { lock.withLock { requested } }

        func request() { lock.withLock { requested = true } }
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

/// Where the guest's output goes: `console.log` gets whole lines from both streams (a line is
/// written when it is complete, so the streams interleave only between lines), `stdout.txt` the
/// guest command's stdout as is.
actor ConsoleSink {
    enum Stream: Sendable { case stdout, stderr }

    private let console: FileHandle
    private let stdout: FileHandle
    private let echo: Bool
    private var pending: [Stream: [UInt8]] = [:]
    /// When the console first showed a kernel oops, BUG, panic or hung task
    /// (``ConsoleScanner/endsTheRun(_:)``).
    private(set) var crashSeen: ContinuousClock.Instant?
    /// A line longer than this is written in pieces.
    private static let maxLine = 1 << 20

    init(consolePath: String, stdoutPath: String, echo: Bool) throws {
        for path in [consolePath, stdoutPath] {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw UsageProblem("cannot create \(path); give a writable --results directory")
            }
        }
        console = try FileHandle(forWritingTo: URL(fileURLWithPath: consolePath))
        stdout = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        self.echo = echo
    }

    func append(_ bytes: [UInt8], from stream: Stream) {
        if stream == .stdout { stdout.write(Data(bytes)) }
        var buffer = pending[stream, default: []]
        buffer += bytes
        var start = 0
        while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            write(buffer[start...newline])
            start = newline + 1
        }
        if buffer.count - start > Self.maxLine {
            write(buffer[start...] + [UInt8(ascii: "\n")])
            start = buffer.count
        }
        pending[stream] = Array(buffer[start...])
    }

    /// Writes what is left of unfinished lines, and closes the files.
    func finish() {
        for stream in [Stream.stdout, .stderr] {
            if let rest = pending[stream], !rest.isEmpty { write(rest[...] + [UInt8(ascii: "\n")]) }
        }
        pending = [:]
        try? console.close()
        try? stdout.close()
    }

    private func write(_ line: ArraySlice<UInt8>) {
        let data = Data(line)
        if crashSeen == nil, let message = ConsoleScanner.kernelMessage(in: String(decoding: line, as: UTF8.self)),
           ConsoleScanner.endsTheRun(message) {
            crashSeen = .now
        }
        console.write(data)
        if echo { FileHandle.standardError.write(data) }
    }
}

/// While the VM runs, SIGINT and SIGTERM sent to the checker stop the VM's process group (vng
/// runs in a session of its own, so the terminal's Ctrl-C does not reach it): SIGTERM, then
/// SIGKILL 5 s later. The run then ends as `interrupted`, its reports are written, and the
/// checker exits with the shell's status for the signal (128 + signal). Several VMs at once (a
/// pool) each forward to their own group; the default actions come back when the last one ends,
/// so a Ctrl-C after the first guest finished still stops the others rather than the checker.
final class SignalForwarding: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let lock = NSLock()
    private var caught: Int32?
    /// Forwardings alive in this process.
    nonisolated(unsafe) private static var active = 0
    private static let activeLock = NSLock()

    /// The signal that stopped the VM, if one did.
    var received: Int32? { lock.withLock { caught } }

    init(processGroup: pid_t) {
        Self.activeLock.withLock { Self.active += 1 }
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for (source, number) in zip(sources, [SIGINT, SIGTERM]) {
            source.setEventHandler { [self] in
                lock.withLock { if caught == nil { caught = number } }
                FileHandle.standardError.write(Data("checker vm: interrupted; stopping the VM\n".utf8))
                kill(-processGroup, SIGTERM)
                DispatchQueue.global().asyncAfter(deadline: .now() + 5) { kill(-processGroup, SIGKILL) }
            }
            source.resume()
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
        Self.activeLock.withLock {
            Self.active -= 1
            if Self.active == 0 {
                signal(SIGINT, SIG_DFL)
                signal(SIGTERM, SIG_DFL)
            }
        }
    }
}
