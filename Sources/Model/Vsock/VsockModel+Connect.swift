import SystemPackage

extension VsockModel {
    /// `connect()`: `vsock_dgram_connect()` for datagrams, `vsock_connect()` otherwise.
    func connect(_ position: Int, to target: ConnectTarget, in state: VsockState) -> [VsockBranch] {
        let socket = state.sockets[position]
        return socket.type.isConnectible
            ? connectConnectible(position, socket, to: target, in: state)
            : connectDgram(position, socket, to: target, in: state)
    }

    private func connectDgram(_ position: Int, _ socket: VsockSocket, to target: ConnectTarget,
                              in state: VsockState) -> [VsockBranch] {
        guard case let .address(address) = target else {
            return [VsockBranch(result: .exactly(.value(0)), effects: [.setRemote(.any), .setConnected(false)],
                                rule: VsockRules.dgramDisconnect)]
        }
        guard address.hasValidFlags else {
            return [VsockBranch(result: .exactly(.failure(.invalidArgument)), rule: VsockRules.addressInvalid)]
        }
        let connected: [VsockEffect] = [.setRemote(address), .setConnected(true)]
        switch profile.dgramLookup {
        case .dgramSlotOnly:
            // Mainline: the socket's transport is asked; the remote is stored only when allowed.
            return autobindSteps(position, in: state).then { prefix in
                guard let transport = socket.transport else {
                    return [.done(prefix.finish(.anyFailure, rule: VsockRules.sendNullTransport))]
                }
                return [
                    .done(prefix.finish(.exactly(.value(0)), calls: [ExpectedCall(transport, .dgramAllow, .success)],
                                        effects: connected, rule: VsockRules.dgramConnectAllow)),
                    .done(prefix.finish(.exactly(.failure(.invalidArgument)),
                                        calls: [ExpectedCall(transport, .dgramAllow, .failure)],
                                        rule: VsockRules.dgramConnectAllow)),
                ]
            }.branches
        case .connectibleThenFallback:
            // v5 03 assigns the transport by lookup, as connectible sockets do; a call that fails
            // leaves the socket as it was (docs/vsock-dgram-v5-intent.md, 2.5).
            return autobindSteps(position, in: state).then { prefix in
                guard let transport = lookup(in: state).dgram(cid: address.cid, flags: address.flags, profile: profile) else {
                    return [.done(prefix.finish(.exactly(.failure(.operationNotSupportedByDevice)),
                                                rule: VsockRules.assignNoTransport))]
                }
                // The old transport's reference is dropped, the new one's taken.
                let reassign: [VsockEffect] = transport != socket.transport ? [.assign(transport)] : []
                var branches: [Step] = [
                    .done(prefix.finish(.exactly(.value(0)), calls: [ExpectedCall(transport, .dgramAllow, .success)],
                                        effects: [.setRemote(address)] + reassign + [.setConnected(true)],
                                        rule: VsockRules.dgramConnectAssigns)),
                    .done(prefix.finish(.exactly(.failure(.invalidArgument)),
                                        calls: [ExpectedCall(transport, .dgramAllow, .failure)],
                                        rule: VsockRules.dgramConnectFailedUnchanged)),
                ]
                if !socket.connected && !reassign.isEmpty {
                    branches.append(.done(prefix.finish(.exactly(.failure(.invalidArgument)),
                                                        calls: [ExpectedCall(transport, .dgramAllow, .failure)],
                                                        effects: reassign, rule: VsockRules.dgramConnectFailedTransport)))
                }
                return branches
            }.branches
        }
    }

    /// `vsock_connect()` on an unconnected STREAM/SEQPACKET socket, non-blocking.
    private func connectConnectible(_ position: Int, _ socket: VsockSocket, to target: ConnectTarget,
                                    in state: VsockState) -> [VsockBranch] {
        guard case let .address(address) = target else {
            return [VsockBranch(result: .exactly(.failure(.invalidArgument)), rule: VsockRules.connectibleUnspec)]
        }
        guard address.hasValidFlags else {
            return [VsockBranch(result: .exactly(.failure(.invalidArgument)), rule: VsockRules.addressInvalid)]
        }
        let start = Prefix(effects: [.setRemote(address)], rule: VsockRules.connectibleLookup)
        guard let transport = lookup(in: state).connectible(cid: address.cid, flags: address.flags) else {
            return [start.finish(.exactly(.failure(.operationNotSupportedByDevice)), rule: VsockRules.assignNoTransport)]
        }
        let unsupported = ExpectedResult.exactly(.failure(.socketTypeNotSupported))
        var steps: [Step] = [.proceed(start)]
        if socket.type == .seqpacket {
            guard transport.hasSeqpacketAllow else {
                return [start.finish(unsupported, rule: VsockRules.seqpacketAllow)]
            }
            steps = [
                .proceed(start.adding(calls: [ExpectedCall(transport, .seqpacketAllow, .success)])),
                .done(start.finish(unsupported, calls: [ExpectedCall(transport, .seqpacketAllow, .failure)],
                                   rule: VsockRules.seqpacketAllow)),
            ]
        }
        return steps.then { prefix in
            let assigned = prefix.adding(effects: [.assign(transport), .markConnectAttempted])
            return [
                .proceed(assigned.adding(calls: [ExpectedCall(transport, .streamAllow, .success)])),
                .done(assigned.finish(.exactly(.failure(.networkUnreachable)),
                                      calls: [ExpectedCall(transport, .streamAllow, .failure)],
                                      rule: VsockRules.streamAllow)),
            ]
        }.then { prefix in
            autobindConnectible(position, after: prefix, in: state)
        }.then { prefix in
            // The request goes out; through loopback it comes back to a socket of this VM.
            let delivered: [VsockEffect] = transport == .loopback && address.cid == VMAddr.cidAny
                ? [.packetToCidAny(port: address.port, via: transport)] : []
            return [
                .done(prefix.finish(.oneOf(Self.nonBlockingConnectAnswers), calls: [ExpectedCall(transport, .connect, .success)],
                                    effects: delivered, rule: VsockRules.connectCallback)),
                .done(prefix.finish(.propagated, calls: [ExpectedCall(transport, .connect, .failure)],
                                    rule: VsockRules.connectCallback)),
            ]
        }.branches
    }

    /// Non-blocking: EINPROGRESS, unless the peer's reset or accept already arrived.
    static let nonBlockingConnectAnswers: [SyscallResult] =
        [.failure(.nowInProgress), .failure(.connectionReset), .value(0)]

    private func autobindConnectible(_ position: Int, after prefix: Prefix, in state: VsockState) -> [Step] {
        autobindSteps(position, in: state).map { step in
            switch step {
            case let .done(branch):
                return .done(VsockBranch(calls: prefix.calls + branch.calls, result: branch.result,
                                         effects: prefix.effects + branch.effects, rule: branch.rule))
            case let .proceed(more):
                return .proceed(prefix.adding(calls: more.calls, effects: more.effects))
            }
        }
    }
}
