import Generators
import Model
import Testing
import TestDoubles

@Suite("memory attributes: generator and engine")
struct MemoryAttributesGeneratorTests {
    let generator = MemoryAttributesOperationGenerator()
    static let p = KVMMemoryAttributesABI.attributePrivate

    /// The rules a faithful simulated kernel's runs reach over `seeds`; fails on any divergence.
    func rulesReached(model: MemoryAttributesModel, kernel: SimulatedMemoryAttributesKernel,
                      seeds: ClosedRange<UInt64>, operations: Int = 40) throws -> [String: Int] {
        let runner = Runner(model: model, generator: generator)
        var reached: [String: Int] = [:]
        for seed in seeds {
            let run = try runner.run(RunConfiguration(seed: seed, operations: operations), against: kernel)
            #expect(run.execution.divergence == nil,
                    "seed \(seed): \(run.execution.divergence.map { "\($0.mismatch)" } ?? "")")
            for step in run.execution.steps {
                if case let .agrees(rule) = step.verdict { reached[rule, default: 0] += 1 }
            }
        }
        return reached
    }

    @Test("a type-0 VM: every rule of the validation front and the no-op path within 30 seeds")
    func coverageDefaultVM() throws {
        let reached = try rulesReached(model: MemoryAttributesModel(), kernel: SimulatedMemoryAttributesKernel(supported: 0),
                                       seeds: 1...30)
        for rule in ["kvm.memattr.flags", "kvm.memattr.unsupported", "kvm.memattr.size.zero", "kvm.memattr.size.wrap",
                     "kvm.memattr.unaligned", "kvm.memattr.ok.noop", "kvm.memattr.cap.vm", "kvm.memattr.cap.system",
                     "kvm.memslot.create", "kvm.vm.create"] {
            #expect(reached[rule, default: 0] > 0, "\(rule) never reached: \(reached)")
        }
        #expect(reached["kvm.memattr.ok"] == nil)   // a type-0 VM can store nothing
        // Valid requests are not starved by the edges.
        #expect(reached["kvm.memattr.ok.noop", default: 0] * 10 > reached.values.reduce(0, +))
    }

    @Test("a VM supporting PRIVATE: stores, no-ops after stores, and ENOMEM for huge ranges within 30 seeds")
    func coveragePrivateVM() throws {
        let model = MemoryAttributesModel(configuration: MemoryAttributesConfiguration(vmType: 4))
        let reached = try rulesReached(model: model, kernel: SimulatedMemoryAttributesKernel(supported: Self.p),
                                       seeds: 1...30)
        for rule in ["kvm.memattr.ok", "kvm.memattr.ok.noop", "kvm.memattr.reserve.enomem", "kvm.memattr.unsupported",
                     "kvm.memattr.flags", "kvm.memattr.size.wrap", "kvm.memattr.unaligned", "kvm.memattr.size.zero"] {
            #expect(reached[rule, default: 0] > 0, "\(rule) never reached: \(reached)")
        }
    }

    @Test("the model's assumption is checked: a kernel whose VM supports PRIVATE diverges from the type-0 model")
    func wrongEnvironmentDiverges() throws {
        let runner = Runner(model: MemoryAttributesModel(), generator: generator)
        var diverged = 0
        for seed in UInt64(1)...20 {
            let run = try runner.run(RunConfiguration(seed: seed, operations: 40),
                                     against: SimulatedMemoryAttributesKernel(supported: Self.p))
            if run.execution.divergence != nil { diverged += 1 }
        }
        #expect(diverged > 0)
    }

    @Test("edges are drawn: wrapping sums, the last page, 2 MiB boundaries, high flag bits")
    func edges() {
        var source = ChoiceSource(seed: 3)
        let state = MemoryAttributesModel().initialState
        var requests: [MemoryAttributesRequest] = []
        for _ in 0..<3_000 {
            if case let .setAttributes(request) = generator.draw(from: &source, state: state, enabled: Set(generator.kinds)) {
                requests.append(request)
            }
        }
        #expect(requests.contains { $0.address != 0 && $0.size == 0 &- $0.address })          // sum exactly 2^64
        #expect(requests.contains { $0.address &+ $0.size == 0xffff_ffff_ffff_f000 && $0.size > 0 })
        #expect(requests.contains { $0.address == 0x20_0000 - 4096 })
        #expect(requests.contains { $0.size == UInt64.max })
        #expect(requests.contains { $0.flags == 1 << 63 })
        #expect(requests.contains { $0.attributes == UInt64.max })
        #expect(requests.contains { $0.address == 4095 })
    }

    @Test("simplifications are strictly simpler and reach canonical values")
    func simplifications() {
        let request = MemoryAttributesRequest(address: 0x1234_5678, size: 0xffff_ffff_ffff_f001, attributes: 1 << 63,
                                              flags: UInt64.max)
        var operation = MemoryAttributesOperation.setAttributes(request)
        var steps = 0
        // Always taking the first simplification terminates at the all-canonical request.
        while let next = generator.simplifications(of: operation).first {
            #expect(next != operation)
            operation = next
            steps += 1
            if steps > 10_000 { break }
        }
        #expect(steps < 10_000)
        #expect(operation == .setAttributes(MemoryAttributesRequest(address: 0, size: 4096)))
        #expect(generator.simplifications(of: .checkExtension(.vm)) == [.checkExtension(.system)])
        #expect(generator.simplifications(of: .addMemslot(2)) == [.addMemslot(0), .addMemslot(1)])
    }

    @Test("a run is reproduced by its seed")
    func determinism() throws {
        let runner = Runner(model: MemoryAttributesModel(), generator: generator)
        let a = try runner.run(RunConfiguration(seed: 42, operations: 60), against: SimulatedMemoryAttributesKernel())
        let b = try runner.run(RunConfiguration(seed: 42, operations: 60), against: SimulatedMemoryAttributesKernel())
        #expect(a.execution.operations == b.execution.operations && a.choices == b.choices)
    }
}
