import Generators
import Model
import Testing
import TestDoubles

/// The declarative model and the imperative simulation were written separately from the same C
/// code: across many generated runs of every profile they must agree step for step.
@Suite("model ≡ simulated kernel")
struct SimulatedKernelAgreementTests {
    @Test("no divergence over 300 seeds × 200 operations", arguments: VsockProfile.all)
    func agreement(profile: VsockProfile) throws {
        let runner = Runner(model: VsockModel(profile: profile), generator: VsockOperationGenerator())
        let kernel = SimulatedVsockKernel(profile: profile)
        var steps = 0
        for seed in UInt64(0)..<300 {
            let run = try runner.run(RunConfiguration(seed: seed, operations: 200), against: kernel)
            steps += run.execution.steps.count
            if let divergence = run.execution.divergence {
                Issue.record("seed \(seed) step \(divergence.step): \(run.execution.operations.last!) — \(divergence.mismatch)")
                return
            }
        }
        #expect(steps == 300 * 200)
    }
}
