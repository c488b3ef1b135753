import Foundation

extension CheckReport {
    /// Ends a check: prints KTAP and the closing line, writes summary.json and ktap.txt into
    /// `output`, and exits with `status` (the report's own ``exitStatus`` unless a command
    /// judges differently, as `trace` does).
    func finish(started: Date, output: ResultsDirectory?, status: ((CheckReport) -> ExitStatus)? = nil) throws {
        var report = self
        report.durationSeconds = Date().timeIntervalSince(started)
        let ktap = KTAPReporter.render(report)
        print(ktap, terminator: "")
        if let output {
            try output.write(JSONReporter.render(report), to: "summary.json")
            try output.write(ktap, to: "ktap.txt")
        }
        print(report.closingLine)
        let exit = status?(report) ?? report.exitStatus
        if exit != .pass { throw exit.exitCode }
    }
}
