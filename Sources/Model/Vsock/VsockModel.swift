import SystemPackage

/// The vsock socket model: transport registration and selection, socket state, module
/// reference counts, under one ``VsockProfile``.
///
/// It states what the *core* (`af_vsock.c`) decides: which transport a socket or a packet gets,
/// which errors the core raises itself, how a transport callback's result propagates, and
/// which module references are held afterwards. Transport callbacks' own results are inputs.
public struct VsockModel: ReferenceModel {
    public typealias State = VsockState
    public typealias Operation = VsockOperation
    public typealias Observation = VsockObservation
    public typealias Expectation = VsockExpectation

    public let profile: VsockProfile
    public let configuration: VsockConfiguration

    public init(profile: VsockProfile, configuration: VsockConfiguration = VsockConfiguration()) {
        self.profile = profile
        self.configuration = configuration
    }

    public var initialState: VsockState { VsockState() }

    func lookup(in state: VsockState) -> TransportLookup {
        TransportLookup(state: state, configuration: configuration)
    }

    public func isApplicable(_ operation: VsockOperation, in state: VsockState) -> Bool {
        guard let ref = operation.socket else { return true }
        guard let socket = state.socket(ref) else { return false }
        switch operation {
        case .sendto, .send:
            // Connectible send paths are outside this model.
            return socket.type == .dgram
        case .sendtoLearned:
            return socket.type == .dgram && operation.learnedIndex! < state.learnedPorts.count
        case .bindLearned:
            return operation.learnedIndex! < state.learnedPorts.count
        case .connect:
            // A connectible socket's later connects depend on asynchronous peer answers.
            return !(socket.type.isConnectible && (socket.connectAttempted || socket.connected))
        default:
            return true
        }
    }

    public func expect(_ operation: VsockOperation, in state: VsockState) -> VsockExpectation {
        switch operation {
        case let .loadTransport(module):
            return VsockExpectation([TransportRegistry.load(module, in: state)])
        case let .unloadTransport(module):
            return VsockExpectation(TransportRegistry.unload(module, in: state))
        case let .socket(type):
            let branches = create(type, in: state)
            return VsockExpectation(branches, refcountsDecide: branches.count > 1)
        case let .bind(ref, address):
            return VsockExpectation(bind(ref.position, to: address, in: state))
        case .bindLearned, .sendtoLearned:
            return expect(operation.resolving(state.learnedPorts), in: state)
        case let .connect(ref, target):
            let dgram = state.sockets[ref.position].type == .dgram
            return VsockExpectation(connect(ref.position, to: target, in: state),
                                    refcountsDecide: dgram && profile.dgramLookup == .connectibleThenFallback)
        case let .sendto(ref, address, length):
            return VsockExpectation(send(ref.position, to: address, length: length, in: state))
        case let .send(ref, length):
            return VsockExpectation(send(ref.position, to: nil, length: length, in: state))
        case let .recv(ref, buffer, source):
            return VsockExpectation(receive(ref.position, buffer: buffer, source: source, in: state))
        case let .getsockname(ref):
            return VsockExpectation(getsockname(ref.position, in: state))
        case let .getpeername(ref):
            return VsockExpectation([getpeername(ref.position, in: state)])
        case let .close(ref):
            let socket = state.sockets[ref.position]
            let lingers = socket.type.isConnectible && socket.connectAttempted && socket.transport != nil
            return VsockExpectation([VsockBranch(result: .exactly(.value(0)), effects: SharedEffects.close,
                                                 rule: lingers ? VsockRules.closeLingers : VsockRules.close)])
        }
    }

    public func judge(_ observation: VsockObservation, of operation: VsockOperation,
                      against expectation: VsockExpectation, state: inout VsockState) -> Verdict {
        let target = operation.socket?.position
        state.operationsJudged += 1
        guard let first = expectation.branches.firstIndex(where: { $0.admits(observation) }) else {
            return .diverges(classify(observation, against: expectation))
        }
        if let mismatch = transmissionMismatch(observation, of: operation, in: state) { return .diverges(mismatch) }
        if expectation.refcountsDecide {
            // Branches that differ only in their effects (which transport a socket took, where
            // intent is unclear): the reference counts decide; the first that agrees is taken.
            for index in expectation.branches.indices where expectation.branches[index].admits(observation) {
                if let predicted = state.refcounts(after: expectation.branches[index].effects, target: target) {
                    guard state.refcountsAdmit(observation.refcounts, definite: predicted) else { continue }
                    state.apply(expectation.branches[index].effects, target: target, observed: observation.result)
                    state.forgetReleasedReferences(observation.refcounts)
                    return .agrees(rule: expectation.branches[index].rule.id)
                }
                var candidate = state
                candidate.apply(expectation.branches[index].effects, target: target, observed: observation.result)
                if candidate.refcountsEqual(observation.refcounts) {
                    candidate.forgetReleasedReferences(observation.refcounts)
                    state = candidate
                    return .agrees(rule: expectation.branches[index].rule.id)
                }
            }
        }
        // One branch admits the result (the common case, judged in place), or none of several
        // agrees on the counts: the first is reported. Read in place: copying a branch costs a
        // reference count per array it holds, on every step.
        state.apply(expectation.branches[first].effects, target: target, observed: observation.result)
        let rule = expectation.branches[first].rule.id
        if !state.refcountsEqual(observation.refcounts) {
            let lingering = state.lingering.isEmpty ? ""
                : " (+ up to \(state.lingering.map(\.shortName).joined(separator: ", ")) lingering)"
            return .diverges(Mismatch(kind: .refcount, detail:
                "expected refcnt \(Self.describe(state.refcounts))\(lingering), observed \(Self.describe(observation.refcounts)) [\(rule)]"))
        }
        state.forgetReleasedReferences(observation.refcounts)
        return .agrees(rule: rule)
    }

