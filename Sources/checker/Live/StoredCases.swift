import Foundation
import Generators
import Model

/// The failure store's cases of one target and profile, run again before the generated seeds:
/// one reported test, `<target>.<profile>.stored`. It fails when a stored divergence shows
/// again (with the case's minimal sequence and evidence), passes when every case now agrees
/// (each reported fixed and moved to `fixed/`), and is absent when nothing is stored.
///
/// A case that crashed the kernel (its header names the crash) is not run here: it would end the
/// guest, and the run with it. `checker series` runs those in a test VM of their own first
/// (``StoredCrashes``).
struct StoredCases<Model: ReferenceModel> {
    let store: FailureStore
    let target: String
    let profile: String
    let model: Model

    func replay(on system: some EvidencedSystem<Model>) -> BatchResult? {
        let cases = store.cases(target: target, profile: profile)
        guard !cases.isEmpty else { return nil }
        let started = Date()
        var result = BatchResult(name: "\(target).\(profile).stored", seeds: [], operations: 0, outcome: .pass,
                                 reason: nil, durationSeconds: 0, lostEvents: 0, divergences: [])
        var notes: [String] = []
        var run = 0
        for path in cases {
            let name = URL(fileURLWithPath: path).lastPathComponent
            do {
                let caseFile = try CaseFile<Model.Operation, Model.Observation>(decoding: String(contentsOfFile: path, encoding: .utf8))
                if let crash = caseFile.header.crash {
                    notes.append("\(name) crashes the kernel (\(crash)): not run here; checker series runs it in a test VM of its own")
                    continue
                }
                run += 1
                let execution = try Execution.run(caseFile.steps.map(\.op), model: model, system: system)
                result.operations += execution.steps.count
                guard let divergence = execution.divergence else {
                    let moved = try store.markFixed(path)
                    notes.append("fixed: \(name) no longer diverges (moved to \(moved))")
                    continue
                }
                let record = execution.steps[divergence.step]
                result.outcome = .fail
                result.divergences.append(DivergenceReport(
                    seed: caseFile.header.seed ?? 0, signature: divergence.signature.description, step: divergence.step + 1,
                    operation: record.operation.description, expected: record.expectation.description,
                    observed: record.observation.description,
                    evidence: system.lastEvidence + (caseFile.header.signature == divergence.signature ? []
                        : ["stored as \(caseFile.header.signature?.description ?? "a case without a divergence"), now a different divergence"]),
                    minimal: execution.steps.map { "\($0.operation)  →  \($0.observation)" },
                    caseFile: path, shrinkExecutions: 0, reproduced: "1/1"))
            } catch let error as SystemError {
                if result.outcome == .pass { result.outcome = error.isUnavailable ? .skip : .inconclusive }
                notes.append("\(name): \(error)")
            } catch {
                if result.outcome == .pass { result.outcome = .inconclusive }
                notes.append("\(name): cannot be run: \(error)")
            }
        }
        // Only crash cases: nothing was checked here, which is not a pass.
        if run == 0, result.outcome == .pass { result.outcome = .skip }
        result.reason = notes.isEmpty ? nil : notes.joined(separator: "; ")
        result.durationSeconds = Date().timeIntervalSince(started)
        return result
    }
}

extension SystemError {
    var isUnavailable: Bool { if case .unavailable = self { return true } else { return false } }
}
