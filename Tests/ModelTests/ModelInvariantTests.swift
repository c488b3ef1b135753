import Generators
import Model
import SystemPackage
import Testing

/// Invariants of the model over generated operation sequences, in every profile: what any state
/// the model reaches must satisfy, whatever the kernel answered.
@Suite("model invariants over generated runs")
struct ModelInvariantTests {
    static let seeds: Range<UInt64> = 0..<200
    static let operations = 100

    /// The problems of one step, empty when every invariant holds.
    ///
    /// - `before`/`after`: the model state around the step; `observation` the judged one.
    static func problems(before: VsockState, after: VsockState, operation: VsockOperation,
                         observation: VsockObservation) -> [String] {
        var problems: [String] = []
        let counts = observation.refcounts
        // Reference counts never negative.
        if let negative = counts.first(where: { $0.count < 0 }) ?? after.refcounts.first(where: { $0.count < 0 }) {
            problems.append("negative refcount \(negative)")
        }
        // /sys/module/<m>/refcnt exists for exactly the loaded modules.
        if Set(counts.map(\.module)) != Set(after.loaded) {
            problems.append("refcounts list \(counts), loaded are \(after.loaded.map(\.shortName))")
        }
        if Set(after.loaded).count != after.loaded.count { problems.append("a module loaded twice: \(after.loaded)") }
        // Every socket holding a transport has that module loaded.
        for socket in after.sockets {
            if let transport = socket.transport, !after.loaded.contains(transport) {
                problems.append("socket #\(socket.serial) holds unloaded \(transport.shortName)")
            }
        }
        // An unloaded module owns no slot; a loaded one owns exactly the slots it registers.
        for (slot, holder) in occupiedSlots(after) where !after.loaded.contains(holder) {
            problems.append("unloaded \(holder.shortName) still owns \(slot)")
        }
        for module in after.loaded {
            for slot in module.registersSlots where after.slots[slot] != module {
                problems.append("loaded \(module.shortName) does not own \(slot)")
            }
        }
        // Refcounts equal the number of open sockets holding each transport: closed sockets hold none.
        var holders: [TransportModule: Int] = [:]
        for socket in after.sockets { if let transport = socket.transport { holders[transport, default: 0] += 1 } }
        for module in after.loaded where counts[module, default: 0] != holders[module, default: 0] {
            problems.append("\(module.shortName): refcnt \(counts[module, default: 0]) but \(holders[module, default: 0]) sockets hold it")
        }
        // Sockets keep their identity; only close removes one, only socket() adds one.
        let serialsBefore = before.sockets.map(\.serial)
        let serialsAfter = after.sockets.map(\.serial)
        switch operation {
        case let .close(ref):
            var expected = serialsBefore
            let closed = expected.remove(at: ref.position)
            if serialsAfter != expected { problems.append("close(\(ref)) left sockets \(serialsAfter), expected \(expected)") }
            // The closed socket's reference, and only it, is gone.
            let released = before.sockets[ref.position].transport
            for module in after.loaded {
                let change = counts[module, default: 0] - before.refcounts[module, default: 0]
                if change != (module == released ? -1 : 0) {
                    problems.append("close of socket #\(closed) changed \(module.shortName) refcnt by \(change)")
                }
            }
        case let .socket(type):
            let opened = serialsAfter.count == serialsBefore.count + 1
            if Array(serialsAfter.prefix(serialsBefore.count)) != serialsBefore || serialsAfter.count > serialsBefore.count + 1 {
                problems.append("socket() changed existing sockets: \(serialsBefore) → \(serialsAfter)")
            }
            if opened != observation.result.isSuccess {
                problems.append("socket() returned \(observation.result) but \(opened ? "opened" : "did not open") a socket")
            }
            if opened, let new = after.sockets.last {
                // STREAM/SEQPACKET get no transport at creation. (A mainline DGRAM socket always
                // gets one, LifecycleRuleTests; under v5 none is allowed: unclear intent.)
                if type.isConnectible && new.transport != nil {
                    problems.append("new \(type) socket on \(new.transport?.shortName ?? "no transport")")
                }
                if new.local != nil || new.connected { problems.append("new socket is bound or connected") }
            }
        default:
            if serialsAfter != serialsBefore { problems.append("\(operation) changed the socket list") }
        }
        // Only the target socket's transport can change, and only connect() changes it.
        if case .close = operation {} else if serialsAfter.starts(with: serialsBefore) {
            for (position, socket) in before.sockets.enumerated() {
                let now = after.sockets[position].transport
                let mayChange: Bool
                if case .connect = operation { mayChange = position == operation.socket?.position } else { mayChange = false }
                if now != socket.transport && !mayChange {
                    problems.append("\(operation) moved socket #\(socket.serial) from \(socket.transport?.shortName ?? "none") to \(now?.shortName ?? "none")")
                }
            }
        }
        // Module reference totals: a step other than socket/connect/close leaves every surviving
        // module's count unchanged (v5's per-packet reference is net zero).
        switch operation {
        case .loadTransport, .unloadTransport, .bind, .sendto, .send, .getsockname:
            for module in after.loaded where before.loaded.contains(module)
                && counts[module, default: 0] != before.refcounts[module, default: 0] {
                problems.append("\(operation) changed \(module.shortName) refcnt \(before.refcounts[module, default: 0]) → \(counts[module, default: 0])")
            }
        default: break
        }
        // A module unloads only with no reference.
        if case let .unloadTransport(module) = operation, !after.loaded.contains(module),
           before.refcounts[module, default: 0] > 0 {
            problems.append("\(module.shortName) unloaded with refcnt \(before.refcounts[module, default: 0])")
        }
        return problems
    }

