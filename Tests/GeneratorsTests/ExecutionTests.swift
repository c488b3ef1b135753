import Generators
import Model
import Testing
import TestDoubles

/// Running a sequence: it stops at the first divergence, or runs past it when asked (a crash's
/// reproduction), the first divergence reported either way.
@Suite("execution")
struct ExecutionTests {
    // The create-without-transport mutant: socket() with no transport loaded succeeds where
    // mainline says ENODEV (step 1 diverges).
    static let operations: [VsockOperation] = [.socket(.dgram), .loadTransport(.loopback), .socket(.dgram), .close(SocketRef(0))]

    @Test("stops at the first divergence; past it with pastDivergences, the first still the one reported")
    func pastDivergences() throws {
        let kernel = SimulatedVsockKernel(profile: .mainline, mutant: .createWithoutTransport)
        let model = VsockModel(profile: .mainline)
        let stopped = try Execution.run(Self.operations, model: model, system: kernel)
        #expect(stopped.steps.count == 1)
        #expect(stopped.divergence?.step == 0)
        let through = try Execution.run(Self.operations, model: model, system: kernel, pastDivergences: true)
        #expect(through.steps.count > 1)
        #expect(through.divergence?.step == 0)
    }
}
