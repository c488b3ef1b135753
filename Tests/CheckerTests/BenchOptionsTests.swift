import Testing
@testable import checker

/// `checker bench`'s options: what parses, and what is refused before anything is measured.
@Suite("checker bench options")
struct BenchOptionsTests {
    @Test("--rate-seeds sets the runs per mutant (default 200); zero or less is refused, as is --seconds 0")
    func rateSeeds() throws {
        #expect(try Bench.parse([]).rateSeeds == 200)
        #expect(try Bench.parse(["--part", "mutants", "--rate-seeds", "2000"]).rateSeeds == 2000)
        #expect(throws: (any Error).self) { try Bench.parse(["--rate-seeds", "0"]) }
        #expect(throws: (any Error).self) { try Bench.parse(["--rate-seeds", "-5"]) }
        #expect(throws: (any Error).self) { try Bench.parse(["--seconds", "0"]) }
    }
}