    // The engine's own explainer: each step's nominal observation must be one the model allows
    // under the expectation it gave, and the states it leads to must keep the invariants.
    @Test("nominal runs (Runner.explain): branches exist, nominal agrees, invariants hold", arguments: VsockProfile.all)
    func nominalRuns(profile: VsockProfile) {
        let model = VsockModel(profile: profile)
        let runner = Runner(model: model, generator: VsockOperationGenerator())
        var steps = 0
        var kinds = Set<String>()
        for seed in Self.seeds {
            let (_, explained) = runner.explain(RunConfiguration(seed: seed, operations: Self.operations))
            var state = model.initialState
            for (index, (operation, expectation, observation)) in explained.enumerated() {
                let where_ = "seed \(seed) step \(index) \(operation)"
                guard model.isApplicable(operation, in: state) else {
                    Issue.record("\(where_): explained but not applicable")
                    return
                }
                #expect(!expectation.branches.isEmpty, "\(where_): no branch")
                #expect(model.expect(operation, in: state) == expectation, "\(where_): expectation not deterministic")
                let before = state
                let verdict = model.judge(observation, of: operation, against: expectation, state: &state)
                guard case let .agrees(rule) = verdict else {
                    Issue.record("\(where_): nominal \(observation) diverges: \(verdict)")
                    return
                }
                #expect(expectation.branches.contains { $0.rule.id == rule }, "\(where_): agreed rule \(rule) is no branch's")
                let problems = Self.problems(before: before, after: state, operation: operation, observation: observation)
                if !problems.isEmpty {
                    Issue.record("\(where_) → \(observation): \(problems.joined(separator: "; "))")
                    return
                }
                kinds.insert(operation.kindName)
                steps += 1
            }
        }
        // The runs did exercise the model: every operation kind, and thousands of steps.
        #expect(kinds == Set(VsockOperationKind.allCases.map(\.rawValue)))
        #expect(steps > Self.seeds.count * Self.operations / 2)
    }

