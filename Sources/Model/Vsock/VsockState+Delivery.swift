/// Datagram delivery inside this VM, through `vsock_loopback` (docs/vsock-dgram-v5-intent.md,
/// N1-N3) or VMCI's host context: which socket's queue a datagram joins, and what receiving
/// takes off it.
extension VsockState {
    /// The receive buffer every socket starts with: `net.core.rmem_default`, 212,992 bytes.
    static let receiveBuffer = 212_992

    /// A datagram the sender at `sender` sent to `destination` was accepted by a transport that
    /// delivers in this VM.
    mutating func deliver(tag: UInt32, length: Int, to destination: SockAddrVM, from sender: Int) {
        let source = sockets[sender].local
        // N2: the carrying transport's own CID (loopback's is 1); unclear: the CID the sender bound.
        var cids = [VMAddr.cidLocal]
        if let bound = source?.cid, bound != VMAddr.cidAny, bound != VMAddr.cidLocal { cids.append(bound) }
        let datagram = QueuedDatagram(tag: tag, length: length, sourceCIDs: cids, sourcePort: source?.port,
                                      senderSerial: sockets[sender].serial, certain: false)
        let candidates = receivers(of: destination)
        for index in candidates {
            var copy = datagram
            copy.certain = candidates.count == 1 && mustReceive(destination, at: index, length: length)
            queues[sockets[index].serial, default: []].append(copy)
        }
        // Nobody certain: a socket bound there before the worker runs may still take it.
        if !candidates.contains(where: { queue(of: $0).last?.certain == true }) {
            inFlight.append(InFlightDatagram(datagram: datagram, destination: destination))
        }
    }

    /// A datagram VMCI accepted. In a VM without a VMCI device, `vmw_vmci` runs as the host
    /// context (CID 2) and delivers datagrams for itself locally (vmci_transport.c:1721-1728 sends
    /// to the handle (cid, port); its receive callback queues on the socket bound to that handle,
    /// 611): the environment's behaviour, so it only *may* arrive, at a socket on VMCI bound at
    /// that port, from a CID the model does not know.
    mutating func deliverThroughVMCI(tag: UInt32, length: Int, to destination: SockAddrVM, from sender: Int) {
        let datagram = QueuedDatagram(tag: tag, length: length, sourceCIDs: [], sourcePort: sockets[sender].local?.port,
                                      senderSerial: sockets[sender].serial, certain: false, carrier: .vmci)
        for index in sockets.indices {
            let socket = sockets[index]
            guard socket.type == .dgram, socket.transport == .vmci, let local = socket.local,
                  local.port == nil || local.port == destination.port else { continue }
            queues[sockets[index].serial, default: []].append(datagram)
        }
    }

    /// The sockets that may receive a datagram to `destination`. One whose ephemeral port the
    /// model has not seen is left out where a socket of its table holds the destination's port
    /// with a colliding CID: the kernel picks only a free port (`vsock.bind.ephemeral`).
    func receivers(of destination: SockAddrVM) -> [Int] {
        var candidates: [Int] = []
        var portUnseen = false
        for index in sockets.indices where receives(destination, at: index) {
            candidates.append(index)
            if sockets[index].local?.port == nil { portUnseen = true }
        }
        // Built once, filtered only when a port is unseen: this runs for every datagram delivered.
        guard portUnseen else { return candidates }
        return candidates.filter { index in
            guard let local = sockets[index].local, local.port == nil else { return true }
            return !candidates.contains { other in
                guard let known = sockets[other].local, known.port != nil else { return false }
                return known.table == local.table
                    && (known.cid == local.cid || known.cid == VMAddr.cidAny || local.cid == VMAddr.cidAny)
            }
        }
    }

