import SystemPackage

extension VsockModel {
    /// `sendto()` with an address, or `send()` (`address == nil`): `vsock_dgram_sendmsg()`.
    func send(_ position: Int, to address: SockAddrVM?, in state: VsockState) -> [VsockBranch] {
        let socket = state.sockets[position]
        // vsock_auto_bind() runs before the address is looked at, in both profiles.
        return autobindSteps(position, in: state).then { prefix in
            // An address that fails vsock_addr_cast() is ignored: the connected path is taken.
            if let address, address.hasValidFlags {
                return sendWithAddress(address, socket: socket, after: prefix, in: state)
            }
            return sendConnected(socket, after: prefix)
        }.branches
    }

    private func sendWithAddress(_ address: SockAddrVM, socket: VsockSocket, after prefix: Prefix,
                                 in state: VsockState) -> [Step] {
        let transport: TransportModule?
        let rule: Rule
        switch profile.dgramLookup {
        case .dgramSlotOnly:
            transport = socket.transport
            rule = VsockRules.sendSocketTransport
        case .connectibleThenFallback:
            // v5 03: per-packet lookup; its module reference is taken and dropped around the send.
            transport = lookup(in: state).dgram(cid: address.cid, flags: address.flags, profile: profile)
            rule = VsockRules.sendtoPerPacket
        }
        guard let transport else {
            return [.done(prefix.finish(.exactly(.failure(.invalidArgument)), rule: VsockRules.sendtoNoTransport))]
        }
        if address.port == VMAddr.portAny {
            return [.done(prefix.finish(.exactly(.failure(.invalidArgument)), rule: VsockRules.sendPortAny))]
        }
        return allowThenEnqueue(on: transport, after: prefix, rule: rule)
    }

    private func sendConnected(_ socket: VsockSocket, after prefix: Prefix) -> [Step] {
        guard socket.connected else {
            return [.done(prefix.finish(.exactly(.failure(.invalidArgument)), rule: VsockRules.sendNotConnected))]
        }
        guard let transport = socket.transport else {
            return [.done(prefix.finish(.anyFailure, rule: VsockRules.sendNullTransport))]
        }
        // af_vsock.c:1259: CID ANY becomes the transport's own CID, whatever follows.
        var prefix = prefix
        if socket.remote.cid == VMAddr.cidAny {
            if transport == .vmci {
                // VMCI's own CID is its context id, the environment's: getpeername() will tell.
                prefix = prefix.adding(effects: [.remoteCIDResolved])
            } else if case let own = configuration.localCID(of: transport), own != VMAddr.cidAny {
                prefix = prefix.adding(effects: [.setRemote(SockAddrVM(cid: own, port: socket.remote.port,
                                                                       flags: socket.remote.flags))])
            }
        }
        if socket.remote.port == VMAddr.portAny {
            return [.done(prefix.finish(.exactly(.failure(.invalidArgument)), rule: VsockRules.sendPortAny))]
        }
        return allowThenEnqueue(on: transport, after: prefix, rule: VsockRules.sendSocketTransport)
    }
}