    /// An observation that takes `branch`, with the environment's values drawn from `source`;
    /// nil for a branch no observation can take. Refcounts are left empty.
    static func observation(taking branch: VsockBranch, of operation: VsockOperation, state: VsockState,
                            source: inout ChoiceSource) -> VsockObservation? {
        let errors: [Errno] = [.invalidArgument, .operationNotSupportedByDevice, .permissionDenied, .messageTooLong,
                               .noRouteToHost, .addressInUse]
        var length = 1
        if case let .sendto(_, _, bytes) = operation { length = bytes }
        if case let .send(_, bytes) = operation { length = bytes }
        let calls = branch.calls.map { expected -> TransportCall in
            let succeed: Bool
            switch expected.returns {
            case .success: succeed = true
            case .failure: succeed = false
            case .any: succeed = source.chance(1, in: 2)
            }
            let returned: Int
            if expected.hook.isPredicate {
                returned = succeed ? 1 : 0
            } else if succeed {
                returned = expected.hook == .dgramEnqueue ? length : 0
            } else {
                returned = neg(source.pick(errors))
            }
            return TransportCall(expected.transport, expected.hook, returned: returned)
        }
        let result: SyscallResult
        switch branch.result {
        case let .exactly(value): result = value
        case .anyValue: result = .value(3 + state.sockets.count)
        case let .oneOf(values): result = source.pick(values)
        case .propagated:
            guard let last = calls.last else { return nil }
            result = SyscallResult(kernelReturn: last.returned)
        case .anyFailure: result = .failure(source.pick(errors))
        case let .addressAnyCID(port, flags): result = .address(SockAddrVM(cid: source.pick([1, 2, 3]), port: port, flags: flags))
        case let .datagram(expected):
            let head = DatagramPayload.bytes(tag: expected.tag, length: min(4, expected.copied))
            let sourceAddress = expected.sourceCIDs.map { listed -> SockAddrVM in
                let cids = listed.isEmpty ? [1, 2, 3] : listed  // none listed: the environment's, any
                switch expected.sourcePort {
                case let .exactly(port): return SockAddrVM(cid: source.pick(cids), port: port)
                case let .ephemeral(minimum, _): return SockAddrVM(cid: source.pick(cids), port: minimum + UInt32(source.draw(below: 50_000)))
                }
            }
            result = .received(ReceivedDatagram(copied: expected.copied, truncated: expected.truncated, head: head,
                                                source: sourceAddress))
        case let .address(cid, port, flags):
            switch port {
            case let .exactly(value): result = .address(SockAddrVM(cid: cid, port: value, flags: flags))
            case let .ephemeral(minimum, _):
                result = .address(SockAddrVM(cid: cid, port: minimum + UInt32(source.draw(below: 50_000)), flags: flags))
            }
        }
        return VsockObservation(result: result, calls: calls)
    }

    // Any branch the model offers, not only the nominal one: callbacks failing, binds colliding,
    // reassignments failing. Each drawn observation must be admitted, and the invariants hold.
    @Test("random branches: every branch admits its own outcome, invariants hold", arguments: VsockProfile.all)
    func randomBranches(profile: VsockProfile) {
        let model = VsockModel(profile: profile)
        let generator = VsockOperationGenerator()
        let enabled = Set(generator.kinds)
        var rules = Set<String>()
        for seed in Self.seeds {
            var source = ChoiceSource(seed: seed)
            var state = model.initialState
            for index in 0..<Self.operations {
                let operation = generator.draw(from: &source, state: state, enabled: enabled)
                guard model.isApplicable(operation, in: state) else { continue }
                let where_ = "seed \(seed) step \(index) \(operation)"
                let expectation = model.expect(operation, in: state)
                guard !expectation.branches.isEmpty else {
                    Issue.record("\(where_): no branch")
                    return
                }
                let branch = source.pick(expectation.branches)
                guard var observation = Self.observation(taking: branch, of: operation, state: state, source: &source) else {
                    Issue.record("\(where_): branch \(branch) admits no observation")
                    return
                }
                // The refcounts the model expects after this branch: judge once on a copy.
                var probe = state
                _ = model.judge(observation, of: operation, against: expectation, state: &probe)
                observation.refcounts = probe.refcounts
                let before = state
                let verdict = model.judge(observation, of: operation, against: expectation, state: &state)
                guard case let .agrees(rule) = verdict else {
                    Issue.record("\(where_): \(observation) drawn from \(branch) diverges: \(verdict)")
                    return
                }
                rules.insert(rule)
                let problems = Self.problems(before: before, after: state, operation: operation, observation: observation)
                if !problems.isEmpty {
                    Issue.record("\(where_) → \(observation): \(problems.joined(separator: "; "))")
                    return
                }
            }
        }
        // The failure branches were reached too, not just the happy paths.
        for rule in ["module.unload.in-use", "vsock.bind.eaddrinuse",
                     "vsock.dgram.send.allow", "vsock.assign.enodev", "vsock.connect.stream.allow"] {
            #expect(rules.contains(rule), "rule \(rule) never reached")
        }
    }
}
