import Foundation

/// KTAP v1, as kselftest prints it (Documentation/dev-tools/ktap.rst): the version line, the plan,
/// one result line per batch under its stable name, `# ` diagnostic lines before the result they
/// explain, and kselftest's `# Totals:` line.
///
///     KTAP version 1
///     1..3
///     # checker: target vsock, profile mainline, kernel 6.1.0-50-amd64, live kernel, started …
///     ok 1 vsock.mainline.seeds-1-10
///     # vsock.mainline.seeds-11-20: divergence at seed 11, step 2: sendto(…) [sendto/errno]
///     #   expected: …
///     not ok 2 vsock.mainline.seeds-11-20
///     ok 3 vsock.mainline.seeds-21-30 # SKIP no VMCI transport
///     # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
///
/// KTAP v1 has no "inconclusive" directive: an inconclusive batch is `not ok`, preceded by an
/// `# inconclusive: reason` line, and counted as `error` in the totals (kselftest's count for a
/// test that could not decide).
enum KTAPReporter {
    static func render(_ report: CheckReport) -> String {
        var lines = ["KTAP version 1", "1..\(report.batches.count)"]
        lines += diagnostic("checker: target \(report.target), profile \(report.profile), kernel \(report.kernel), "
                            + "\(report.system), started \(report.startedAt)")
        for probe in report.probes {
            if probe.attached {
                lines += diagnostic("probe \(probe.function): \(probe.mechanism)")
            } else {
                lines += diagnostic("probe \(probe.function): not attached (\(probe.mechanism))"
                                    + (probe.reason.map { ": \($0)" } ?? ""))
            }
        }
        for (index, batch) in report.batches.enumerated() {
            lines += batchLines(batch, number: index + 1, report: report)
        }
        lines.append("# Totals: pass:\(report.passed) fail:\(report.failed) xfail:0 xpass:0 "
                     + "skip:\(report.skipped) error:\(report.inconclusive)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The diagnostic lines of one batch, then its result line.
    static func batchLines(_ batch: BatchResult, number: Int, report: CheckReport) -> [String] {
        let name = testName(batch.name)
        var lines: [String] = []
        if batch.operations > 0 {
            lines += diagnostic("\(name): \(batch.operations) operations in \(seconds(batch.durationSeconds)) s")
        }
        if batch.lostEvents > 0 {
            lines += diagnostic("\(name): \(batch.lostEvents) probe events lost")
        }
        for divergence in batch.divergences {
            lines += diagnostic("\(name): divergence at seed \(divergence.seed), step \(divergence.step): "
                                + "\(divergence.operation) [\(divergence.signature)]")
            lines += diagnostic("  expected: \(divergence.expected)")
            lines += diagnostic("  observed: \(divergence.observed)")
            for item in divergence.evidence { lines += diagnostic("  evidence: \(item)") }
            lines += diagnostic("  minimal sequence (\(divergence.minimal.count) operations, "
                                + "\(divergence.shrinkExecutions) shrink executions, reproduced \(divergence.reproduced)"
                                + (divergence.isFlaky ? ", FLAKY: it did not reproduce every time" : "") + "):")
            for (step, operation) in divergence.minimal.enumerated() {
                lines += diagnostic("    \(step + 1) \(operation)")
            }
            if let caseFile = divergence.caseFile { lines += diagnostic("  case: \(caseFile)") }
            if let replay = report.replayCommand(for: divergence) { lines += diagnostic("  replay: \(replay)") }
            if let reproducer = divergence.reproducer {
                lines += diagnostic("  reproducer: cc -o repro \(reproducer) && ./repro   (as root, in the test VM; exit 0 = reproduced)")
            }
        }
        if let crash = batch.crashSignature { lines += diagnostic("signature: \(crash)") }
        for item in batch.diagnostics { lines += diagnostic("  \(item)") }
        switch batch.outcome {
        case .pass:
            lines.append("ok \(number) \(name)")
        case .skip:
            lines.append("ok \(number) \(name) # SKIP" + (batch.reason.map { " " + oneLine($0) } ?? ""))
        case .fail:
            if let reason = batch.reason { lines += diagnostic("fail: \(reason)") }
            lines.append("not ok \(number) \(name)")
        case .inconclusive:
            lines += diagnostic("inconclusive: \(batch.reason ?? "no verdict")")
            lines.append("not ok \(number) \(name)")
        }
        return lines
    }

    /// `# ` lines for a text that may hold line breaks.
    static func diagnostic(_ text: String) -> [String] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { line in
            let trimmed = line.trimmingSuffix(while: \.isWhitespace)
            return trimmed.isEmpty ? "#" : "# " + trimmed
        }
    }

    /// A test name KTAP parsers keep whole: no whitespace, no `#` (which starts a directive).
    static func testName(_ name: String) -> String {
        let cleaned = String(name.map { $0.isWhitespace || $0 == "#" ? "_" : $0 })
        return cleaned.isEmpty ? "unnamed" : cleaned
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: "; ")
    }

    static func seconds(_ value: Double) -> String {
        String(format: "%.3f", value)
    }
}

extension Substring {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> String {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return String(self[startIndex..<end])
    }
}
