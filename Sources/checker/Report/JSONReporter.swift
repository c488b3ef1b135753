import Foundation

/// The report as JSON (`summary.json`): pretty-printed, keys sorted, so that two runs diff cleanly
/// and `checker vm` can read the guest's summary back.
enum JSONReporter {
    static func render(_ report: CheckReport) -> String {
        var report = report
        report.totals = Totals(report)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // A report holds only strings, numbers, booleans and arrays of them: encoding cannot fail.
        let data = (try? encoder.encode(report)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Reads a `summary.json`; the error names what is wrong with it.
    static func decode(_ text: String) throws -> CheckReport {
        var report = try JSONDecoder().decode(CheckReport.self, from: Data(text.utf8))
        report.totals = nil   // derived: recomputed whenever the report is written again
        return report
    }
}
