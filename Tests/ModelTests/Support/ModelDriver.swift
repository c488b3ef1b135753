import Model
import SystemPackage
import Testing

/// Drives the vsock model the way the engine does: the expectation before a step, then a judged
/// observation that advances the state.
///
/// Setup steps take the model's nominal observation (its first branch, callbacks succeeding);
/// the step under test is judged with hand-written observations through ``judge(_:of:)``, which
/// leaves the state alone, so one test can judge an agreeing and a diverging observation of the
/// same step.
struct ModelDriver {
    let model: VsockModel
    /// The model state; tests that need a state no operation sequence reaches may edit it.
    var state: VsockState

    init(_ profile: VsockProfile, configuration: VsockConfiguration = VsockConfiguration()) {
        model = VsockModel(profile: profile, configuration: configuration)
        state = model.initialState
    }

    /// What the model allows for `operation` in the current state.
    func expectation(_ operation: VsockOperation) -> VsockExpectation {
        model.expect(operation, in: state)
    }

    /// Runs a setup step with the model's nominal observation. A setup step that does not apply,
    /// or that the model disagrees with, fails the calling test.
    @discardableResult
    mutating func run(_ operation: VsockOperation, sourceLocation: SourceLocation = #_sourceLocation) -> VsockObservation {
        #expect(model.isApplicable(operation, in: state), "setup step \(operation) is not applicable",
                sourceLocation: sourceLocation)
        let expectation = model.expect(operation, in: state)
        let observation = model.nominalObservation(of: operation, for: expectation, in: state)
        let verdict = model.judge(observation, of: operation, against: expectation, state: &state)
        #expect(!verdict.isDivergence, "setup step \(operation) → \(observation): \(verdict)",
                sourceLocation: sourceLocation)
        return observation
    }

    /// Runs a step with a given observation (a setup through a non-nominal branch) and returns
    /// the verdict; the state advances whatever the verdict.
    @discardableResult
    mutating func run(_ operation: VsockOperation, observing observation: VsockObservation) -> Verdict {
        let expectation = model.expect(operation, in: state)
        return model.judge(observation, of: operation, against: expectation, state: &state)
    }

    /// Judges `observation` of `operation` in the current state, without advancing it.
    func judge(_ observation: VsockObservation, of operation: VsockOperation) -> Verdict {
        var copy = state
        return model.judge(observation, of: operation, against: model.expect(operation, in: state), state: &copy)
    }

    /// The state the model would be in after judging `observation` of `operation`.
    func state(after observation: VsockObservation, of operation: VsockOperation) -> VsockState {
        var copy = state
        _ = model.judge(observation, of: operation, against: model.expect(operation, in: state), state: &copy)
        return copy
    }
}

// MARK: - Shorthands

/// `s0`, `s1`: sockets by position, as the operations name them.
let s0 = SocketRef(0)
let s1 = SocketRef(1)
let s2 = SocketRef(2)

/// `VMADDR_CID_ANY` and `VMADDR_PORT_ANY`, for readable addresses.
let cidAny = VMAddr.cidAny
let portAny = VMAddr.portAny

/// An AF_VSOCK address.
func vm(_ cid: UInt32, _ port: UInt32, flags: UInt8 = 0) -> SockAddrVM {
    SockAddrVM(cid: cid, port: port, flags: flags)
}

/// A kernel function's negative return for `errno` (`-EINVAL`).
func neg(_ errno: Errno) -> Int { -Int(errno.rawValue) }

/// A transport callback that ran; predicates return 1 (true) or 0 (false).
func call(_ transport: TransportModule, _ hook: TransportHook, _ returned: Int) -> TransportCall {
    TransportCall(transport, hook, returned: returned)
}

/// An observation: the syscall's result, the callbacks that ran, every loaded module's refcnt.
func observed(_ result: SyscallResult, _ calls: [TransportCall] = [],
              refcounts: [TransportModule: Int], sentBy transmissions: [TransportModule]? = nil) -> VsockObservation {
    VsockObservation(result: result, calls: calls, refcounts: ModuleRefcounts(refcounts), transmissions: transmissions)
}

/// The occupied registration slots, as a dictionary (empty slots left out).
func occupiedSlots(_ state: VsockState) -> [TransportSlot: TransportModule] {
    var occupied: [TransportSlot: TransportModule] = [:]
    for slot in TransportSlot.allCases { if let holder = state.slots[slot] { occupied[slot] = holder } }
    return occupied
}

extension Verdict {
    /// The mismatch kind of a divergence; nil when the model agrees.
    var mismatchKind: Mismatch.Kind? {
        if case let .diverges(mismatch) = self { return mismatch.kind }
        return nil
    }

    /// The rule of an agreement; nil for a divergence.
    var agreedRule: String? {
        if case let .agrees(rule) = self { return rule }
        return nil
    }
}

extension VsockExpectation {
    /// The rule ids of the branches, in order.
    var ruleIDs: [String] { branches.map(\.rule.id) }

    /// The only branch, when there is exactly one (else the test fails and gets nil).
    func sole(sourceLocation: SourceLocation = #_sourceLocation) -> VsockBranch? {
        #expect(branches.count == 1, "expected one branch, got: \(self)", sourceLocation: sourceLocation)
        return branches.count == 1 ? branches[0] : nil
    }

    /// The first branch whose rule is `id` (nil, and the test fails, if none is).
    func branch(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) -> VsockBranch? {
        let found = branches.first { $0.rule.id == id }
        #expect(found != nil, "no branch with rule \(id) in: \(self)", sourceLocation: sourceLocation)
        return found
    }
}

extension VsockBranch {
    /// The transports whose callbacks this branch requires, in order.
    var callTransports: [TransportModule] { calls.map(\.transport) }

    /// The transports this branch assigns to its socket (`nil` for a release).
    var assignments: [TransportModule?] {
        effects.compactMap { if case let .assign(transport) = $0 { return .some(transport) } else { return nil } }
    }

    /// The transport a new socket opens on, if the branch opens one.
    var openedOn: TransportModule?? {
        for effect in effects { if case let .open(_, transport) = effect { return .some(transport) } }
        return nil
    }

    /// The binding this branch records, if any.
    var binding: LocalBinding? {
        for effect in effects { if case let .bind(binding) = effect { return binding } }
        return nil
    }
}

/// The profiles with the v5 datagram lookup (patch 03 onwards).
let v5Profiles: [VsockProfile] = [.vsockDgramV5Upto03, .vsockDgramV5]
