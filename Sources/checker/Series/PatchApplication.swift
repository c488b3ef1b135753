import Foundation

/// Applies a series to a source tree the way a developer would with `patch -p1` (fuzz up to 2,
/// like `quilt push`), and replaces each hunk that does not apply with the project's own
/// adaptation of it.
///
/// An adaptation is a diff named `<patch number>-<file name>-hunk<N>.diff` (e.g.
/// `0005-af_vsock.c-hunk8.diff`) in the adaptations folder, made against the tree as it stands
/// after the patch's other hunks applied; it must apply exactly (no fuzz). A rejected hunk
/// without one stops the build with the patch, file and hunk named.
struct PatchApplication {
    /// One hunk that needed help, for the build report.
    struct Note: CustomStringConvertible {
        let patch: String
        let file: String
        let hunk: Int
        /// "fuzz 2" or "adapted by 0005-af_vsock.c-hunk8.diff".
        let how: String
        var description: String { "\(patch): \(file) hunk #\(hunk) \(how)" }
    }

    let tree: String
    let adaptations: String?
    let baseName: String

    /// Applies every patch in order; returns the hunks that needed fuzz or an adaptation.
    func apply(_ series: PatchSeries) throws -> [Note] {
        var notes: [Note] = []
        for patch in series.patches {
            notes += try apply(patch)
        }
        return notes
    }

    /// Applies one more patch of the project's own (a mutant): it must apply without fuzz.
    func applyExactly(_ file: String, what: String) throws {
        let result = try Tools.run("patch", ["-p1", "--forward", "--fuzz=0", "--no-backup-if-mismatch",
                                             "--reject-file=-", "-d", tree, "-i", file])
        guard result.succeeded else {
            throw UsageProblem("\(what) \(file) does not apply exactly to the patched tree (\(result.stdout.split(separator: "\n").last ?? "")); regenerate it against this series")
        }
    }

    private func apply(_ patch: PatchSeries.Patch) throws -> [Note] {
        let result = try Tools.run("patch", ["-p1", "--forward", "--fuzz=2", "--no-backup-if-mismatch",
                                             "--reject-file=-", "-d", tree, "-i", patch.path])
        let outcome = Self.parse(result.stdout)
        if result.status > 1 || !outcome.missingFiles.isEmpty {
            let missing = outcome.missingFiles.first.map { " (\($0) is not in the base)" } ?? ""
            throw UsageProblem("patch \(patch.name) cannot be applied to \(baseName)\(missing): \(result.tail); check --base and the series order")
        }
        var notes = outcome.fuzzed.map { Note(patch: patch.name, file: $0.file, hunk: $0.hunk, how: "applied with fuzz \($0.fuzz)") }
        for failed in outcome.failed {
            let fileName = URL(fileURLWithPath: failed.file).lastPathComponent
            let adaptationName = "\(patch.number)-\(fileName)-hunk\(failed.hunk).diff"
            guard let folder = adaptations, FileManager.default.fileExists(atPath: folder + "/" + adaptationName) else {
                let place = adaptations.map { "\($0)/\(adaptationName)" } ?? "--adaptations DIR/\(adaptationName)"
                throw UsageProblem("patch \(patch.name): hunk #\(failed.hunk) of \(failed.file) does not apply to \(baseName) and no adaptation is given; write \(place) (see series/README.md)")
            }
            let adaptation = folder + "/" + adaptationName
            let applied = try Tools.run("patch", ["-p1", "--forward", "--fuzz=0", "--no-backup-if-mismatch",
                                                  "--reject-file=-", "-d", tree, "-i", adaptation])
            guard applied.succeeded else {
                throw UsageProblem("adaptation \(adaptation) does not apply exactly after \(patch.name) (\(applied.tail)); remake it against the tree after \(patch.name)'s other hunks")
            }
            notes.append(Note(patch: patch.name, file: failed.file, hunk: failed.hunk, how: "adapted by \(adaptationName)"))
        }
        return notes
    }

    struct Outcome: Equatable {
        var failed: [(file: String, hunk: Int)] = []
        var fuzzed: [(file: String, hunk: Int, fuzz: Int)] = []
        var missingFiles: [String] = []

        static func == (lhs: Outcome, rhs: Outcome) -> Bool {
            lhs.failed.map { "\($0.file)#\($0.hunk)" } == rhs.failed.map { "\($0.file)#\($0.hunk)" }
                && lhs.fuzzed.map { "\($0.file)#\($0.hunk)~\($0.fuzz)" } == rhs.fuzzed.map { "\($0.file)#\($0.hunk)~\($0.fuzz)" }
                && lhs.missingFiles == rhs.missingFiles
        }
    }

    /// Reads GNU patch's report: `patching file F`, `Hunk #N FAILED at L.`,
    /// `Hunk #N succeeded at L with fuzz K (offset O lines).`, `can't find file to patch`.
    static func parse(_ output: String) -> Outcome {
        var outcome = Outcome()
        var file = ""
        for line in output.split(separator: "\n").map(String.init) {
            if line.hasPrefix("patching file ") {
                file = String(line.dropFirst("patching file ".count))
            } else if line.hasPrefix("Hunk #"), let hunk = Int(line.dropFirst(6).prefix { $0.isNumber }) {
                if line.contains(" FAILED") {
                    outcome.failed.append((file, hunk))
                } else if let range = line.range(of: "with fuzz "),
                          let fuzz = Int(line[range.upperBound...].prefix { $0.isNumber }) {
                    outcome.fuzzed.append((file, hunk, fuzz))
                }
            } else if line.contains("can't find file to patch") {
                outcome.missingFiles.append(file.isEmpty ? "a file" : file)
            } else if line.hasPrefix("|+++ b/") || line.hasPrefix("+++ b/") {
                file = String(line.split(separator: "/", maxSplits: 1).last ?? "")
            }
        }
        return outcome
    }
}
