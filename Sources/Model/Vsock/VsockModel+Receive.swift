extension VsockModel {
    /// `recv()`/`recvfrom()` with `MSG_DONTWAIT`, after datagrams in flight had time to arrive
    /// (docs/vsock-dgram-v5-intent.md, N1-N4 and N6).
    func receive(_ position: Int, buffer: Int, source: Bool, in state: VsockState) -> [VsockBranch] {
        let socket = state.sockets[position]
        if socket.type.isConnectible {
            // Nothing the model generates is ever established (nothing listens).
            let results: [SyscallResult] = socket.connectAttempted ? [.failure(.socketNotConnected), .value(0)]
                : [.failure(.socketNotConnected)]
            return [VsockBranch(result: results.count == 1 ? .exactly(results[0]) : .oneOf(results),
                                effects: SharedEffects.settleDeliveries, rule: VsockRules.recvConnectibleNotConnected)]
        }
        // Any queued datagram may come first: the order is unclear intent (patch 14's comment).
        // The ones that must arrive are offered first: a receive too short to show the whole tag
        // (a 0-byte datagram shows none) can fit several, the judge takes the first that fits,
        // and taking one that must arrive leaves the others as "may arrive", which admits
        // whatever comes later; taking a "may" one would leave a "must" the kernel already gave.
        let queue = state.queue(of: position)
        var branches: [VsockBranch] = []
        branches.reserveCapacity(queue.count + 1)
        var anyCertain = false
        for certain in [true, false] {
            for datagram in queue where datagram.certain == certain {
                anyCertain = anyCertain || certain
                let expected = DatagramExpectation(
                    tag: datagram.tag, copied: min(buffer, datagram.length), truncated: buffer < datagram.length,
                    sourceCIDs: source ? (datagram.confusable ? [] : datagram.sourceCIDs) : nil,
                    sourcePort: datagram.confusable ? .ephemeral(minimum: 0) : sourcePort(of: datagram, in: state))
                branches.append(VsockBranch(result: .datagram(expected), effects: [.settleDeliveries, .receive(tag: datagram.tag)],
                                            rule: certain ? VsockRules.dgramDeliver
                                                : datagram.carrier == .vmci ? VsockRules.dgramDeliverVMCI : VsockRules.dgramDeliverUnclear))
            }
        }
        if !anyCertain {
            branches.append(VsockBranch(result: .exactly(.failure(.resourceTemporarilyUnavailable)),
                                        effects: SharedEffects.settleAndDropUncertain, rule: VsockRules.dgramRecvEmpty))
        }
        return branches
    }

    /// The sender's port as the model knows it now (a later getsockname may have shown it); an
    /// ephemeral one is free in its table, as getsockname would have to show it.
    private func sourcePort(of datagram: QueuedDatagram, in state: VsockState) -> PortExpectation {
        if let port = datagram.sourcePort { return .exactly(port) }
        guard let sender = state.sockets.firstIndex(where: { $0.serial == datagram.senderSerial }),
              let local = state.sockets[sender].local else {
            return .ephemeral(minimum: VMAddr.lastReservedPort + 1)  // closed since: its port is not known
        }
        return local.port.map(PortExpectation.exactly)
            ?? .ephemeral(minimum: local.ephemeralMinimum, taken: portsTaken(against: local, except: sender, in: state))
    }
}
