import Model
import Testing

/// `recv()`/`recvfrom()` and delivery through loopback (docs/vsock-dgram-v5-intent.md, N1-N4,
/// N6): which socket a datagram reaches, what a receive returns, and what an empty queue says.
@Suite("receive rules")
struct ReceiveRuleTests {
    /// The whole series with loopback loaded, a datagram socket on loopback bound at (1, 1234)
    /// and a second datagram socket on loopback, unbound: s0 receives, s1 sends.
    static func loopbackPair() -> ModelDriver {
        var driver = ModelDriver(.vsockDgramV5)
        driver.run(.loadTransport(.loopback))
        driver.run(.socket(.dgram))
        driver.run(.socket(.dgram))
        // Which transport a new datagram socket takes is unclear intent; these are on loopback.
        for index in 0..<2 { driver.state.assign(.loopback, toSocketAt: index) }
        driver.run(.bind(s0, vm(1, 1234)))
        return driver
    }

    static let sentByLoopback = [call(.loopback, .dgramAllow, 1), call(.loopback, .dgramEnqueue, 8)]

    /// The payload's first bytes as a kernel would return them for `tag`.
    static func head(_ tag: UInt32, _ count: Int = 4) -> [UInt8] { DatagramPayload.bytes(tag: tag, length: count) }

