import Foundation
import Generators
import Model
import TestDoubles

/// `checker bench --target snp`: the patch-logic harness's operations per second and the SNP
/// model's steps per second, measured in one run on the same operation sequences.
///
/// The sequences are drawn once (against the simulated intent host, so none stops early at a
/// divergence), then (1) executed on the harness compiled from the patch — setup operations and
/// `sev_update_mem_attr` calls through the shim, RMP callbacks included — and (2) the harness's
/// observations judged by the model (`expect` + `judge`), and (3) executed on the same harness in
/// its sandboxed child process, as `run` and `replay` do. The ratios say whether judging or
/// running dominates a check, and what the child process costs.
struct SNPBench {
    let harness: SNPHarnessSystem
    let sandboxed: SandboxedHarness<SNPModel>
    let seconds: Double
    let sequences = 64
    let operations = 30

    func run() throws {
        let model = SNPModel()
        let runner = Runner(model: model, generator: SNPOperationGenerator())
        var sequences: [[SNPOperation]] = []
        for seed in UInt64(1)...UInt64(self.sequences) {
            let run = try runner.run(RunConfiguration(seed: seed, operations: operations), against: SimulatedSNPHost())
            sequences.append(run.execution.operations)
        }
        let clock = ContinuousClock()

        // The harness: every operation of every sequence, from a reset world each time.
        var traces: [[(SNPOperation, SNPObservation)]] = []
        var executed = 0
        let start = clock.now
        while clock.now - start < .seconds(seconds) || traces.count < sequences.count {
            for sequence in sequences {
                harness.reset()
                var trace: [(SNPOperation, SNPObservation)] = []
                for operation in sequence { trace.append((operation, try harness.execute(operation))) }
                executed += sequence.count
                if traces.count < sequences.count { traces.append(trace) }
            }
        }
        let harnessSeconds = (clock.now - start) / .seconds(1)
        let harnessRate = Double(executed) / harnessSeconds

        // The model: the harness's observations, judged.
        let measured = ModelThroughput(model: model, traces: traces).measure(seconds: seconds)
        let (steps, divergences, modelSeconds, modelRate) = (measured.steps, measured.divergences, measured.seconds, measured.rate)
        let conversions = traces.joined().filter { $0.0.kind == .convert }.count
        print("snp harness: \(Int(harnessRate)) operations/s (\(executed) operations, \(conversions * executed / max(1, traces.joined().count)) sev_update_mem_attr calls, in \(String(format: "%.2f", harnessSeconds)) s; \(harness.name))")
        print("snp model: \(Int(modelRate)) steps/s (\(steps) steps in \(String(format: "%.2f", modelSeconds)) s, \(divergences) divergent verdicts on the seed's observations)")
        print("snp: model steps per harness operation: ratio \(String(format: "%.2f", modelRate / harnessRate)) (goal ≥ 1: judging is never the bottleneck)")

        // The sandbox: the same sequences through the child's pipe, every observation as JSON.
        var sandboxedExecuted = 0
        let sandboxStart = clock.now
        while clock.now - sandboxStart < .seconds(seconds) || sandboxedExecuted < executed / max(1, traces.count) {
            for (index, sequence) in sequences.enumerated() {
                try sandboxed.reset()
                for (position, operation) in sequence.enumerated() {
                    let observation = try sandboxed.execute(operation)
                    guard observation == traces[index][position].1 else {
                        throw SystemError.unavailable("the sandboxed harness observed \(observation) where the loaded one observed \(traces[index][position].1) (\(operation))")
                    }
                }
                sandboxedExecuted += sequence.count
            }
        }
        let sandboxRate = Double(sandboxedExecuted) / ((clock.now - sandboxStart) / .seconds(1))
        print("snp sandbox: \(Int(sandboxRate)) operations/s in the child process (\(sandboxedExecuted) operations, same observations as loaded; \(sandboxed.sandbox ?? "no sandbox report"))")
        print("snp: sandboxed / loaded harness operations per second: ratio \(String(format: "%.3f", sandboxRate / harnessRate))")
    }
}
