import Model

/// One operation of a parallel section, as the linearizability search takes it.
public struct VsockParallelStep: Hashable, Sendable, CustomStringConvertible {
    public var thread: Int
    public var index: Int
    /// Its number in the run: the tag a datagram it sends carries.
    public var number: Int
    public var operation: VsockThreadOperation
    /// For a `socket()`: which of its thread's it is (``ThreadSocket/own(_:)`` names it).
    public var ownIndex: Int?
    /// Another thread's load or unload of the same module overlapped it (``VsockModel/moduleContention``).
    public var contended: Bool
    /// Another thread's `sendto()` with an address overlapped it (``VsockModel/perPacketReference``).
    public var overlapsAddressedSend = false
    /// Another thread's module unload overlapped it (``VsockModel/perPacketModuleGoing``).
    public var overlapsUnload = false

    public init(thread: Int, index: Int, number: Int, operation: VsockThreadOperation, ownIndex: Int?, contended: Bool) {
        self.thread = thread
        self.index = index
        self.number = number
        self.operation = operation
        self.ownIndex = ownIndex
        self.contended = contended
    }

    public var description: String { operation.description }
}

/// What one operation of a parallel thread showed: an observation, or that it did not run
/// because its socket does not exist (its `socket()` failed, or the prefix opened fewer).
public enum VsockThreadObservation: Hashable, Sendable, Codable, CustomStringConvertible {
    case ran(VsockObservation)
    case skipped

    public var description: String {
        switch self {
        case let .ran(observation): return observation.description
        case .skipped: return "(skipped: no such socket)"
        }
    }
}

/// Who a socket of the model's state is, in the names threads use.
public struct SocketOwner: Hashable, Sendable {
    /// nil: opened by the prefix.
    public var thread: Int?
    public var index: Int

    public init(thread: Int?, index: Int) {
        self.thread = thread
        self.index = index
    }
}

/// The search's state: the model's, and the name of each of its open sockets.
public struct VsockParallelState: Hashable, Sendable {
    public var model: VsockState
    public var owners: [SocketOwner]

    /// The state a sequential prefix left: its sockets are named `p0`, `p1`, …
    public init(afterPrefix state: VsockState) {
        model = state
        owners = state.sockets.indices.map { SocketOwner(thread: nil, index: $0) }
    }

    /// Where the socket `thread` calls `name` is now, if it is open.
    func position(of name: ThreadSocket, thread: Int) -> Int? {
        switch name {
        case let .prefix(index): return owners.firstIndex(of: SocketOwner(thread: nil, index: index))
        case let .own(index): return owners.firstIndex(of: SocketOwner(thread: thread, index: index))
        }
    }
}

/// The vsock model as a linearizability specification (``VsockModel/concurrentSuccessors``):
/// operations name sockets by owner, and the whole order must end in reference counts that
/// agree with the ones read once every thread had returned.
public struct VsockLinearizability: LinearizabilitySpecification {
    public let model: VsockModel
    /// `/sys/module/*/refcnt` once every thread had returned and closed sockets had settled.
    public let finalRefcounts: ModuleRefcounts
    /// The operation counter the prefix left (states rest at it between steps).
    public let restingCount: Int

    public init(model: VsockModel, finalRefcounts: ModuleRefcounts, restingCount: Int) {
        self.model = model
        self.finalRefcounts = finalRefcounts
        self.restingCount = restingCount
    }

    public func successors(of state: VsockParallelState, applying step: VsockParallelStep,
                           observed observation: VsockThreadObservation) -> [VsockParallelState] {
        var position: Int?
        if let name = step.operation.socket {
            position = state.position(of: name, thread: step.thread)
            // A socket that does not exist in this order: the operation must not have run.
            guard position != nil else { return observation == .skipped ? [state] : [] }
        }
        guard case let .ran(observed) = observation else { return [] }
        let operation = position.map(step.operation.resolved(at:)) ?? step.operation.operation
        let next = model.concurrentSuccessors(of: state.model, applying: operation, observed: observed,
                                              number: step.number, restingCount: restingCount, contended: step.contended,
                                              overlapsAddressedSend: step.overlapsAddressedSend,
                                              overlapsUnload: step.overlapsUnload)
        return next.map { model in
            var successor = state
            successor.model = model
            switch operation {
            case .socket where model.sockets.count > state.model.sockets.count:
                successor.owners.append(SocketOwner(thread: step.thread, index: step.ownIndex ?? -1))
            case let .close(ref):
                successor.owners.remove(at: ref.position)
            default:
                break
            }
            return successor
        }
    }

    public func admitsFinal(_ state: VsockParallelState) -> Bool {
        state.model.admitsRefcounts(finalRefcounts)
    }

    /// What the model allows for `step` in `state`, in words, for a report.
    public func describeExpectation(of step: VsockParallelStep, in state: VsockParallelState) -> String {
        guard let name = step.operation.socket else {
            return model.describeExpectation(of: step.operation.operation, in: state.model, number: step.number)
        }
        guard let position = state.position(of: name, thread: step.thread) else { return "(skipped: no socket \(name) here)" }
        return model.describeExpectation(of: step.operation.resolved(at: position), in: state.model, number: step.number)
    }
}
