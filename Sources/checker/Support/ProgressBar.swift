import Foundation

/// A one-line progress bar on stderr for long runs, drawn only when stderr is a terminal: CI logs
/// and the test VM's console stay quiet (stdout is KTAP either way).
struct ProgressBar {
    let total: Int
    let enabled: Bool
    private let started = Date()
    private var done = 0
    private var divergences = 0
    private var inconclusive = 0

    init(total: Int, enabled: Bool = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb") {
        self.total = total
        self.enabled = enabled
    }

    /// One more seed done.
    mutating func advance(diverged: Bool = false, inconclusive: Bool = false) {
        done += 1
        if diverged { divergences += 1 }
        if inconclusive { self.inconclusive += 1 }
        draw()
    }

    /// The line as it is drawn (without the carriage return).
    var line: String {
        let width = 24
        let filled = total == 0 ? width : width * done / total
        let elapsed = Date().timeIntervalSince(started)
        let remaining = done == 0 ? "" : String(format: ", %.0f s left", elapsed / Double(done) * Double(total - done))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "\(done)/\(total) seeds, \(divergences) diverged, \(inconclusive) inconclusive"
            + String(format: " (%.0f s%@)", elapsed, remaining)
    }

    private func draw() {
        guard enabled else { return }
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (done == total ? "\n" : "")).utf8))
    }
}
