import SystemPackage

extension VsockModel {
    /// `sendto()` with an address, or `send()` (`address == nil`): `vsock_dgram_sendmsg()`.
    func send(_ position: Int, to address: SockAddrVM?, length: Int, in state: VsockState) -> [VsockBranch] {
        let socket = state.sockets[position]
        let datagram = Datagram(tag: UInt32(truncatingIfNeeded: state.operationsJudged + 1), length: length)
        // vsock_auto_bind() runs before the address is looked at, in both profiles.
        return autobindSteps(position, in: state).then { prefix in
            // An address that fails vsock_addr_cast() is ignored: the connected path is taken.
            if let address, address.hasValidFlags {
                return sendWithAddress(address, datagram, socket: socket, after: prefix, in: state)
            }
            return sendConnected(socket, datagram, after: prefix)
        }.branches
    }

    /// What a send carries: its tag (the operation's number) and length.
    struct Datagram {
        let tag: UInt32
        let length: Int

        /// N1: a datagram `vsock_loopback` accepted is delivered in this VM (only the whole series
        /// carries datagrams through loopback: before patch 12 its `dgram_allow` is false); one
        /// VMCI accepted may be, by VMCI's host context; other transports carry it out of the VM
        /// (or, without a device or peer, nowhere).
        func delivery(by transport: TransportModule, to destination: SockAddrVM, profile: VsockProfile) -> VsockEffect? {
            switch transport {
            case .loopback where profile.dgramBindWithoutCallback == .dgramBindTable, .vmci:
                return .deliver(tag: tag, length: length, destination: destination, carrier: transport)
            default:
                return nil
            }
        }
    }

    private func sendWithAddress(_ address: SockAddrVM, _ datagram: Datagram, socket: VsockSocket, after prefix: Prefix,
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
        return allowThenEnqueue(on: transport, after: prefix, rule: rule,
                                delivery: datagram.delivery(by: transport, to: address, profile: profile))
    }

    private func sendConnected(_ socket: VsockSocket, _ datagram: Datagram, after prefix: Prefix) -> [Step] {
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
        // The remote as the send leaves it: CID ANY resolved to the transport's own, where known.
        var destination = socket.remote
        if destination.cid == VMAddr.cidAny, transport != .vmci { destination.cid = configuration.localCID(of: transport) }
        return allowThenEnqueue(on: transport, after: prefix, rule: VsockRules.sendSocketTransport,
                                delivery: datagram.delivery(by: transport, to: destination, profile: profile))
    }
}
