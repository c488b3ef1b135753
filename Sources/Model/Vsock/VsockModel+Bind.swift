extension VsockModel {
    /// `bind()`: `vsock_bind()` → `__vsock_bind()`.
    func bind(_ position: Int, to address: SockAddrVM, in state: VsockState) -> [VsockBranch] {
        guard address.hasValidFlags else {
            return [VsockBranch(result: .exactly(.failure(.invalidArgument)), rule: VsockRules.addressInvalid)]
        }
        return bindSteps(position, to: address, in: state).finishing(.exactly(.value(0)), rule: VsockRules.tableBound)
    }

    /// `vsock_auto_bind()`: nothing when bound, else `__vsock_bind(VMADDR_CID_ANY, VMADDR_PORT_ANY)`.
    func autobindSteps(_ position: Int, in state: VsockState) -> [Step] {
        if state.sockets[position].local != nil { return Self.alreadyBoundProceeds }
        return bindSteps(position, to: .any, in: state)
    }

    /// A bound socket's auto-bind does nothing (kept once, not rebuilt on every send).
    static let alreadyBoundProceeds: [Step] = [.proceed(Prefix())]

    /// `__vsock_bind()`: the checks common to all types, then the type's own bind.
    func bindSteps(_ position: Int, to address: SockAddrVM, in state: VsockState) -> [Step] {
        let socket = state.sockets[position]
        if socket.local != nil {
            return [.done(VsockBranch(result: .exactly(.failure(.invalidArgument)), rule: VsockRules.alreadyBound))]
        }
        if address.cid != VMAddr.cidAny && !lookup(in: state).isLocalCID(address.cid) {
            return [.done(VsockBranch(result: .exactly(.failure(.addressNotAvailable)), rule: VsockRules.notLocalCID))]
        }
        if socket.type.isConnectible {
            return tableBindSteps(position, to: address, table: .connectible, in: state)
        }
        if let transport = socket.transport, profile.hasDgramBind(transport) {
            let binding = LocalBinding(cid: address.cid, port: address.port == VMAddr.portAny ? nil : address.port,
                                       table: .transport)
            return [
                .proceed(Prefix(calls: [ExpectedCall(transport, .dgramBind, .success)], effects: [.bind(binding)],
                                rule: VsockRules.dgramBindCallback)),
                .done(VsockBranch(calls: [ExpectedCall(transport, .dgramBind, .failure)], result: .propagated,
                                  rule: VsockRules.dgramBindCallback)),
            ]
        }
        switch profile.dgramBindWithoutCallback {
        case .notReachable:
            // Mainline: a datagram socket always holds the DGRAM transport, which has dgram_bind.
            return [.done(VsockBranch(result: .anyFailure, rule: VsockRules.dgramBindCallback))]
        case .einval:
            return [.done(VsockBranch(result: .exactly(.failure(.invalidArgument)), rule: VsockRules.dgramBindNoCallback03))]
        case .dgramBindTable:
            return tableBindSteps(position, to: address, table: .dgram, in: state)
        }
    }

    /// `__vsock_bind_connectible()` (v5 04: `vsock_bind_common()`) against one bind table.
    func tableBindSteps(_ position: Int, to address: SockAddrVM, table: BindTable, in state: VsockState) -> [Step] {
        if address.port == VMAddr.portAny {
            let binding = LocalBinding(cid: address.cid, port: nil, table: table)
            return [.proceed(Prefix(effects: [.bind(binding)], rule: VsockRules.tableEphemeral))]
        }
        if address.port <= VMAddr.lastReservedPort && !configuration.privileged {
            return [.done(VsockBranch(result: .exactly(.failure(.permissionDenied)), rule: VsockRules.tableReserved))]
        }
        // __vsock_find_bound_socket(): equal address, or equal port with either CID ANY.
        let others = state.sockets.enumerated().filter { $0.offset != position && $0.element.local?.table == table }
            .compactMap { $0.element.local }
        let cidsCollide = { (other: LocalBinding) in
            other.cid == address.cid || other.cid == VMAddr.cidAny || address.cid == VMAddr.cidAny
        }
        let inUse = VsockBranch(result: .exactly(.failure(.addressInUse)), rule: VsockRules.tableInUse)
        if others.contains(where: { $0.port == address.port && cidsCollide($0) }) {
            return [.done(inUse)]
        }
        let bound = Step.proceed(Prefix(effects: [.bind(LocalBinding(cid: address.cid, port: address.port, table: table))],
                                        rule: VsockRules.tableBound))
        // An ephemeral port the model has not seen may be this very port: both outcomes are allowed.
        if address.port > VMAddr.lastReservedPort, others.contains(where: { $0.port == nil && cidsCollide($0) }) {
            return [bound, .done(inUse)]
        }
        return [bound]
    }
}
