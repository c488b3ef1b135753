import Foundation

/// Cases handed to a running test VM one at a time, through a folder both sides see (the guest's
/// results folder, shared read-write over 9p): the host writes `case-N.jsonl`, the guest replays
/// it and writes `case-N.done` (its exit status, and `last` when it will take no more), and so on
/// until the host writes `stop`. A crash
/// reproduction's guest runs its candidates this way, so that a candidate that does not crash the
/// kernel costs no boot (``ServingGuest``, `checker replay --serve`).
///
/// Each file appears whole: it is written under another name and renamed (a rename is atomic on
/// the host's filesystem, and the guest's 9p lookup sees the new name or nothing). Measured in the
/// 6.1 test VM under TCG: a file the host renames into the folder is seen by the guest's next
/// poll, and a shell round trip took 210-420 ms (most of it the shell's own forks).
struct CaseQueue {
    let folder: String

    /// How often each side looks for the other's file.
    static let pollInterval: Duration = .milliseconds(20)

    func casePath(_ number: Int) -> String { path("case-\(number).jsonl") }
    func answerPath(_ number: Int) -> String { path("case-\(number).done") }
    var stopPath: String { path("stop") }

    /// Host: hands case `number` over.
    func post(_ text: String, number: Int) throws {
        try Self.publish(text, at: casePath(number))
    }

    /// The guest's answer to a case.
    struct Answer: Equatable {
        /// The replay's exit status.
        var status: Int32
        /// The guest takes no more cases (it could not reset its system) and is ending.
        var last: Bool
    }

    /// Host: the guest's answer to case `number`, once it answered (nil before).
    func answer(_ number: Int) -> Answer? {
        guard let text = try? String(contentsOfFile: answerPath(number), encoding: .utf8) else { return nil }
        let words = text.split(whereSeparator: \.isWhitespace)
        guard let first = words.first, let status = Int32(first) else { return nil }
        return Answer(status: status, last: words.dropFirst().contains("last"))
    }

    /// Host: no more cases; the guest exits.
    func stop() throws {
        try Self.publish("stop\n", at: stopPath)
    }

    /// Guest: waits for case `number`; nil once the host said stop or nothing came within `idle`.
    func waitForCase(_ number: Int, idle: Duration) -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + idle
        let manager = FileManager.default
        while clock.now < deadline {
            if manager.fileExists(atPath: casePath(number)) { return casePath(number) }
            if manager.fileExists(atPath: stopPath) { return nil }
            Thread.sleep(forTimeInterval: Self.pollInterval.seconds)
        }
        return nil
    }

    /// Guest: how case `number`'s replay ended.
    func answer(_ number: Int, _ answer: Answer) throws {
        try Self.publish("\(answer.status)" + (answer.last ? " last" : "") + "\n", at: answerPath(number))
    }

    private func path(_ name: String) -> String { URL(fileURLWithPath: folder).appendingPathComponent(name).path }

    /// Writes under a temporary name, then renames: the reader sees the whole file or none.
    private static func publish(_ text: String, at path: String) throws {
        let temporary = path + ".partial"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }
}
