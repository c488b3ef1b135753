import Generators
import Model
import Testing
import TestDoubles

@Suite("vsock generator")
struct VsockGeneratorTests {
    let generator = VsockOperationGenerator()

    @Test("replaying a run's recorded choices regenerates its operations")
    func regenerate() throws {
        let model = VsockModel(profile: .vsockDgramV5)
        let runner = Runner(model: model, generator: generator)
        let run = try runner.run(RunConfiguration(seed: 11, operations: 80), against: SimulatedVsockKernel(profile: .vsockDgramV5))
        // Draw again, from the recorded choices, against the states the run went through.
        var source = ChoiceSource(replaying: run.choices)
        _ = runner.swarmKinds(true, source: &source)
        var state = model.initialState
        let kernel = SimulatedVsockKernel(profile: .vsockDgramV5)
        kernel.reset()
        var regenerated: [VsockOperation] = []
        for _ in run.execution.operations {
            let operation = generator.draw(from: &source, state: state, enabled: Set(run.enabledKinds))
            let expectation = model.expect(operation, in: state)
            _ = model.judge(kernel.execute(operation), of: operation, against: expectation, state: &state)
            regenerated.append(operation)
        }
        #expect(regenerated == run.execution.operations)
    }

    @Test("every drawn operation is applicable in the state it was drawn for")
    func applicable() {
        let model = VsockModel(profile: .mainline)
        var source = ChoiceSource(seed: 5)
        var state = model.initialState
        for _ in 0..<2_000 {
            let operation = generator.draw(from: &source, state: state, enabled: Set(generator.kinds))
            #expect(model.isApplicable(operation, in: state), "\(operation)")
            let expectation = model.expect(operation, in: state)
            let observation = model.nominalObservation(of: operation, for: expectation, in: state)
            _ = model.judge(observation, of: operation, against: expectation, state: &state)
        }
    }

    @Test("simplifications are strictly simpler: CIDs toward ANY/1/2/3, ports toward 0, lengths toward 1, flags toward 0")
    func simplifications() {
        let sendto = VsockOperation.sendto(SocketRef(2), SockAddrVM(cid: 100, port: 1234, flags: 0x2), length: 4096)
        let variants = generator.simplifications(of: sendto)
        #expect(variants.contains(.sendto(SocketRef(0), SockAddrVM(cid: 100, port: 1234, flags: 0x2), length: 4096)))
        #expect(variants.contains(.sendto(SocketRef(2), SockAddrVM(cid: VMAddr.cidAny, port: 1234, flags: 0x2), length: 4096)))
        #expect(variants.contains(.sendto(SocketRef(2), SockAddrVM(cid: 1, port: 1234, flags: 0x2), length: 4096)))
        #expect(variants.contains(.sendto(SocketRef(2), SockAddrVM(cid: 100, port: 0, flags: 0x2), length: 4096)))
        #expect(variants.contains(.sendto(SocketRef(2), SockAddrVM(cid: 100, port: 1234, flags: 0), length: 4096)))
        #expect(variants.contains(.sendto(SocketRef(2), SockAddrVM(cid: 100, port: 1234, flags: 0x2), length: 1)))
        #expect(generator.simplifications(of: .sendto(SocketRef(0), SockAddrVM(cid: VMAddr.cidAny, port: 0), length: 1)).isEmpty)
        // CID 3 simplifies toward ANY, 1, 2; CID_ANY is simplest: the address a program that does
        // not care gives, and a bind to it needs no transport for its CID (shrinks past a load).
        let cid3 = generator.simplifications(of: .bind(SocketRef(0), SockAddrVM(cid: 3, port: 0)))
        #expect(cid3 == [VMAddr.cidAny, 1, 2].map { .bind(SocketRef(0), SockAddrVM(cid: $0, port: 0)) })
    }

