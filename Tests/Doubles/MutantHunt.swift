import Generators
import Model

/// Hunts one planted mutant: generates runs against the mutated simulated kernel, seed after
/// seed, until one diverges, then shrinks that run. Shared by the engine tests and the bench.
public struct MutantHunt {
    public struct Found {
        public let seed: UInt64
        public let original: [VsockOperation]
        public let signature: DivergenceSignature
        public let shrink: ShrinkResult<VsockOperation>
    }

    public let mutant: VsockMutant
    public private(set) var seedsTried = 0
    public private(set) var result: Found?

    /// Runs seeds from `firstSeed` until `candidates` have diverged (or `maxSeeds` ran), shrinks
    /// each, and keeps the shortest minimal sequence: a shrinker stops at a local minimum, and
    /// which seed diverges first depends on the generator's details, so one seed's minimum says
    /// less about the shrinker than the best of a few (syz-repro also keeps the best reproducer).
    public init(mutant: VsockMutant, firstSeed: UInt64 = 1, maxSeeds: Int = 500, operations: Int = 60,
                candidates: Int = 6) throws {
        self.mutant = mutant
        let model = VsockModel(profile: mutant.profile)
        let generator = VsockOperationGenerator()
        let runner = Runner(model: model, generator: generator)
        let kernel = SimulatedVsockKernel(profile: mutant.profile, mutant: mutant)
        var found = 0
        for seed in firstSeed..<(firstSeed + UInt64(maxSeeds)) where found < candidates {
            seedsTried += 1
            let run = try runner.run(RunConfiguration(seed: seed, operations: operations), against: kernel)
            guard let divergence = run.execution.divergence else { continue }
            let shrinker = Shrinker.forDivergence(of: run.execution.operations, signature: divergence.signature,
                                                  model: model, system: kernel, limits: ShrinkLimits(),
                                                  domain: generator.shrinkDomain)
            let candidate = Found(seed: seed, original: run.execution.operations, signature: divergence.signature,
                                  shrink: try shrinker.shrink())
            found += 1
            if let best = result, best.shrink.minimal.count <= candidate.shrink.minimal.count { continue }
            result = candidate
        }
    }

    /// How many of `seeds` runs (seeds 1…seeds, `operations` each) diverge on the mutated
    /// simulated kernel: the mutant's detection rate per run, a steadier yardstick of a generator
    /// change than the first seed that finds it.
    public static func detections(of mutant: VsockMutant, seeds: Int = 200, operations: Int = 60) throws -> Int {
        let runner = Runner(model: VsockModel(profile: mutant.profile), generator: VsockOperationGenerator())
        let kernel = SimulatedVsockKernel(profile: mutant.profile, mutant: mutant)
        var detected = 0
        for seed in 1...UInt64(seeds) {
            let run = try runner.run(RunConfiguration(seed: seed, operations: operations), against: kernel)
            if run.execution.divergence != nil { detected += 1 }
        }
        return detected
    }
}
