import Generators
import Model

/// How often generated runs reach the datagram data path, on the simulated kernel without a
/// mutant: the runs (of `seeds`, `operations` each) in which a receive returned a datagram, a
/// truncated one, one with its source (`recvfrom`), and in which `getpeername` saw a peer. The
/// data-path mutants can only be found in such runs, so these counts bound their detection rates
/// and say why a generator change helped or did not.
public struct DataPathCoverage: Sendable {
    public private(set) var runs = 0
    public private(set) var queued = 0
    public private(set) var receivers = 0
    public private(set) var loopbackSockets = 0
    public private(set) var received = 0
    public private(set) var truncated = 0
    public private(set) var withSource = 0
    public private(set) var twoReceived = 0
    public private(set) var peerReported = 0
    /// Runs in which a datagram was in flight to the port of a socket on loopback, at another CID
    /// than the one it bound (a near miss), and in which that socket then received: the chance a
    /// delivery that ignores the CID has to show.
    public private(set) var nearMiss = 0
    public private(set) var nearMissReceived = 0
    /// Operations by kind and result class, over all runs.
    public private(set) var outcomes: [String: Int] = [:]

    public init(profile: VsockProfile = .vsockDgramV5, seeds: Int = 200, operations: Int = 60) throws {
        let model = VsockModel(profile: profile)
        let runner = Runner(model: model, generator: VsockOperationGenerator())
        let kernel = SimulatedVsockKernel(profile: profile)
        for seed in 1...UInt64(seeds) {
            let steps = try runner.run(RunConfiguration(seed: seed, operations: operations), against: kernel).execution.steps
            var datagrams = 0, cut = false, source = false, peer = false
            // The model's state along the run: was a datagram ever certain to be queued on a socket?
            var state = model.initialState
            var everQueued = false, receiver = false, onLoopback = false, missed = false, missedReceived = false
            for step in steps {
                let nearMisses = VsockOperationGenerator.nearMisses(in: state)
                missed = missed || !nearMisses.isEmpty
                if case let .recv(socket, _, _) = step.operation, nearMisses.contains(socket.position) { missedReceived = true }
                _ = model.judge(step.observation, of: step.operation, against: step.expectation, state: &state)
                receiver = receiver || state.sockets.contains { $0.type == .dgram && $0.transport == .loopback && $0.local != nil }
                onLoopback = onLoopback || state.sockets.contains { $0.type == .dgram && $0.transport == .loopback }
                everQueued = everQueued || state.queues.values.contains { $0.contains(where: \.certain) }
                outcomes[step.operation.outcome(step.observation.result), default: 0] += 1
                switch (step.operation, step.observation.result) {
                case let (.recv, .received(datagram)):
                    datagrams += 1
                    cut = cut || datagram.truncated
                    source = source || datagram.source != nil
                case (.getpeername, .address):
                    peer = true
                default:
                    break
                }
            }
            runs += 1
            queued += everQueued ? 1 : 0
            receivers += receiver ? 1 : 0
            loopbackSockets += onLoopback ? 1 : 0
            received += datagrams > 0 ? 1 : 0
            twoReceived += datagrams > 1 ? 1 : 0
            truncated += cut ? 1 : 0
            withSource += source ? 1 : 0
            peerReported += peer ? 1 : 0
            nearMiss += missed ? 1 : 0
            nearMissReceived += missedReceived ? 1 : 0
        }
    }

    public var description: String {
        "of \(runs) runs, a datagram socket on loopback in \(loopbackSockets), bound there in \(receivers), a datagram queued in \(queued), received in \(received) (two or more \(twoReceived), truncated \(truncated), "
            + "with its source \(withSource)); getpeername saw a peer in \(peerReported); a near miss (a datagram in flight to the port of a socket bound on loopback, at another CID) in \(nearMiss), a receive on that socket while it was in flight in \(nearMissReceived)"
    }
}
