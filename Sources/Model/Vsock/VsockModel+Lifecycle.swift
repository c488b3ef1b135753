extension VsockModel {
    /// `socket(AF_VSOCK, type, 0)`: `vsock_create()`.
    func create(_ type: SocketType, in state: VsockState) -> [VsockBranch] {
        guard type == .dgram else {
            return [VsockBranch(result: .anyValue, effects: SharedEffects.open(type, transport: nil),
                                rule: VsockRules.createConnectible)]
        }
        let enodev = VsockBranch(result: .exactly(.failure(.operationNotSupportedByDevice)), rule: VsockRules.assignNoTransport)
        func opened(_ transport: TransportModule?, _ rule: Rule) -> VsockBranch {
            VsockBranch(result: .anyValue, effects: SharedEffects.open(.dgram, transport: transport), rule: rule)
        }
        if profile.dgramCreation == .dgramSlot {
            return [state.transport(in: .dgram).map { opened($0, VsockRules.createDgramSlot) } ?? enodev]
        }
        // The remote address of a new socket is (VMADDR_CID_ANY, VMADDR_PORT_ANY), flags 0.
        let chosen = lookup(in: state).dgram(cid: VMAddr.cidAny, flags: 0, profile: profile)
        if state.slots.local == nil && state.slots.g2h == nil && state.slots.h2g == nil {
            // Only the fallback, or nothing: patch 03's message says the fallback "needs to be used".
            if let fallback = chosen { return [opened(fallback, VsockRules.createDgramLookup)] }
            return [enodev, opened(nil, VsockRules.createDgramNoTransport)]
        }
        switch profile.dgramCreation {
        case .dgramSlot, .seedIntent:
            // The lookup's transport first: it is the nominal outcome replays and tests take.
            var branches = chosen.map { [opened($0, VsockRules.createDgramSeedUnclear)] } ?? []
            branches.append(opened(nil, VsockRules.createDgramSeedUnclear))
            branches.append(VsockBranch(result: enodev.result, rule: VsockRules.createDgramSeedUnclear))
            return branches
        case .seriesIntent:
            var transports: [TransportModule] = []
            for candidate in [chosen, chosen == nil ? state.slots.local : nil, state.slots.dgram].compactMap({ $0 })
                where !transports.contains(candidate) {
                transports.append(candidate)
            }
            return transports.map { opened($0, $0 == chosen ? VsockRules.createDgramLookup : VsockRules.createDgramSupported) }
                + [opened(nil, VsockRules.createDgramNoTransport)]
        }
    }

    /// `getsockname()`: `vsock_getname(peer = 0)`.
    func getsockname(_ position: Int, in state: VsockState) -> [VsockBranch] {
        let socket = state.sockets[position]
        guard let local = socket.local else {
            return [VsockBranch(result: .address(cid: VMAddr.cidAny, port: .exactly(VMAddr.portAny)),
                                rule: VsockRules.getsockname)]
        }
        let port = local.port.map(PortExpectation.exactly)
            ?? .ephemeral(minimum: local.ephemeralMinimum, taken: portsTaken(against: local, except: position, in: state))
        var branches = [VsockBranch(result: .address(cid: local.cid, port: port), effects: SharedEffects.learnLocalPort,
                                    rule: VsockRules.getsockname)]
        if socket.mayBeReaddressedToAny {
            branches.append(VsockBranch(result: .address(cid: VMAddr.cidAny, port: port),
                                        effects: [.learnLocalPort, .readdressedToAny],
                                        rule: VsockRules.getsocknameReaddressed))
        }
        return branches
    }

    /// The known ports an ephemeral binding of `local` cannot have: those other sockets hold in
    /// the same core table with a colliding CID (`__vsock_find_bound_socket`'s match). VMCI's own
    /// bindings are its business.
    func portsTaken(against local: LocalBinding, except position: Int, in state: VsockState) -> [UInt32] {
        guard local.table != .transport else { return [] }
        var taken: [UInt32] = []
        for (index, other) in state.sockets.enumerated() where index != position {
            guard let binding = other.local, binding.table == local.table, let port = binding.port,
                  binding.cid == local.cid || binding.cid == VMAddr.cidAny || local.cid == VMAddr.cidAny else { continue }
            taken.append(port)
        }
        return taken
    }

    /// `getpeername()`: `vsock_getname(peer = 1)`. A connectible socket is never connected in
    /// the operations the model states (nothing listens), so only a connected datagram socket
    /// has a peer.
    func getpeername(_ position: Int, in state: VsockState) -> VsockBranch {
        let socket = state.sockets[position]
        guard socket.connected else {
            return VsockBranch(result: .exactly(.failure(.socketNotConnected)), rule: VsockRules.getpeernameNotConnected)
        }
        if socket.remoteCIDUnknown {
            return VsockBranch(result: .addressAnyCID(port: socket.remote.port, flags: socket.remote.flags),
                               effects: [.learnRemoteCID], rule: VsockRules.sendResolvesCidAny)
        }
        return VsockBranch(result: .address(cid: socket.remote.cid, port: .exactly(socket.remote.port),
                                            flags: socket.remote.flags),
                           rule: VsockRules.getpeername)
    }
}
