/// A reference model: what a kernel behaviour *should* do, as a pure state machine.
///
/// The engine asks the model for an ``Expectation`` before each operation runs, hands it the
/// observed outcome afterwards, and the model judges whether the observation is one it allows.
/// The model then advances its state *from the observation*, because some results are decided
/// by the environment (a transport's callback, a random ephemeral port) rather than by the code
/// under check: the model takes those as inputs and checks what the core does with them.
///
/// Models are deterministic and do no I/O; they never know how an observation was made.
public protocol ReferenceModel: Sendable {
    associatedtype State: Sendable
    associatedtype Operation: KindedOperation
    associatedtype Observation: Hashable & Codable & Sendable & CustomStringConvertible
    associatedtype Expectation: Sendable & CustomStringConvertible

    /// The state before the first operation (for vsock: no transport module loaded, no socket).
    var initialState: State { get }

    /// Whether the operation can run at all in this state: its handles resolve. Operations that
    /// cannot run are skipped on both sides (this is what keeps a shrunk sequence valid).
    func isApplicable(_ operation: Operation, in state: State) -> Bool

    /// The outcomes the model allows for `operation` in `state`.
    func expect(_ operation: Operation, in state: State) -> Expectation

    /// Judges an observation and, whatever the verdict, advances `state` as far as it can.
    func judge(_ observation: Observation, of operation: Operation,
               against expectation: Expectation, state: inout State) -> Verdict

    /// An observation the model considers nominal for `expectation` (its first allowed branch,
    /// with environment-decided values at their most likely setting). Used only to *explain* the
    /// model without a system under test; never to judge one.
    func nominalObservation(of operation: Operation, for expectation: Expectation,
                            in state: State) -> Observation
}

/// The model's verdict on one step.
public enum Verdict: Hashable, Sendable {
    case agrees(rule: String)
    case diverges(Mismatch)

    public var isDivergence: Bool { if case .diverges = self { return true } else { return false } }
}

/// How an observation differs from every outcome the model allows.
public struct Mismatch: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The kind of difference; with the operation kind it forms a divergence's signature, which
    /// the shrinker keeps fixed.
    public enum Kind: String, Hashable, Sendable, Codable {
        /// The syscall result differs although the same transport callbacks ran.
        case result
        /// The same callbacks ran, but on a different transport: the core chose another one.
        case transport
        /// Different transport callbacks ran (or none where some were expected, or vice versa).
        case callbacks
        /// The result was allowed, but reference counts afterwards differ (modules, pages).
        case refcount
        /// The result was allowed, but the packet left through another transport than the one
        /// that accepted it (vsock: `send_pkt` of a transport whose `dgram_enqueue` did not run).
        case transmission
        /// The result was allowed, but the state the system was left in differs (SNP: the RMP).
        case state
        /// The code under check crashed, aborted, exited or hung (``HarnessCrash``); no model
        /// allows it.
        case crash
        /// Operations ran in parallel, and no order of them consistent with when each was called
        /// and returned is one the model allows (`checker run --parallel`).
        case linearizability
    }

    public let kind: Kind
    /// Expected and observed, in words a kernel developer reads.
    public let detail: String

    public init(kind: Kind, detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue) mismatch: \(detail)" }
}

/// An operation that names its kind (`bind`, `sendto`): the unit of swarm configurations and
/// half of a divergence's signature.
public protocol KindedOperation: Hashable, Codable, Sendable, CustomStringConvertible {
    var kindName: String { get }
}

extension ReferenceModel {
    /// Lets `state` take `operation`'s nominal outcome (``nominalObservation(of:for:in:)``), as
    /// explaining a model or drawing from it assumes; returns what the model allowed and that
    /// outcome. Never for judging a system.
    @discardableResult
    public func takeNominal(_ operation: Operation, in state: inout State) -> (expectation: Expectation, observation: Observation) {
        let expectation = expect(operation, in: state)
        let observation = nominalObservation(of: operation, for: expectation, in: state)
        _ = judge(observation, of: operation, against: expectation, state: &state)
        return (expectation, observation)
    }
}
