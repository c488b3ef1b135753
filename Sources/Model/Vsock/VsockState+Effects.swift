extension VsockState {
    /// Applies a branch's effects; `target` is the position of the socket the operation named.
    mutating func apply(_ effects: [VsockEffect], target: Int?, observed: SyscallResult) {
        for effect in effects {
            switch effect {
            case let .load(module):
                loaded.append(module)
                for slot in module.registersSlots { slots[slot] = module }
            case let .unload(module):
                loaded.removeAll { $0 == module }
                slots.clear(module)
                lingering.removeAll { $0 == module }
            case let .open(type, transport):
                openSocket(type, transport: transport)
            case let .assign(transport):
                guard let target else { continue }
                assign(transport, toSocketAt: target)
            case let .bind(binding):
                guard let target else { continue }
                sockets[target].local = binding
                if !inFlight.isEmpty { offerInFlight(to: target) }
            case let .setRemote(address):
                guard let target else { continue }
                sockets[target].remote = address
            case let .setConnected(connected):
                guard let target else { continue }
                sockets[target].connected = connected
                if connected { sockets[target].everConnected = true }
            case .markConnectAttempted:
                guard let target else { continue }
                sockets[target].connectAttempted = true
            case .close:
                guard let target else { continue }
                let closed = removeSocket(at: target)
                queues[closed.serial] = nil
                if closed.type.isConnectible, closed.connectAttempted, let transport = closed.transport {
                    lingering.append(transport)
                }
            case .learnLocalPort:
                if case let .address(address) = observed { learnedPorts.learn(address.port) }
                guard let target, case let .address(address) = observed,
                      sockets[target].local != nil, sockets[target].local?.port == nil else { continue }
                sockets[target].local?.port = address.port
            case let .packetToCidAny(port, transport):
                // virtio_transport_recv_pkt() (6.1.176:1371-1386): a socket on another transport,
                // or on none, is sent a reset instead; a listener is not modelled (no listen()).
                for index in sockets.indices where sockets[index].transport == transport {
                    guard let local = sockets[index].local, local.table == .connectible,
                          local.cid != VMAddr.cidAny, local.port == nil || local.port == port else { continue }
                    sockets[index].mayBeReaddressedToAny = true
                }
            case .remoteCIDResolved:
                guard let target else { continue }
                sockets[target].remoteCIDUnknown = true
            case .learnRemoteCID:
                guard let target, case let .address(address) = observed else { continue }
                sockets[target].remote.cid = address.cid
                sockets[target].remoteCIDUnknown = false
            case let .deliver(tag, length, destination, carrier):
                guard let target, case let .value(sent) = observed, sent >= 0 else { continue }
                if carrier == .vmci {
                    deliverThroughVMCI(tag: tag, length: length, to: destination, from: target)
                } else {
                    deliver(tag: tag, length: length, to: destination, from: target)
                }
            case let .receive(tag):
                guard let target else { continue }
                take(tag, at: target, observed: observed)
            case .settleDeliveries:
                inFlight = []
            case .dropUncertain:
                guard let target else { continue }
                queues[sockets[target].serial]?.removeAll { !$0.certain }
            case .readdressedToAny:
                guard let target else { continue }
                sockets[target].local?.cid = VMAddr.cidAny
                sockets[target].mayBeReaddressedToAny = false
            }
        }
    }
}
