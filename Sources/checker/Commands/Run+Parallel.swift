import Foundation
import Generators
import Model

extension Run {
    /// `--parallel`: parallel cases against the live kernel, batch by batch (one KTAP test each),
    /// every history checked for linearizability.
    func runVsockParallel(_ profile: VsockProfile, output: ResultsDirectory?, started: Date) throws {
        let options = parallelOptions
        let model = VsockModel(profile: profile)
        var hunt = ParallelHunt(model: model, shape: options.shape, repeats: options.repeats,
                                maxShrinkExecutions: shrinkExecutions, shrinkTime: .seconds(shrinkSeconds),
                                reproductions: reproductions, searchBudget: options.searchBudget)
        if let output {
            // The case under way, on the shared folder before each run: a guest whose kernel
            // crashes leaves it (the host's vm.guest report names it).
            let journal = output.file(ExecutionJournal.parallelFileName)
            hunt.willRun = { parallelCase, seed in
                let text = try? parallelCase.caseFile(profile: profile.name, seed: seed, signature: nil,
                                                      system: "live kernel \(GuestEnvironment.kernelRelease)").encoded()
                try? text?.write(toFile: journal, atomically: false, encoding: .utf8)
            }
        }
        let systemName = "live kernel \(GuestEnvironment.kernelRelease)" + (modules.map { " with modules from \($0)" } ?? "")
        var report = CheckReport(target: "vsock", profile: profile.name, kernel: GuestEnvironment.kernelRelease,
                                 system: systemName + ", \(options.threads) threads in parallel",
                                 startedAt: ISO8601DateFormatter().string(from: started), durationSeconds: 0)
        let batches = Shard.batches(of: allSeeds, size: batch, for: shard)
        report.shard = shard?.description
        func name(_ seeds: [UInt64]) -> String { "vsock.\(profile.name).parallel.seeds-\(seeds.first!)-\(seeds.last!)" }
        let system: LiveVsockSystem
        do {
            system = try LiveVsockSystem(transports: VsockOperationGenerator().modules, replacements: modules)
        } catch let error as SystemError {
            for seeds in batches {
                report.batches.append(BatchResult(name: name(seeds), seeds: seeds, operations: 0, outcome: .skip,
                                                  reason: "\(error)", durationSeconds: 0, lostEvents: 0, divergences: []))
            }
            return try report.finish(started: started, output: output)
        }
        var progress = ProgressBar(total: batches.reduce(0) { $0 + $1.count })
        var stopped = false
        for seeds in batches where !stopped {
            let batchStart = Date()
            var result = BatchResult(name: name(seeds), seeds: seeds, operations: 0, outcome: .pass, reason: nil,
                                     durationSeconds: 0, lostEvents: 0, divergences: [])
            var reasons: [String] = []
            var total = ParallelHunt.Tally()
            for seed in seeds where !stopped {
                let outcome = hunt.run(seed: seed, on: system)
                var tally = ParallelHunt.Tally()
                switch outcome {
                case let .passed(ran):
                    tally = ran
                    progress.advance()
                case let .diverged(finding, ran):
                    tally = ran
                    progress.advance(diverged: true)
                    result.outcome = .fail
                    let caseFile = try output.map { output -> String in
                        let stem = "seed-\(seed)-parallel-not-linearizable"
                        let text = try finding.minimal.caseFile(
                            profile: profile.name, seed: seed,
                            signature: DivergenceSignature(operationKind: "parallel", mismatch: .linearizability),
                            system: systemName).encoded()
                        try FileManager.default.createDirectory(atPath: output.file("cases"), withIntermediateDirectories: true)
                        try output.write(text, to: "cases/\(stem).jsonl")
                        return output.file("cases/\(stem).jsonl")
                    }
                    result.divergences.append(DivergenceReport(finding, caseFile: caseFile, repeats: options.repeats))
                    stopped = stopAtFirstDivergence
                case let .prefixDiverged(seed, parallelCase, prefix, ran):
                    tally = ran
                    progress.advance(diverged: true)
                    result.outcome = .fail
                    let divergence = prefix.divergence!
                    let step = prefix.steps[divergence.step]
                    result.divergences.append(DivergenceReport(
                        seed: seed, signature: divergence.signature.description, step: divergence.step + 1,
                        operation: step.operation.description, expected: step.expectation.description,
                        observed: step.observation.description,
                        evidence: ["in the sequential prefix of parallel case \(seed) (not shrunk here: 'checker run' without --parallel shrinks such divergences)"],
                        minimal: parallelCase.prefix.prefix(divergence.step + 1).map(\.description),
                        caseFile: nil, shrinkExecutions: 0, reproduced: "1/1"))
                    stopped = stopAtFirstDivergence
                case let .inconclusive(reason, ran):
                    tally = ran
                    progress.advance(inconclusive: true)
                    if result.outcome != .fail { result.outcome = .inconclusive }
                    reasons.append("seed \(seed): \(reason)")
                case let .skipped(reason):
                    progress.advance()
                    if result.outcome == .pass { result.outcome = .skip }
                    reasons.append("seed \(seed): \(reason)")
                }
                result.operations += tally.operations
                total.add(tally)
            }
            result.reason = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
            result.diagnostics = ["\(seeds.count) parallel cases, \(total.runs) runs (\(options.repeats) a case, shrinking included), "
                                  + "\(total.threadOperations) thread operations (\(total.overlapping) overlapped another thread's), "
                                  + "\(total.notLinearizable) histories not linearizable, "
                                  + "longest linearizability search \(total.maxSearchSteps) model steps"]
            result.durationSeconds = Date().timeIntervalSince(batchStart)
            report.batches.append(result)
            if let output {
                var saved = report
                saved.durationSeconds = Date().timeIntervalSince(started)
                try output.write(JSONReporter.render(saved), to: "summary.json")
            }
        }
        try finishLive(&report, system: system, started: started, output: output)
    }
}
