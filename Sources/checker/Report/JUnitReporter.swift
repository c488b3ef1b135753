import Foundation

/// JUnit XML for CI dashboards (Jenkins, GitLab, GitHub test reporters): one `<testsuite>` per
/// report named `target.profile`, one `<testcase>` per batch under its stable name.
/// - fail → `<failure message="…" type="divergence">` with every divergence's details as text;
/// - skip → `<skipped message="…"/>`;
/// - inconclusive → `<error message="inconclusive: …" type="inconclusive">` (not a pass, not a
///   divergence: JUnit's "error").
enum JUnitReporter {
    static func render(_ report: CheckReport) -> String {
        let suite = "\(report.target).\(report.profile)"
        let counts = "tests=\"\(report.batches.count)\" failures=\"\(report.failed)\" "
            + "errors=\"\(report.inconclusive)\" skipped=\"\(report.skipped)\" "
            + "time=\"\(KTAPReporter.seconds(report.durationSeconds))\""
        var lines = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            "<testsuites name=\"checker\" \(counts)>",
            "  <testsuite name=\"\(escape(suite))\" \(counts) timestamp=\"\(escape(report.startedAt))\">",
            "    <properties>",
        ]
        var properties = [("target", report.target), ("profile", report.profile), ("kernel", report.kernel),
                          ("system", report.system)]
        for probe in report.probes {
            properties.append(("probe.\(probe.function)", probe.attached
                ? probe.mechanism
                : "not attached (\(probe.mechanism))" + (probe.reason.map { ": \($0)" } ?? "")))
        }
        for (name, value) in properties {
            lines.append("      <property name=\"\(escape(name))\" value=\"\(escape(value))\"/>")
        }
        lines.append("    </properties>")
        for batch in report.batches {
            lines += testcase(batch, suite: suite, report: report)
        }
        lines.append("  </testsuite>")
        lines.append("</testsuites>")
        return lines.joined(separator: "\n") + "\n"
    }

    static func testcase(_ batch: BatchResult, suite: String, report: CheckReport) -> [String] {
        let open = "    <testcase name=\"\(escape(batch.name))\" classname=\"\(escape(suite))\" "
            + "time=\"\(KTAPReporter.seconds(batch.durationSeconds))\""
        switch batch.outcome {
        case .pass:
            return [open + "/>"]
        case .skip:
            return [open + ">",
                    "      <skipped message=\"\(escape(batch.reason ?? "skipped"))\"/>",
                    "    </testcase>"]
        case .fail:
            let message: String
            if let first = batch.divergences.first {
                message = "divergence at seed \(first.seed), step \(first.step): \(first.operation) [\(first.signature)]"
                    + (batch.divergences.count > 1 ? " (and \(batch.divergences.count - 1) more)" : "")
            } else {
                message = batch.reason ?? "failed"
            }
            return [open + ">",
                    "      <failure message=\"\(escape(message))\" type=\"divergence\">\(escape(details(batch, report: report), attribute: false))</failure>",
                    "    </testcase>"]
        case .inconclusive:
            return [open + ">",
                    "      <error message=\"\(escape("inconclusive: " + (batch.reason ?? "no verdict")))\" type=\"inconclusive\">"
                        + "\(escape(details(batch, report: report), attribute: false))</error>",
                    "    </testcase>"]
        }
    }

    /// The failure text: the same lines KTAP prints as diagnostics, without the `# `.
    static func details(_ batch: BatchResult, report: CheckReport) -> String {
        var lines: [String] = []
        if let reason = batch.reason { lines.append(reason) }
        if let crash = batch.crashSignature { lines.append("signature: \(crash)") }
        if batch.lostEvents > 0 { lines.append("\(batch.lostEvents) probe events lost") }
        for divergence in batch.divergences {
            lines.append("divergence at seed \(divergence.seed), step \(divergence.step): \(divergence.operation) [\(divergence.signature)]")
            lines.append("  expected: \(divergence.expected)")
            lines.append("  observed: \(divergence.observed)")
            lines += divergence.evidence.map { "  evidence: \($0)" }
            lines.append("  minimal sequence (\(divergence.minimal.count) operations, \(divergence.shrinkExecutions) "
                         + "shrink executions, reproduced \(divergence.reproduced)):")
            lines += divergence.minimal.enumerated().map { "    \($0.offset + 1) \($0.element)" }
            if let caseFile = divergence.caseFile { lines.append("  case: \(caseFile)") }
            if let replay = report.replayCommand(for: divergence) { lines.append("  replay: \(replay)") }
        }
        lines += batch.diagnostics
        return lines.isEmpty ? "" : "\n" + lines.joined(separator: "\n") + "\n      "
    }

    /// Text safe inside an XML attribute or element: the five entities escaped; characters XML 1.0
    /// forbids (control characters other than tab, line feed, carriage return) dropped. In
    /// attributes, line breaks and tabs become character references (a parser would otherwise
    /// normalise them to spaces).
    static func escape(_ text: String, attribute: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n", "\t", "\r":
                if attribute { out += "&#\(scalar.value);" } else { out.unicodeScalars.append(scalar) }
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                continue
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
