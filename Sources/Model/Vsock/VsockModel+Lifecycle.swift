extension VsockModel {
    /// `socket(AF_VSOCK, type, 0)`: `vsock_create()`.
    func create(_ type: SocketType, in state: VsockState) -> [VsockBranch] {
        guard type == .dgram else {
            return [VsockBranch(result: .anyValue, effects: [.open(type, transport: nil)],
                                rule: VsockRules.createConnectible)]
        }
        let transport: TransportModule?
        let rule: Rule
        switch profile.dgramLookup {
        case .dgramSlotOnly:
            transport = state.transport(in: .dgram)
            rule = VsockRules.createDgramSlot
        case .connectibleThenFallback:
            // The remote address of a new socket is (VMADDR_CID_ANY, VMADDR_PORT_ANY), flags 0.
            transport = lookup(in: state).dgram(cid: VMAddr.cidAny, flags: 0, profile: profile)
            rule = VsockRules.createDgramLookup
        }
        guard let transport else {
            return [VsockBranch(result: .exactly(.failure(.operationNotSupportedByDevice)), rule: VsockRules.assignNoTransport)]
        }
        return [VsockBranch(result: .anyValue, effects: [.open(.dgram, transport: transport)], rule: rule)]
    }

    /// `getsockname()`: `vsock_getname(peer = 0)`.
    func getsockname(_ position: Int, in state: VsockState) -> [VsockBranch] {
        let socket = state.sockets[position]
        guard let local = socket.local else {
            return [VsockBranch(result: .address(cid: VMAddr.cidAny, port: .exactly(VMAddr.portAny)),
                                rule: VsockRules.getsockname)]
        }
        let port = local.port.map(PortExpectation.exactly) ?? .ephemeral(minimum: local.ephemeralMinimum)
        var branches = [VsockBranch(result: .address(cid: local.cid, port: port), effects: [.learnLocalPort],
                                    rule: VsockRules.getsockname)]
        if socket.mayBeReaddressedToAny {
            branches.append(VsockBranch(result: .address(cid: VMAddr.cidAny, port: port),
                                        effects: [.learnLocalPort, .readdressedToAny],
                                        rule: VsockRules.getsocknameReaddressed))
        }
        return branches
    }

    /// `getpeername()`: `vsock_getname(peer = 1)`. A connectible socket is never connected in
    /// the operations the model states (nothing listens), so only a connected datagram socket
    /// has a peer.
    func getpeername(_ position: Int, in state: VsockState) -> VsockBranch {
        let socket = state.sockets[position]
        guard socket.connected else {
            return VsockBranch(result: .exactly(.failure(.socketNotConnected)), rule: VsockRules.getpeernameNotConnected)
        }
        return VsockBranch(result: .address(cid: socket.remote.cid, port: .exactly(socket.remote.port),
                                            flags: socket.remote.flags),
                           rule: VsockRules.getpeername)
    }
}
