import Foundation
import Generators
import Model

/// Where a run writes its results: summary.json, ktap.txt, progress.txt and cases/.
/// It never overwrites: a directory that already holds a summary is refused.
struct ResultsDirectory {
    let url: URL

    init(creating path: String) throws {
        url = URL(fileURLWithPath: path, isDirectory: true)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("summary.json").path) {
            throw UsageProblem("\(path) already holds a summary.json; give a new --results directory")
        }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw UsageProblem("cannot create \(path): \(error.localizedDescription); give a writable --results directory")
        }
    }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ text: String, to name: String) throws {
        try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Writes a C reproducer next to its case file (`cases/<stem>.c`); returns its path.
    func writeReproducer(_ source: String, besideCase caseFile: String) throws -> String {
        let path = URL(fileURLWithPath: caseFile).deletingPathExtension().appendingPathExtension("c").path
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Copies a case file into cases/ under a name not taken yet; returns the new path, or the
    /// old one when the file is gone (the report keeps pointing at where it was).
    func copyCase(from path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else { return path }
        let folder = url.appendingPathComponent("cases", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let source = URL(fileURLWithPath: path)
        let stem = source.deletingPathExtension().lastPathComponent
        var target = folder.appendingPathComponent(source.lastPathComponent)
        var suffix = 2
        while FileManager.default.fileExists(atPath: target.path) {
            target = folder.appendingPathComponent("\(stem)-\(suffix).\(source.pathExtension)")
            suffix += 1
        }
        try FileManager.default.copyItem(at: source, to: target)
        return target.path
    }

    /// Writes the minimal case of a divergence as a case file; returns its path.
    func writeCase<Model>(_ finding: DivergenceFinding<Model>, target: String, profile: String, system: String) throws -> String {
        let folder = url.appendingPathComponent("cases", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stem = Self.caseStem(finding)
        var file = folder.appendingPathComponent(stem + ".jsonl")
        var suffix = 2
        while FileManager.default.fileExists(atPath: file.path) {
            file = folder.appendingPathComponent("\(stem)-\(suffix).jsonl")
            suffix += 1
        }
        try Self.caseText(finding, target: target, profile: profile, system: system).write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// A case file's name without extension: `seed5-sendto-result`.
    static func caseStem<Model>(_ finding: DivergenceFinding<Model>) -> String {
        "seed\(finding.seed)-\(finding.signature.operationKind)-\(finding.signature.mismatch.rawValue)"
    }

    /// The case file of a divergence's minimal case, as text.
    static func caseText<Model>(_ finding: DivergenceFinding<Model>, target: String, profile: String, system: String) throws -> String {
        try CaseFile<Model.Operation, Model.Observation>(
            header: .init(target: target, profile: profile, seed: finding.seed, signature: finding.signature, system: system),
            steps: finding.minimal.map { .init(op: $0.0, observed: $0.1) }).encoded()
    }
}

/// The operation about to run, kept in a file on the shared filesystem so that a guest that
/// dies mid-operation still tells which operation it was.
///
/// One `pwrite` of a fixed-size record per operation: the line, padded with spaces to
/// ``recordSize``. Each write to the shared folder is a 9p round trip to the host; a `ftruncate`
/// after each write (to cut a longer previous line) cost 2 ms more per operation under TCG,
/// measured in the test VM, four times the write itself. Readers trim the padding.
struct ProgressFile {
    static let recordSize = 512
    private let descriptor: Int32
    private var step = 0

    init(path: String) {
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    }

    mutating func record(_ operation: String) {
        guard descriptor >= 0 else { return }
        step += 1
        _ = Self.record(step: step, operation).withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// `step N: <operation>`, spaces, and a newline: exactly ``recordSize`` bytes.
    static func record(step: Int, _ operation: String) -> [UInt8] {
        var line = Array("step \(step): \(operation)".utf8.prefix(recordSize - 1))
        line += Array(repeating: UInt8(ascii: " "), count: recordSize - 1 - line.count)
        return line + [UInt8(ascii: "\n")]
    }
}