    /// Whether the socket at `index` may be the one a datagram to `destination` reaches: a
    /// datagram socket bound at that port (or at one the model has not seen), with a CID that
    /// matches (equal, or either is ANY: `__vsock_find_bound_socket`, 6.1.176 af_vsock.c:238-246,
    /// which patch 08 reuses for the datagram table). Stream and seqpacket sockets never are (N1).
    func receives(_ destination: SockAddrVM, at index: Int) -> Bool {
        let socket = sockets[index]
        guard socket.type == .dgram, let local = socket.local else { return false }
        guard local.port == nil || local.port == destination.port else { return false }
        return local.cid == destination.cid || local.cid == VMAddr.cidAny || destination.cid == VMAddr.cidAny
    }

    /// Whether the intent decides that it arrives there (N1): bound in the datagram table at a
    /// port the model knows, on loopback itself, to a CID that is not ANY (a packet to CID ANY
    /// re-addresses sockets, `vsock.getsockname.readdressed-any`), with room in its queue, and
    /// no longer than a virtio packet (N5: above it, the series states nothing).
    private func mustReceive(_ destination: SockAddrVM, at index: Int, length: Int) -> Bool {
        let socket = sockets[index]
        guard length <= VsockRules.virtioMaxPacket, let local = socket.local, local.table == .dgram, local.port != nil,
              socket.transport == .loopback, destination.cid != VMAddr.cidAny else { return false }
        let charged = queue(of: index).reduce(0) { $0 + $1.chargedBytes }
        return charged + 2 * length + 1024 <= Self.receiveBuffer
    }

    /// How many operations after its send a datagram may still be in loopback's worker: a live
    /// operation takes half a millisecond at least (a module load 150 ms), the worker runs within
    /// microseconds of being queued. An assumption, not a rule of the series: a datagram
    /// delivered later to a socket bound meanwhile would show as a divergence that does not
    /// reproduce reliably (reported flaky, not as a finding).
    static let inFlightOperations = 8

    /// A socket just bound: datagrams still in flight to its address may reach it.
    mutating func offerInFlight(to index: Int) {
        let oldest = operationsJudged - Self.inFlightOperations
        inFlight.removeAll { Int($0.datagram.tag) < oldest }
        for pending in inFlight where receivers(of: pending.destination).contains(index) {
            queues[sockets[index].serial, default: []].append(pending.datagram)
        }
    }

    /// `recv()` on the socket at `index` returned the datagram tagged `tag`: it is gone from every
    /// queue it might have been on, and a `recvfrom()` source teaches the sender's port.
    mutating func take(_ tag: UInt32, at index: Int, observed: SyscallResult) {
        guard let datagram = queue(of: index).first(where: { $0.tag == tag }) else { return }
        // Only the queues that hold it are written: a write to each would copy them all.
        for (serial, queue) in queues where queue.contains(where: { $0.tag == tag }) { queues[serial]?.removeAll { $0.tag == tag } }
        inFlight.removeAll { $0.datagram.tag == tag }
        guard case let .received(received) = observed else { return }
        var ambiguous = false
        if received.tag == nil, let queue = queues[sockets[index].serial] {
            // Too few bytes to read the whole tag: every queued datagram they fit could have been
            // the one received, so none of them must arrive any more, and who sent it is open.
            queues[sockets[index].serial] = queue.map { other in
                guard other.length >= received.copied, DatagramPayload.head(received.head, matches: other.tag) else { return other }
                ambiguous = true
                var widened = other
                widened.certain = false
                widened.confusable = true
                return widened
            }
        }
        guard let port = received.source?.port else { return }
        // A port the kernel showed, as getsockname's are (bind-learned names them by index).
        learnedPorts.learn(port)
        // Whose port it is, only when the datagram was told apart from the others.
        guard !ambiguous, !datagram.confusable, datagram.sourcePort == nil, let sender = sockets.firstIndex(where: { $0.serial == datagram.senderSerial }),
              sockets[sender].local != nil, sockets[sender].local?.port == nil else { return }
        sockets[sender].local?.port = port
        for serial in queues.keys {
            for queued in queues[serial]!.indices where queues[serial]![queued].senderSerial == datagram.senderSerial {
                queues[serial]![queued].sourcePort = port
            }
        }
    }
}
