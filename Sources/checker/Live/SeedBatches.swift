import Foundation
import Generators
import Model

/// Runs a hunt seed by seed, in batches that become one reported test each, for any target:
/// the outcome of each seed is folded into its batch (a divergence fails it, an untrustworthy
/// observation makes it inconclusive, an absent probe or feature skips it, never a pass), case
/// files are written, and the summary so far is saved after every batch so that a guest that
/// dies later keeps what finished.
struct SeedBatches<Generator: OperationGenerator> {
    typealias Model = Generator.Model

    let hunt: DivergenceHunt<Generator>
    /// `vsock.mainline`, `snp.snp-v8`…: the batch names' prefix.
    let namePrefix: String
    let seeds: [UInt64]
    let batchSize: Int
    let stopAtFirstDivergence: Bool
    /// This job's share of the batches (`--shard I/N`), or all of them.
    let shard: Shard?
    let output: ResultsDirectory?
    /// What the case files' header says.
    let caseTarget: String
    let caseProfile: String
    let caseSystem: String
    /// Where shrunk cases are kept to be run again first next time (``FailureStore``).
    var store: FailureStore? = nil
    /// A standalone C reproducer of a finding, where the target has one (vsock).
    var reproducer: ((DivergenceFinding<Model>) -> String?)? = nil

    var batches: [[UInt64]] { Shard.batches(of: seeds, size: batchSize, for: shard) }

    func name(_ seeds: [UInt64]) -> String { "\(namePrefix).seeds-\(seeds.first!)-\(seeds.last!)" }

    /// Every batch skipped, for a system that could not be set up at all.
    func skipped(_ reason: String, into report: inout CheckReport) {
        report.shard = shard?.description
        for seedBatch in batches {
            report.batches.append(BatchResult(name: name(seedBatch), seeds: seedBatch, operations: 0, outcome: .skip,
                                              reason: reason, durationSeconds: 0, lostEvents: 0, divergences: []))
        }
    }

    /// Runs every batch into `report`; `partial` completes the report before each save.
    func run(on system: some EvidencedSystem<Model>, into report: inout CheckReport, started: Date,
             partial: (inout CheckReport) -> Void = { _ in }) throws {
        report.shard = shard?.description
        var progress = ProgressBar(total: batches.reduce(0) { $0 + $1.count })
        var stopped = false
        for seedBatch in batches where !stopped {
            let batchStart = Date()
            var result = BatchResult(name: name(seedBatch), seeds: seedBatch, operations: 0, outcome: .pass,
                                     reason: nil, durationSeconds: 0, lostEvents: 0, divergences: [])
            var reasons: [String] = []
            var seedsRun: [UInt64] = []
            for seed in seedBatch where !stopped {
                seedsRun.append(seed)
                let outcome = hunt.run(seed: seed, on: system)
                switch outcome {
                case .diverged: progress.advance(diverged: true)
                case .inconclusive: progress.advance(inconclusive: true)
                case .passed, .skipped: progress.advance()
                }
                switch outcome {
                case let .passed(operations):
                    result.operations += operations
                case let .diverged(finding, operations):
                    result.operations += operations
                    result.outcome = .fail
                    var caseFile = try output.map {
                        try $0.writeCase(finding, target: caseTarget, profile: caseProfile, system: caseSystem)
                    }
                    if let caseFile {
                        try store?.save(caseFile, target: caseTarget, profile: caseProfile)
                    } else if let store {
                        // No results folder: the store keeps the case all the same, and the
                        // report points there.
                        let text = try ResultsDirectory.caseText(finding, target: caseTarget, profile: caseProfile, system: caseSystem)
                        caseFile = try store.save(content: Data(text.utf8), stem: ResultsDirectory.caseStem(finding),
                                                  target: caseTarget, profile: caseProfile)
                    }
                    var divergence = DivergenceReport(finding, caseFile: caseFile)
                    if let output, let caseFile, let source = reproducer?(finding) {
                        divergence.reproducer = try output.writeReproducer(source, besideCase: caseFile)
                    }
                    result.divergences.append(divergence)
                    stopped = stopAtFirstDivergence
                case let .inconclusive(reason, operations):
                    result.operations += operations
                    if result.outcome != .fail { result.outcome = .inconclusive }
                    reasons.append("seed \(seed): \(reason)")
                case let .skipped(reason):
                    if result.outcome == .pass { result.outcome = .skip }
                    reasons.append("seed \(seed): \(reason)")
                }
            }
            if seedsRun.count < seedBatch.count {
                result.seeds = seedsRun
                reasons.append("stopped at the first divergence: seeds \(seedsRun.last! + 1)-\(seedBatch.last!) not run")
            }
            result.reason = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
            result.durationSeconds = Date().timeIntervalSince(batchStart)
            report.batches.append(result)
            // The batches so far, on disk: a guest kernel that crashes later (the checker dies
            // with it) does not take the finished batches' results along.
            if let output {
                var saved = report
                saved.durationSeconds = Date().timeIntervalSince(started)
                partial(&saved)
                try output.write(JSONReporter.render(saved), to: "summary.json")
            }
        }
    }
}
