import Generators
import Model

/// The simulated kernel as a parallel system: a parallel section's operations run one at a
/// time, in an interleaving drawn from `seed`, each stamped with its own slice of time (so the
/// history's real-time order is the order they ran in). A test double for the parallel engine
/// (the barrier, the history, the linearizability search, shrinking), never the live path.
public final class SimulatedParallelVsockKernel: VsockParallelSystem {
    public typealias Model = VsockModel

    public let kernel: SimulatedVsockKernel
    public var seed: UInt64
    /// Stretch every operation's time slice to overlap its neighbours' (the search must then find
    /// the order itself); the slices of one thread never overlap.
    public var overlapping: Bool
    /// Who each open socket is, in the order the kernel holds them.
    private var owners: [SocketOwner] = []
    private var prefixSockets = 0
    public var name: String { kernel.name + ", parallel" }

    public init(kernel: SimulatedVsockKernel, seed: UInt64 = 1, overlapping: Bool = false) {
        self.kernel = kernel
        self.seed = seed
        self.overlapping = overlapping
    }

    public func reset() throws {
        kernel.reset()
        owners = []
    }

    public func execute(_ operation: VsockOperation) throws -> VsockObservation {
        let observation = kernel.execute(operation)
        track(operation, observation, owner: SocketOwner(thread: nil, index: owners.count))
        return observation
    }

    public func runThreads(_ threads: [[VsockThreadInvocation]]) throws -> (results: [[VsockThreadResult]], refcounts: ModuleRefcounts) {
        // Prefix sockets are named by their position when the threads start.
        owners = owners.indices.map { SocketOwner(thread: nil, index: $0) }
        var source = ChoiceSource(seed: seed)
        var next = Array(repeating: 0, count: threads.count)
        var ownCounts = Array(repeating: 0, count: threads.count)
        var results = threads.map { Array(repeating: VsockThreadResult(observation: .skipped, invoked: 0, responded: 0), count: $0.count) }
        var clock: UInt64 = 1_000_000
        while let thread = Optional(threads.indices.filter { next[$0] < threads[$0].count }), !thread.isEmpty {
            let chosen = source.pick(thread)
            let index = next[chosen]
            next[chosen] += 1
            let invocation = threads[chosen][index]
            var owner: SocketOwner?
            if case .socket = invocation.operation.operation {
                owner = SocketOwner(thread: chosen, index: ownCounts[chosen])
                ownCounts[chosen] += 1
            }
            let observation: VsockThreadObservation
            if let name = invocation.operation.socket {
                let wanted: SocketOwner
                switch name {
                case let .prefix(k): wanted = SocketOwner(thread: nil, index: k)
                case let .own(k): wanted = SocketOwner(thread: chosen, index: k)
                }
                if let position = owners.firstIndex(of: wanted) {
                    let operation = invocation.operation.resolved(at: position)
                    let observed = kernel.execute(operation, number: UInt32(invocation.number))
                    track(operation, observed, owner: wanted)
                    observation = .ran(stripped(observed))
                } else {
                    observation = .skipped
                }
            } else {
                let observed = kernel.execute(invocation.operation.operation, number: UInt32(invocation.number))
                track(invocation.operation.operation, observed, owner: owner ?? SocketOwner(thread: nil, index: -1))
                observation = .ran(stripped(observed))
            }
            // Overlapping: each slice reaches into the next two operations' slices.
            results[chosen][index] = VsockThreadResult(observation: observation, invoked: clock,
                                                       responded: clock + (overlapping ? 25_000 : 5_000))
            clock += 10_000
        }
        if overlapping {
            // A thread's own operations stay in order: cut each slice before the thread's next call.
            for thread in results.indices {
                for index in results[thread].indices.dropLast() {
                    results[thread][index].responded = min(results[thread][index].responded, results[thread][index + 1].invoked - 1_000)
                }
            }
        }
        return (results, kernel.refcounts)
    }

    /// Per-step reference counts are not judged in a parallel section (the live system cannot read
    /// them without racing): the double leaves them out too, so nothing depends on them.
    private func stripped(_ observation: VsockObservation) -> VsockObservation {
        var copy = observation
        copy.refcounts = [:]
        return copy
    }

    private func track(_ operation: VsockOperation, _ observation: VsockObservation, owner: SocketOwner) {
        switch operation {
        case .socket: if observation.result.isSuccess { owners.append(owner) }
        case let .close(ref): owners.remove(at: ref.position)
        default: break
        }
    }
}
