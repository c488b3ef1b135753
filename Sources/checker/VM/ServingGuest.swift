import Foundation

/// A test VM that replays cases live as the host hands them over (``CaseQueue``; the guest runs
/// `checker replay --serve`), until its kernel crashes or the host shuts it down. syz-repro runs
/// its candidates this way: a candidate that does not crash the kernel costs its own run, not a
/// boot (12-20 s under TCG).
///
/// A case runs after the ones before it in the same guest, from a reset system (sockets closed,
/// transports unloaded; a guest whose reset fails stops serving and the next case gets a fresh
/// one), but the kernel is not fresh: a crash could need what an earlier case left behind. Crash
/// reproduction accepts such a crash as syz-repro does, and runs its minimal case in fresh guests
/// at the end, which shows it.
final class ServingGuest {
    /// How a case handed to the guest ended.
    enum Answer {
        /// The case ran to its end: the replay's exit status (0 agreed, 1 diverged, 4 skipped),
        /// and whether the guest takes more cases.
        case finished(CaseQueue.Answer)
        /// The guest ended while the case ran: its kernel crashed, or the case ran past its
        /// bound and the VM was killed. What the host made of the guest (its console scanned).
        case ended(VMSession.Conclusion)
    }

    let folder: String
    /// Cases handed over so far.
    private(set) var served = 0
    private let session: VMSession
    private let queue: CaseQueue
    private let stopRequest = VMRunner.StopRequest()
    private let ending = Ending()
    private let clock = ContinuousClock()

    /// Boots `prepared` (a session whose guest runs `replay --serve <its folder>/queue …`) in
    /// the background. `backstop`: the whole guest's timeout, for a host that never says stop.
    init(_ prepared: VMSession, queueFolder: String, backstop: Duration) throws {
        var session = prepared
        session.stopRequest = stopRequest
        session.timeoutSeconds = max(session.timeoutSeconds, Int(backstop.seconds))
        self.session = session
        folder = session.folder
        queue = CaseQueue(folder: queueFolder)
        try FileManager.default.createDirectory(atPath: queueFolder, withIntermediateDirectories: true)
        let booting = session
        let ending = self.ending
        Task.detached {
            let outcome: Result<VMRunner.Outcome, any Error>
            do { outcome = .success(try await booting.boot()) } catch { outcome = .failure(error) }
            ending.set(outcome)
        }
    }

    /// The guest's queue folder inside its results folder (`queue/`).
    static func queueFolder(in folder: String) -> String {
        URL(fileURLWithPath: folder).appendingPathComponent("queue").path
    }

    /// Hands `caseText` (a case file) to the guest and waits until it answers, its VM ends, or
    /// `bound` has passed (then the VM is killed: a case that hangs the kernel ends as a hung
    /// guest, with whatever its console shows). A guest that exits on its own before it answered
    /// is the checker's problem, not the kernel's: an error naming its console.
    func replay(_ caseText: String, within bound: Duration) throws -> Answer {
        served += 1
        try queue.post(caseText, number: served)
        let deadline = clock.now + bound
        while true {
            if let answer = queue.answer(served) {
                if answer.last { shutDown() }
                return .finished(answer)
            }
            if let outcome = ending.outcome {
                let ended = try outcome.get()
                let conclusion = try session.conclude(ended)
                if conclusion.report?.crashSignature == nil, case .exited = ended.ending {
                    throw GuestProblem(description: "the test VM ended before it answered case \(served) "
                                       + "(\(VMSession.describe(ended.ending))); see \(session.file("console.log"))")
                }
                return .ended(conclusion)
            }
            if clock.now > deadline { stopRequest.request() }
            Thread.sleep(forTimeInterval: CaseQueue.pollInterval.seconds)
        }
    }

    /// Whether the guest takes more cases.
    var isServing: Bool { ending.outcome == nil && stopping == false }
    private var stopping = false

    /// Tells the guest to stop and waits for its VM to end (killing it after 30 s).
    func shutDown() {
        guard ending.outcome == nil else { return }
        stopping = true
        try? queue.stop()
        let deadline = clock.now + .seconds(30)
        while ending.outcome == nil {
            if clock.now > deadline { stopRequest.request() }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    struct GuestProblem: Error, CustomStringConvertible {
        var description: String
    }

    /// How the background boot ended, set once.
    private final class Ending: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Result<VMRunner.Outcome, any Error>?

        var outcome: Result<VMRunner.Outcome, any Error>? { lock.withLock { value } }

        func set(_ outcome: Result<VMRunner.Outcome, any Error>) { lock.withLock { value = outcome } }
    }
}
