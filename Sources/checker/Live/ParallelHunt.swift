import Foundation
import Generators
import Model

/// One seed's parallel case against a system: drawn, run R times (races are probabilistic),
/// shrunk when some run's history no order explains, and run again.
struct ParallelHunt {
    let model: VsockModel
    let shape: ParallelShape
    /// Runs of each case (and of each shrink candidate, which counts when one of them fails).
    let repeats: Int
    let maxShrinkExecutions: Int
    let shrinkTime: Duration
    /// Runs of the minimal case before it is reported.
    let reproductions: Int
    /// Model steps the linearizability search may take per history.
    let searchBudget: Int
    /// Called with each case before each run of it (the journal a crashed guest leaves).
    var willRun: (VsockParallelCase, UInt64) -> Void = { _, _ in }

    enum Outcome {
        case passed(Tally)
        case diverged(Finding, Tally)
        /// A divergence in the sequential prefix: an ordinary one (sequential seeds shrink those).
        case prefixDiverged(seed: UInt64, VsockParallelCase, Execution<VsockModel>, Tally)
        case inconclusive(String, Tally)
        case skipped(String)
    }

    /// What a seed ran: cases' runs, operations, and the longest search.
    struct Tally {
        var runs = 0
        var operations = 0
        var threadOperations = 0
        var maxSearchSteps = 0
        var notLinearizable = 0
        /// Thread operations whose call overlapped a call of another thread: how much the
        /// barrier achieved (on one CPU, or with slow threads, little would overlap).
        var overlapping = 0

        mutating func add(_ run: VsockParallelRun) {
            runs += 1
            operations += run.operations
            threadOperations += run.history.entries.count
            let entries = run.history.entries
            overlapping += entries.filter { entry in entries.contains(where: entry.overlaps) }.count
            maxSearchSteps = max(maxSearchSteps, run.searchSteps)
            if run.verdict.isNotLinearizable { notLinearizable += 1 }
        }

        mutating func add(_ other: Tally) {
            runs += other.runs
            operations += other.operations
            threadOperations += other.threadOperations
            maxSearchSteps = max(maxSearchSteps, other.maxSearchSteps)
            notLinearizable += other.notLinearizable
            overlapping += other.overlapping
        }
    }

    struct Finding {
        let seed: UInt64
        let original: VsockParallelCase
        /// How many of the original case's runs no order explained.
        let failedRuns: Int
        let minimal: VsockParallelCase
        /// The report of the minimal case's last failing run (or the original's, if it never failed again).
        let report: [String]
        let shrinkExecutions: Int
        let shrinkExit: ShrinkExitReason
        let reproduced: Int
        let attempts: Int
    }

    func run(seed: UInt64, on system: LiveVsockSystem) -> Outcome {
        let parallelCase = VsockParallelGenerator(model: model)
            .draw(seed: seed, prefixLength: shape.prefixOperations, threads: shape.threads, operationsPerThread: shape.threadOperations)
        var tally = Tally()
        // One run of a case: journaled first (a crash leaves it), counted after.
        func runOnce(_ candidate: VsockParallelCase) throws -> VsockParallelRun {
            willRun(candidate, seed)
            let run = try VsockParallelRun.run(candidate, model: model, system: system, budget: searchBudget)
            tally.add(run)
            return run
        }
        do {
            var failures: [[String]] = []
            var undecided: String?
            for _ in 0..<repeats {
                let run = try runOnce(parallelCase)
                switch run.verdict {
                case .prefixDiverged:
                    return .prefixDiverged(seed: seed, parallelCase, run.prefix, tally)
                case .linearizable: continue
                case let .notLinearizable(report): failures.append(report)
                case let .inconclusive(reason): undecided = reason
                }
            }
            guard let firstReport = failures.first else {
                return undecided.map { .inconclusive($0, tally) } ?? .passed(tally)
            }
            var lastReport = firstReport
            let shrinker = VsockParallelShrinker(model: model, maxExecutions: maxShrinkExecutions, timeLimit: shrinkTime)
            let shrunk = try shrinker.shrink(parallelCase) { candidate in
                for _ in 0..<repeats {
                    if case let .notLinearizable(report) = try runOnce(candidate).verdict {
                        lastReport = report
                        return true
                    }
                }
                return false
            }
            var reproduced = 0
            let attempts = max(reproductions, repeats)
            for _ in 0..<attempts {
                if case let .notLinearizable(report) = try runOnce(shrunk.minimal).verdict {
                    reproduced += 1
                    lastReport = report
                }
            }
            return .diverged(Finding(seed: seed, original: parallelCase, failedRuns: failures.count, minimal: shrunk.minimal,
                                     report: lastReport, shrinkExecutions: shrunk.executions, shrinkExit: shrunk.exitReason,
                                     reproduced: reproduced, attempts: attempts), tally)
        } catch let SystemError.unavailable(reason) {
            return .skipped(reason)
        } catch let SystemError.unreliable(reason) {
            return .inconclusive(reason, tally)
        } catch {
            return .inconclusive("\(error)", tally)
        }
    }
}

/// How parallel cases are drawn: prefix length, threads, operations per thread.
struct ParallelShape: Hashable {
    var prefixOperations: Int
    var threads: Int
    var threadOperations: Int
}

extension DivergenceReport {
    /// The report entry for a parallel case no order explains.
    init(_ finding: ParallelHunt.Finding, caseFile: String?, repeats: Int) {
        let signature = DivergenceSignature(operationKind: "parallel", mismatch: .linearizability)
        var evidence = ["the original case: \(finding.failedRuns) of \(repeats) runs not linearizable"] + finding.report
        if finding.shrinkExit != .fixpoint {
            evidence.append("shrinking stopped at its \(finding.shrinkExit.rawValue): the case may not be minimal")
        }
        self.init(seed: finding.seed, signature: signature.description, step: finding.minimal.prefix.count + 1,
                  operation: "the parallel section (\(finding.minimal.threads.count) threads)",
                  expected: finding.report.first { $0.contains("the model allows there") || $0.hasPrefix("every operation fits") }?
                    .trimmingCharacters(in: .whitespaces) ?? "an order of the operations the model allows",
                  observed: finding.report.first { $0.hasPrefix("next, ") } ?? "no such order",
                  evidence: evidence, minimal: finding.minimal.description.split(separator: "\n").map(String.init),
                  caseFile: caseFile, shrinkExecutions: finding.shrinkExecutions,
                  reproduced: "\(finding.reproduced)/\(finding.attempts)")
    }
}