    @Test("vsock.dgram.deliver: the bound socket receives the datagram once, whole or truncated")
    func deliver() throws {
        var driver = Self.loopbackPair()
        let tag = UInt32(driver.state.operationsJudged + 1)
        #expect(driver.run(.sendto(s1, vm(1, 1234), length: 8), observing: observed(.value(8), Self.sentByLoopback,
                                                                                      refcounts: [.loopback: 2])).agreedRule
                == "vsock.dgram.send.loopback-carries")
        #expect(driver.state.queue(of: 0).map(\.tag) == [tag])
        #expect(driver.state.queue(of: 0)[0].certain)

        let recv = VsockOperation.recv(s0, buffer: 16, source: false)
        let whole = ReceivedDatagram(copied: 8, truncated: false, head: Self.head(tag))
        #expect(driver.judge(observed(.received(whole), refcounts: [.loopback: 2]), of: recv) == .agrees(rule: "vsock.dgram.deliver"))
        // It must arrive: an empty queue is a divergence.
        #expect(driver.judge(observed(.failure(.resourceTemporarilyUnavailable), refcounts: [.loopback: 2]), of: recv)
                .mismatchKind == .result)
        // Another datagram's tag, altered bytes, or no MSG_TRUNC where the buffer was short: divergences.
        var wrong = whole
        wrong.head = Self.head(tag + 1)
        #expect(driver.judge(observed(.received(wrong), refcounts: [.loopback: 2]), of: recv).mismatchKind == .result)
        wrong = whole
        wrong.intact = false
        #expect(driver.judge(observed(.received(wrong), refcounts: [.loopback: 2]), of: recv).mismatchKind == .result)
        let short = VsockOperation.recv(s0, buffer: 4, source: false)
        let truncated = ReceivedDatagram(copied: 4, truncated: true, head: Self.head(tag))
        #expect(driver.judge(observed(.received(truncated), refcounts: [.loopback: 2]), of: short) == .agrees(rule: "vsock.dgram.deliver"))
        wrong = truncated
        wrong.truncated = false
        #expect(driver.judge(observed(.received(wrong), refcounts: [.loopback: 2]), of: short).mismatchKind == .result)

        // recvfrom: the source is (loopback's CID, the sender's port), here an ephemeral one the
        // model learns from it.
        let from = VsockOperation.recv(s0, buffer: 16, source: true)
        var sourced = whole
        sourced.source = vm(1, 50_000)
        #expect(driver.run(from, observing: observed(.received(sourced), refcounts: [.loopback: 2])).agreedRule == "vsock.dgram.deliver")
        #expect(driver.state.sockets[1].local?.port == 50_000)
        #expect(driver.state.learnedPorts.ports == [50_000])
        // Received once: the queue is empty now, and the same datagram again is a divergence.
        #expect(driver.judge(observed(.failure(.resourceTemporarilyUnavailable), refcounts: [.loopback: 2]), of: recv)
                == .agrees(rule: "vsock.dgram.recv.empty"))
        #expect(driver.judge(observed(.received(whole), refcounts: [.loopback: 2]), of: recv).mismatchKind == .result)
    }

    // sendto-learned: the reply to a port the kernel chose, named by the index it was learned
    // under, reaches the socket holding it; not applicable before anything is learned.
    @Test("sendto-learned: a datagram to a learned port is delivered to the socket that holds it")
    func sendtoLearned() throws {
        var driver = Self.loopbackPair()
        let reply = VsockOperation.sendtoLearned(s0, cid: 1, learned: 0, length: 8)
        #expect(!driver.model.isApplicable(reply, in: driver.state))
        // s1 sends to s0 and is auto-bound; its port is learned from s0's recvfrom.
        driver.run(.sendto(s1, vm(1, 1234), length: 8), observing: observed(.value(8), Self.sentByLoopback, refcounts: [.loopback: 2]))
        var sourced = ReceivedDatagram(copied: 8, truncated: false, head: Self.head(UInt32(driver.state.operationsJudged)))
        sourced.source = vm(1, 50_000)
        driver.run(.recv(s0, buffer: 16, source: true), observing: observed(.received(sourced), refcounts: [.loopback: 2]))
        #expect(driver.model.isApplicable(reply, in: driver.state))
        #expect(reply.resolving(driver.state.learnedPorts) == .sendto(s0, vm(1, 50_000), length: 8))
        let tag = UInt32(driver.state.operationsJudged + 1)
        #expect(driver.run(reply, observing: observed(.value(8), Self.sentByLoopback, refcounts: [.loopback: 2])).agreedRule
                == "vsock.dgram.send.loopback-carries")
        #expect(driver.state.queue(of: 1).map(\.tag) == [tag])
        #expect(driver.state.queue(of: 1)[0].certain)
    }

    // Two empty datagrams show no tag: a recv() that returns one cannot say which it was, so the
    // other, whichever it is, may still come, from either sender (found by the agreement test,
    // seed 237: the model took the wrong one and then required it).
    @Test("vsock.dgram.deliver: after an empty datagram is received, the other may come from either sender")
    func emptyDatagramsAreConfusable() throws {
        var driver = Self.loopbackPair()
        driver.run(.socket(.dgram))
        driver.state.assign(.loopback, toSocketAt: 2)
        let sent = [call(.loopback, .dgramAllow, 1), call(.loopback, .dgramEnqueue, 0)]
        driver.run(.bind(s1, vm(1, 2000)))
        driver.run(.bind(SocketRef(2), vm(1, 3000)))
        driver.run(.sendto(s1, vm(1, 1234), length: 0), observing: observed(.value(0), sent, refcounts: [.loopback: 3]))
        driver.run(.sendto(SocketRef(2), vm(1, 1234), length: 0), observing: observed(.value(0), sent, refcounts: [.loopback: 3]))
        let empty = ReceivedDatagram(copied: 0, truncated: false, head: [])
        #expect(driver.run(.recv(s0, buffer: 16, source: false), observing: observed(.received(empty), refcounts: [.loopback: 3]))
            .agreedRule != nil)
        // Either sender's datagram may be the one left.
        let from = VsockOperation.recv(s0, buffer: 16, source: true)
        for port: UInt32 in [2000, 3000] {
            var left = empty
            left.source = vm(1, port)
            #expect(driver.judge(observed(.received(left), refcounts: [.loopback: 3]), of: from).agreedRule != nil)
        }
    }

    // The silent variant of finding 1: a datagram the per-packet lookup gives to loopback, sent
    // by a socket on another transport, must still be carried (and delivered) by loopback.
    @Test("vsock.dgram.send.loopback-carries: accepted whole, EMSGSIZE above 64 KiB, EAGAIN when full; never another error")
    func loopbackCarries() throws {
        let driver = Self.loopbackPair()
        let send = VsockOperation.sendto(s1, vm(1, 1234), length: 8)
        #expect(driver.judge(observed(.value(8), Self.sentByLoopback, refcounts: [.loopback: 2]), of: send)
                == .agrees(rule: "vsock.dgram.send.loopback-carries"))
        let full = [call(.loopback, .dgramAllow, 1), call(.loopback, .dgramEnqueue, neg(.resourceTemporarilyUnavailable))]
        #expect(driver.judge(observed(.failure(.resourceTemporarilyUnavailable), full, refcounts: [.loopback: 2]), of: send)
                == .agrees(rule: "vsock.dgram.send.loopback-carries"))
        let elsewhere = [call(.loopback, .dgramAllow, 1), call(.loopback, .dgramEnqueue, neg(.operationNotSupportedByDevice))]
        #expect(driver.judge(observed(.failure(.operationNotSupportedByDevice), elsewhere, refcounts: [.loopback: 2]), of: send)
                .mismatchKind == .result)
        #expect(driver.judge(observed(.value(7), [call(.loopback, .dgramAllow, 1), call(.loopback, .dgramEnqueue, 7)],
                                      refcounts: [.loopback: 2]), of: send).mismatchKind == .result)
        let big = VsockOperation.sendto(s1, vm(1, 1234), length: 65_537)
        let tooLong = [call(.loopback, .dgramAllow, 1), call(.loopback, .dgramEnqueue, neg(.messageTooLong))]
        #expect(driver.judge(observed(.failure(.messageTooLong), tooLong, refcounts: [.loopback: 2]), of: big)
                == .agrees(rule: "vsock.dgram.send.loopback-carries"))
        // Above 64 KiB the series states no limit (N5): carried whole is allowed too, and then
        // the datagram only may arrive; a partial length is not.
        var carried = Self.loopbackPair()
        #expect(carried.run(big, observing: observed(.value(65_537), [call(.loopback, .dgramAllow, 1),
                                                                      call(.loopback, .dgramEnqueue, 65_537)],
                                                     refcounts: [.loopback: 2])).agreedRule == "vsock.dgram.send.loopback-carries")
        #expect(carried.state.queue(of: 0).map(\.certain) == [false])
        #expect(driver.judge(observed(.value(65_536), [call(.loopback, .dgramAllow, 1), call(.loopback, .dgramEnqueue, 65_536)],
                                      refcounts: [.loopback: 2]), of: big).mismatchKind != nil)
    }

    // Where the datagram really left, as the probes on each transport's send_pkt see it.
    @Test("vsock.dgram.send.transmitted-by-chooser: the transport that accepted a datagram sends it, once")
    func transmittedByChooser() throws {
        let driver = Self.loopbackPair()
        let send = VsockOperation.sendto(s1, vm(1, 1234), length: 8)
        let accepted = { (sentBy: [TransportModule]?) in
            driver.judge(observed(.value(8), Self.sentByLoopback, refcounts: [.loopback: 2], sentBy: sentBy), of: send)
        }
        #expect(accepted([.loopback]) == .agrees(rule: "vsock.dgram.send.loopback-carries"))
        // Not observed (a recorded case from before, a transport whose send_pkt is not probed).
        #expect(accepted(nil) == .agrees(rule: "vsock.dgram.send.loopback-carries"))
        // Accepted by loopback, sent by another transport: the result alone looks right.
        #expect(accepted([.virtio]).mismatchKind == .transmission)
        #expect(accepted([]).mismatchKind == .transmission)
        #expect(accepted([.loopback, .loopback]).mismatchKind == .transmission)
        // No transport serves CID 7 with loopback alone (EINVAL, no callback): nothing may leave.
        let elsewhere = VsockOperation.sendto(s1, vm(7, 1234), length: 8)
        let judged = { (sentBy: [TransportModule]) in
            driver.judge(observed(.failure(.invalidArgument), refcounts: [.loopback: 2], sentBy: sentBy), of: elsewhere)
        }
        #expect(judged([]).agreedRule != nil)
        #expect(judged([.loopback]).mismatchKind == .transmission)
        // The rule is the whole series' (its virtio family carries datagrams): mainline's
        // profile does not judge transmissions.
        var mainline = ModelDriver(.mainline)
        mainline.run(.loadTransport(.vmci))
        mainline.run(.socket(.dgram))
        let vmciSend = [call(.vmci, .dgramBind, 0), call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 8)]
        let mainlineSend = VsockOperation.sendto(s0, vm(2, 1234), length: 8)
        #expect(mainline.judge(observed(.value(8), vmciSend, refcounts: [.vmci: 1], sentBy: [.virtio]), of: mainlineSend)
                == mainline.judge(observed(.value(8), vmciSend, refcounts: [.vmci: 1]), of: mainlineSend))
        #expect(mainline.judge(observed(.value(8), vmciSend, refcounts: [.vmci: 1]), of: mainlineSend).agreedRule != nil)
    }

    @Test("vsock.dgram.deliver: the source's CID is the carrier's; a recv() reports no address")
    func source() throws {
        var driver = Self.loopbackPair()
        driver.run(.bind(s1, vm(1, 2000)))
        let tag = UInt32(driver.state.operationsJudged + 1)
        driver.run(.sendto(s1, vm(1, 1234), length: 8), observing: observed(.value(8), Self.sentByLoopback, refcounts: [.loopback: 2]))
        let from = VsockOperation.recv(s0, buffer: 16, source: true)
        for (address, agrees) in [(vm(1, 2000), true), (vm(2, 2000), false), (vm(1, 2001), false)] {
            let datagram = ReceivedDatagram(copied: 8, truncated: false, head: Self.head(tag), source: address)
            #expect((driver.judge(observed(.received(datagram), refcounts: [.loopback: 2]), of: from).agreedRule != nil) == agrees,
                    "\(address)")
        }
        let noSource = ReceivedDatagram(copied: 8, truncated: false, head: Self.head(tag))
        #expect(driver.judge(observed(.received(noSource), refcounts: [.loopback: 2]), of: from).mismatchKind == .result)
    }

    @Test("vsock.dgram.deliver.unclear: a receiver on another transport may or may not get it, never twice")
    func unclear() throws {
        var driver = Self.loopbackPair()
        driver.state.assign(.vmci, toSocketAt: 0)  // not loopback: the stable check drops it on this base
        driver.state.loaded.append(.vmci)
        let tag = UInt32(driver.state.operationsJudged + 1)
        driver.run(.sendto(s1, vm(1, 1234), length: 8),
                   observing: observed(.value(8), Self.sentByLoopback, refcounts: [.loopback: 1, .vmci: 1]))
        #expect(driver.state.queue(of: 0).map(\.certain) == [false])
        let recv = VsockOperation.recv(s0, buffer: 16, source: false)
        let datagram = ReceivedDatagram(copied: 8, truncated: false, head: Self.head(tag))
        #expect(driver.judge(observed(.received(datagram), refcounts: [.loopback: 1, .vmci: 1]), of: recv)
                == .agrees(rule: "vsock.dgram.deliver.unclear"))
        #expect(driver.judge(observed(.failure(.resourceTemporarilyUnavailable), refcounts: [.loopback: 1, .vmci: 1]), of: recv)
                == .agrees(rule: "vsock.dgram.recv.empty"))
        // An empty queue seen once: it was not delivered, and it does not come later.
        driver.run(recv, observing: observed(.failure(.resourceTemporarilyUnavailable), refcounts: [.loopback: 1, .vmci: 1]))
        #expect(driver.judge(observed(.received(datagram), refcounts: [.loopback: 1, .vmci: 1]), of: recv).mismatchKind == .result)
    }

    @Test("vsock.dgram.deliver.unclear: a socket bound before the loopback worker ran may receive what was in flight")
    func inFlight() throws {
        var driver = ModelDriver(.vsockDgramV5)
        driver.run(.loadTransport(.loopback))
        driver.run(.socket(.dgram))
        driver.run(.socket(.dgram))
        for index in 0..<2 { driver.state.assign(.loopback, toSocketAt: index) }
        let tag = UInt32(driver.state.operationsJudged + 1)
        driver.run(.sendto(s1, vm(1, 1234), length: 8), observing: observed(.value(8), Self.sentByLoopback, refcounts: [.loopback: 2]))
        #expect(driver.state.inFlight.count == 1)
        driver.run(.bind(s0, vm(1, 1234)))
        let recv = VsockOperation.recv(s0, buffer: 16, source: false)
        let datagram = ReceivedDatagram(copied: 8, truncated: false, head: Self.head(tag))
        #expect(driver.judge(observed(.received(datagram), refcounts: [.loopback: 2]), of: recv) == .agrees(rule: "vsock.dgram.deliver.unclear"))
        #expect(driver.judge(observed(.failure(.resourceTemporarilyUnavailable), refcounts: [.loopback: 2]), of: recv)
                == .agrees(rule: "vsock.dgram.recv.empty"))
        // A receive settles what was in flight.
        driver.run(recv, observing: observed(.failure(.resourceTemporarilyUnavailable), refcounts: [.loopback: 2]))
        #expect(driver.state.inFlight.isEmpty)
    }

    @Test("vsock.dgram.recv.empty: nothing queued → EAGAIN; a datagram from nowhere diverges", arguments: VsockProfile.all)
    func empty(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        driver.state.assign(.vmci, toSocketAt: 0)
        let recv = VsockOperation.recv(s0, buffer: 16, source: true)
        #expect(driver.expectation(recv).sole()?.rule.id == "vsock.dgram.recv.empty")
        #expect(driver.judge(observed(.failure(.resourceTemporarilyUnavailable), refcounts: [.vmci: 1]), of: recv)
                == .agrees(rule: "vsock.dgram.recv.empty"))
        let stray = ReceivedDatagram(copied: 1, truncated: false, head: [1], source: vm(1, 1024))
        #expect(driver.judge(observed(.received(stray), refcounts: [.vmci: 1]), of: recv).mismatchKind == .result)
    }

    // Found live on the stock kernel (docs/mainline-6.1.md, 3): without a VMCI device vmw_vmci is
    // the host context and delivers a datagram sent to its own port locally.
    @Test("vsock.dgram.deliver.vmci: a datagram VMCI accepted may arrive, from the environment's CID, once",
          arguments: VsockProfile.all)
    func vmciDelivers(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        driver.state.assign(.vmci, toSocketAt: 0)
        driver.run(.bind(s0, vm(cidAny, 1234)), observing: observed(.value(0), [call(.vmci, .dgramBind, 0)], refcounts: [.vmci: 1]))
        let tag = UInt32(driver.state.operationsJudged + 1)
        let sent = [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 1)]
        let verdict = driver.run(.sendto(s0, vm(cidAny, 1234), length: 1), observing: observed(.value(1), sent, refcounts: [.vmci: 1]))
        #expect(verdict.agreedRule != nil, "\(verdict)")
        let from = VsockOperation.recv(s0, buffer: 16, source: true)
        let datagram = ReceivedDatagram(copied: 1, truncated: false, head: Self.head(tag, 1), source: vm(2, 1234))
        #expect(driver.judge(observed(.received(datagram), refcounts: [.vmci: 1]), of: from) == .agrees(rule: "vsock.dgram.deliver.vmci"))
        #expect(driver.judge(observed(.failure(.resourceTemporarilyUnavailable), refcounts: [.vmci: 1]), of: from)
                == .agrees(rule: "vsock.dgram.recv.empty"))
        // From another port than the sender's: not this datagram.
        var wrong = datagram
        wrong.source = vm(2, 1235)
        #expect(driver.judge(observed(.received(wrong), refcounts: [.vmci: 1]), of: from).mismatchKind == .result)
        driver.run(from, observing: observed(.received(datagram), refcounts: [.vmci: 1]))
        #expect(driver.judge(observed(.received(datagram), refcounts: [.vmci: 1]), of: from).mismatchKind == .result)
    }

    // af_vsock.c:2214-2226: not established → ENOTCONN, or 0 once a reset set SOCK_DONE.
    @Test("vsock.recv.connectible.not-connected: ENOTCONN; 0 too after a connect reached the transport",
          arguments: VsockProfile.all)
    func connectible(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.socket(.stream))
        let recv = VsockOperation.recv(s0, buffer: 16, source: false)
        #expect(driver.judge(observed(.failure(.socketNotConnected), refcounts: [:]), of: recv)
                == .agrees(rule: "vsock.recv.connectible.not-connected"))
        #expect(driver.judge(observed(.value(0), refcounts: [:]), of: recv).mismatchKind == .result)
        driver.state.sockets[0].connectAttempted = true
        #expect(driver.judge(observed(.value(0), refcounts: [:]), of: recv) == .agrees(rule: "vsock.recv.connectible.not-connected"))
    }
}