    @Test("rewrites exchange each pair of specific CIDs the addresses name (live mutant 13's 6-step case), ANY stays")
    func cidExchanges() {
        let s0 = SocketRef(0)
        let found: [VsockOperation] = [
            .loadTransport(.loopback), .socket(.dgram), .loadTransport(.vhost), .bind(s0, SockAddrVM(cid: 2, port: 0)),
            .sendto(s0, SockAddrVM(cid: 1, port: 0, flags: VMAddr.flagToHost), length: 1), .recv(s0, buffer: 65_536, source: false),
        ]
        #expect(generator.rewrites(of: found) == [[
            .loadTransport(.loopback), .socket(.dgram), .loadTransport(.vhost), .bind(s0, SockAddrVM(cid: 1, port: 0)),
            .sendto(s0, SockAddrVM(cid: 2, port: 0, flags: VMAddr.flagToHost), length: 1), .recv(s0, buffer: 65_536, source: false),
        ]])
        let three: [VsockOperation] = [
            .bind(s0, SockAddrVM(cid: VMAddr.cidAny, port: 1)), .connect(s0, .address(SockAddrVM(cid: 3, port: 1))),
            .sendtoLearned(s0, cid: 1, learned: 0, length: 1), .bindLearned(s0, cid: 2, learned: 0, offset: 1),
        ]
        let rewrites = generator.rewrites(of: three)
        #expect(rewrites.count == 3)
        #expect(rewrites.allSatisfy { $0[0] == three[0] })
        #expect(rewrites[0] == [three[0], .connect(s0, .address(SockAddrVM(cid: 1, port: 1))),
                                .sendtoLearned(s0, cid: 3, learned: 0, length: 1), three[3]])
        #expect(generator.rewrites(of: [.socket(.dgram), .bind(s0, SockAddrVM(cid: 1, port: 1))]).isEmpty)
    }

    @Test("deleting a socket() step re-points later handles at the sockets they named")
    func deletionKeepsIdentity() {
        let operations: [VsockOperation] = [
            .socket(.stream), .loadTransport(.virtio), .socket(.dgram), .bind(SocketRef(1), SockAddrVM(cid: 1, port: 5)),
            .close(SocketRef(0)), .send(SocketRef(0), length: 1),
        ]
        let candidates = generator.deleting(0..<1, from: operations)
        #expect(candidates.count == 2)
        #expect(candidates[0] == Array(operations.dropFirst()))
        // The stream socket and its close are gone; the datagram socket is now s0 throughout.
        #expect(candidates[1] == [.loadTransport(.virtio), .socket(.dgram), .bind(SocketRef(0), SockAddrVM(cid: 1, port: 5)),
                                  .send(SocketRef(0), length: 1)])
    }

    @Test("deleting the step that auto-bound a socket also offers its learned port named: getsockname becomes a bind to (ANY, 1024)")
    func deletionNamesLearnedPort() {
        let s0 = SocketRef(0)
        // Mutant 14's live case: a failed sendto auto-binds, getsockname learns the port, a
        // sendto-learned sends to it, a short receive shows the truncation.
        let operations: [VsockOperation] = [
            .loadTransport(.loopback), .socket(.dgram), .sendto(s0, SockAddrVM(cid: 3, port: 1), length: 1),
            .getsockname(s0), .sendtoLearned(s0, cid: 1, learned: 0, length: 8), .recv(s0, buffer: 4, source: false),
        ]
        let candidates = generator.deleting(2..<3, from: operations)
        #expect(candidates.contains([
            .loadTransport(.loopback), .socket(.dgram), .bind(s0, SockAddrVM(cid: VMAddr.cidAny, port: 1024)),
            .sendto(s0, SockAddrVM(cid: 1, port: 1024), length: 8), .recv(s0, buffer: 4, source: false),
        ]))
        // A socket bound before has no auto-bind to undo.
        let bound = [operations[0], operations[1], .bind(s0, SockAddrVM(cid: 1, port: 5))] + operations[2...]
        #expect(generator.deleting(3..<4, from: Array(bound)).count == 1)
    }
}
