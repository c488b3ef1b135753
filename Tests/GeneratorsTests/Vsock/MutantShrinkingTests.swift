import Generators
import Model
import Testing
import TestDoubles

/// Planted mutants: the engine must find each one and shrink it to its known minimal length.
@Suite("planted mutants")
struct MutantShrinkingTests {
    @Test("found and shrunk to the minimal sequence", arguments: VsockMutant.allCases)
    func shrinksToMinimal(mutant: VsockMutant) throws {
        let hunt = try MutantHunt(mutant: mutant)
        let result = try #require(hunt.result, "\(mutant.rawValue) not found in \(hunt.seedsTried) seeds")
        let minimal = try #require(mutant.minimalLengths[result.signature],
                                   "\(mutant.rawValue) showed as an unexpected \(result.signature): \(result.shrink.minimal.map(\.description))")
        #expect(result.shrink.minimal.count == minimal,
                "\(mutant.rawValue) (\(result.signature)): \(result.shrink.minimal.map(\.description))")
        #expect(result.shrink.exitReason == .fixpoint)
    }
}
