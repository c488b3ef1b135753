import Generators
import Model
import Testing
import TestDoubles

/// The SNP model and generator driven by the engine against simulated hosts.
@Suite("SNP engine")
struct SNPEngineTests {
    let model = SNPModel()
    let generator = SNPOperationGenerator()

    @Test("a host that does what the patch intends never diverges")
    func intentAgrees() throws {
        let runner = Runner(model: model, generator: generator)
        let host = SimulatedSNPHost()
        var conversions = 0
        for seed in UInt64(1)...150 {
            let run = try runner.run(RunConfiguration(seed: seed, operations: 30), against: host)
            #expect(run.execution.divergence == nil, "seed \(seed): \(run.execution.steps.map { "\($0.operation) → \($0.observation)" })")
            conversions += run.execution.steps.filter { $0.operation.kind == .convert }.count
        }
        #expect(conversions > 1500)
    }

    @Test("the generator reaches the interesting worlds", arguments: [UInt64(1)])
    func coverage(first: UInt64) throws {
        let runner = Runner(model: model, generator: generator)
        var orders: Set<Int> = []
        var presets: Set<String> = []
        var unaligned = 0, bothDirections: Set<Bool> = [], selftestRanges = 0
        for seed in first..<(first + 200) {
            let run = try runner.run(RunConfiguration(seed: seed, operations: 30), against: SimulatedSNPHost())
            for step in run.execution.steps {
                switch step.operation {
                case let .setup(slot): if (slot.baseGFN &- slot.gmemOffset) % 512 != 0 { unaligned += 1 }
                case let .allocate(_, order): orders.insert(order)
                case let .preset(_, preset): presets.insert("\(preset)")
                case let .convert(start, end, toPrivate):
                    bothDirections.insert(toPrivate)
                    if [1, 512].contains(end - start) { selftestRanges += 1 }
                }
            }
        }
        #expect(orders == [0, 9, 10])
        #expect(presets.count == 3)
        #expect(unaligned > 5)
        #expect(bothDirections == [true, false])
        #expect(selftestRanges > 200)
    }

    @Test("planted flaws are found and shrunk to a few operations", arguments: SimulatedSNPHost.Flaw.allCases)
    func flawsFound(flaw: SimulatedSNPHost.Flaw) throws {
        let runner = Runner(model: model, generator: generator)
        let host = SimulatedSNPHost(flaw: flaw)
        for seed in UInt64(1)...400 {
            let run = try runner.run(RunConfiguration(seed: seed, operations: 30), against: host)
            guard let divergence = run.execution.divergence else { continue }
            let shrunk = try Shrinker.forDivergence(of: run.execution.operations, signature: divergence.signature,
                                                    model: model, system: host, limits: ShrinkLimits(),
                                                    domain: generator.shrinkDomain).shrink()
            #expect(shrunk.minimal.count <= 4, "\(flaw): \(shrunk.minimal.map(\.description))")
            return
        }
        Issue.record("\(flaw.rawValue) not found in 400 seeds")
    }
}