    public func nominalObservation(of operation: VsockOperation, for expectation: VsockExpectation,
                                   in state: VsockState) -> VsockObservation {
        let branch = expectation.branches[0]
        let length: Int
        switch operation {
        case let .sendto(_, _, bytes), let .sendtoLearned(_, _, _, bytes), let .send(_, bytes): length = bytes
        default: length = 0
        }
        let calls = branch.calls.map { call -> TransportCall in
            let ok = call.returns != .failure
            let returned = call.hook.isPredicate ? (ok ? 1 : 0)
                : ok ? (call.hook == .dgramEnqueue ? length : 0) : -Int(Errno.invalidArgument.rawValue)
            return TransportCall(call.transport, call.hook, returned: returned)
        }
        let result: SyscallResult
        switch branch.result {
        case let .exactly(value): result = value
        case .anyValue: result = .value(3 + state.sockets.count)
        case let .oneOf(values): result = values[0]
        case .propagated: result = SyscallResult(kernelReturn: calls.last?.returned ?? 0)
        case .anyFailure: result = .failure(.invalidArgument)
        case let .addressAnyCID(port, flags): result = .address(SockAddrVM(cid: VMAddr.cidHost, port: port, flags: flags))
        case let .datagram(expected):
            let head = Array(DatagramPayload.bytes(tag: expected.tag, length: min(4, expected.copied)))
            let source = expected.sourceCIDs.map {
                SockAddrVM(cid: $0.first ?? VMAddr.cidHost, port: expected.sourcePort.lowest)  // none listed: the environment's
            }
            result = .received(ReceivedDatagram(copied: expected.copied, truncated: expected.truncated, head: head,
                                                source: source))
        case let .address(cid, port, flags):
            result = .address(SockAddrVM(cid: cid, port: port.lowest, flags: flags))
        }
        var after = state
        after.apply(branch.effects, target: operation.socket?.position, observed: result)
        return VsockObservation(result: result, calls: calls, refcounts: after.refcounts)
    }

    /// Names what differs between an observation and the closest allowed branch.
    func classify(_ observation: VsockObservation, against expectation: VsockExpectation) -> Mismatch {
        let hooks = observation.calls.map(\.hook)
        let allowed = expectation.branches.map(\.description).joined(separator: " | ")
        let detail = "expected \(allowed); observed \(observation)"
        // The same callbacks ran and returned as a branch requires: only the result differs.
        if expectation.branches.contains(where: { branch in
            branch.calls.count == observation.calls.count && zip(branch.calls, observation.calls).allSatisfy { $0.admits($1) }
        }) {
            return Mismatch(kind: .result, detail: detail)
        }
        if expectation.branches.contains(where: { $0.calls.map(\.hook) == hooks && !hooks.isEmpty }) {
            return Mismatch(kind: .transport, detail: detail)
        }
        return Mismatch(kind: .callbacks, detail: detail)
    }

    static func describe(_ counts: ModuleRefcounts) -> String { counts.description }
}

extension VsockBranch {
    /// Whether the observation took this branch: the same callbacks, on the same transports,
    /// returning as required, and a syscall result as required.
    func admits(_ observation: VsockObservation) -> Bool {
        guard calls.count == observation.calls.count,
              zip(calls, observation.calls).allSatisfy({ $0.admits($1) }) else { return false }
        switch result {
        case let .exactly(expected): return observation.result == expected
        case .anyValue:
            if case let .value(fd) = observation.result { return fd >= 0 } else { return false }
        case let .oneOf(results): return results.contains(observation.result)
        case .propagated:
            guard let last = observation.calls.last else { return false }
            return observation.result == SyscallResult(kernelReturn: last.returned)
        case .anyFailure: return !observation.result.isSuccess
        case let .addressAnyCID(port, flags):
            if case let .address(address) = observation.result { return address.port == port && address.flags == flags }
            return false
        case let .address(cid, port, flags):
            if case let .address(address) = observation.result {
                return address.cid == cid && port.admits(address.port) && address.flags == flags
            }
            return false
        case let .datagram(expected):
            if case let .received(received) = observation.result { return expected.admits(received) }
            return false
        }
    }
}
