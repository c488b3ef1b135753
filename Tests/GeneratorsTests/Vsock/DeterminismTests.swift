import Generators
import Model
import Testing
import TestDoubles

@Suite("determinism")
struct DeterminismTests {
    @Test("the same seed gives the same sequence and the same shrunk case, 100 of 100 times")
    func sameSeedSameCase() throws {
        let mutant = VsockMutant.toHostIgnored
        let model = VsockModel(profile: mutant.profile)
        let generator = VsockOperationGenerator()
        let runner = Runner(model: model, generator: generator)
        let kernel = SimulatedVsockKernel(profile: mutant.profile, mutant: mutant)
        let first = try #require(try MutantHunt(mutant: mutant).result)
        for _ in 0..<100 {
            let run = try runner.run(RunConfiguration(seed: first.seed, operations: 60), against: kernel)
            #expect(run.execution.operations == first.original)
            let divergence = try #require(run.execution.divergence)
            let shrunk = try Shrinker.forDivergence(of: run.execution.operations, signature: divergence.signature,
                                                    model: model, system: kernel, limits: ShrinkLimits(),
                                                    domain: generator.shrinkDomain).shrink()
            #expect(shrunk.minimal == first.shrink.minimal)
            #expect(shrunk.executions == first.shrink.executions)
        }
    }
}
