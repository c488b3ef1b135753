import Generators
import Model
import Testing
import TestDoubles

/// Planted bugs in the simulated `KVM_SET_MEMORY_ATTRIBUTES`: found, and shrunk to one operation.
@Suite("memory attributes: planted mutants")
struct MemoryAttributesShrinkingTests {
    struct Found {
        let seed: UInt64
        let original: [MemoryAttributesOperation]
        let shrink: ShrinkResult<MemoryAttributesOperation>
    }

    /// Runs seed after seed against the mutant; shrinks the first divergence.
    func hunt(_ mutant: MemoryAttributesMutant, seeds: Int = 200) throws -> Found? {
        let model = MemoryAttributesModel()
        let generator = MemoryAttributesOperationGenerator()
        let runner = Runner(model: model, generator: generator)
        let kernel = SimulatedMemoryAttributesKernel(supported: 0, mutant: mutant)
        for seed in UInt64(1)...UInt64(seeds) {
            let run = try runner.run(RunConfiguration(seed: seed, operations: 40), against: kernel)
            guard let divergence = run.execution.divergence else { continue }
            let shrinker = Shrinker.forDivergence(of: run.execution.operations, signature: divergence.signature,
                                                  model: model, system: kernel, limits: ShrinkLimits(),
                                                  domain: generator.shrinkDomain)
            return Found(seed: seed, original: run.execution.operations, shrink: try shrinker.shrink())
        }
        return nil
    }

    @Test("observable mutants are found and shrunk to one set-attributes call",
          arguments: MemoryAttributesMutant.allCases.filter(\.isObservable))
    func shrinksToOneOperation(mutant: MemoryAttributesMutant) throws {
        let found = try #require(try hunt(mutant), "\(mutant.rawValue) not found in 200 seeds")
        #expect(found.shrink.exitReason == .fixpoint)
        #expect(found.shrink.minimal.count == 1, "\(found.shrink.minimal.map(\.description))")
        guard case let .setAttributes(request)? = found.shrink.minimal.first else {
            Issue.record("minimal case is not a set-attributes call: \(found.shrink.minimal)")
            return
        }
        // The minimal request is one the faithful kernel rejects and the mutant accepts.
        #expect(request.rejection(supported: 0) != nil)
        #expect(found.original.count >= found.shrink.minimal.count)
        switch mutant {
        case .acceptsUnalignedSize:
            #expect(request == MemoryAttributesRequest(address: 0, size: 1))
        case .missingWrapCheck:
            #expect(request == MemoryAttributesRequest(address: 0x1000, size: 0xffff_ffff_ffff_f000))
        case .noopBeforeValidation:
            #expect(request == MemoryAttributesRequest(address: 0, size: 0x1000, flags: 1)
                    || request == MemoryAttributesRequest(address: 0, size: 0))
        case .attributesBeforeFlags:
            break
        }
    }

    @Test("two EINVAL checks swapped is an equivalent mutant: no errno shows it, so no run may report it")
    func equivalentMutantIsNotReported() throws {
        #expect(try hunt(.attributesBeforeFlags, seeds: 60) == nil)
    }
}
