import Model
import Testing

/// `sendto()` / `send()` on datagram sockets: `vsock_dgram_sendmsg()` — mainline's socket
/// transport, v5 03's per-packet lookup with its temporary module reference.
@Suite("send rules")
struct SendRuleTests {
    // af_vsock.c:1252 vsock_dgram_sendmsg(): !vsock_addr_bound(remote_addr) (port ANY) → -EINVAL,
    // before dgram_allow; v5 03 checks it after the per-packet lookup. The connected path checks
    // the stored remote the same way (:1265).
    @Test("vsock.dgram.send.port-any → EINVAL before dgram_allow", arguments: VsockProfile.all)
    func portAnyRefused(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        let sendto = VsockOperation.sendto(s0, vm(3, portAny), length: 1)
        let branch = try #require(driver.expectation(sendto).branch("vsock.dgram.send.port-any"))
        #expect(branch.result == .exactly(.failure(.invalidArgument)))
        #expect(branch.calls == [ExpectedCall(.vmci, .dgramBind, .success)])   // vsock_auto_bind() only
        #expect(driver.judge(observed(.failure(.invalidArgument), [call(.vmci, .dgramBind, 0)], refcounts: [.vmci: 1]), of: sendto)
                == .agrees(rule: "vsock.dgram.send.port-any"))
        #expect(driver.judge(observed(.value(1), [call(.vmci, .dgramBind, 0), call(.vmci, .dgramAllow, 1),
                                                  call(.vmci, .dgramEnqueue, 1)], refcounts: [.vmci: 1]), of: sendto)
                .mismatchKind == .callbacks)

        // Connected to (3, PORT_ANY) — dgram_connect does not check the port — send() refuses it.
        driver.run(.connect(s0, .address(vm(3, portAny))))
        let send = VsockOperation.send(s0, length: 1)
        let connected = try #require(driver.expectation(send).sole())
        #expect(connected.rule.id == "vsock.dgram.send.port-any")
        #expect(connected.calls.isEmpty)
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.vmci: 1]), of: send)
                == .agrees(rule: "vsock.dgram.send.port-any"))
        #expect(driver.judge(observed(.value(1), [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 1)],
                                      refcounts: [.vmci: 1]), of: send).mismatchKind == .callbacks)
    }

    // af_vsock.c:1270 vsock_dgram_sendmsg(): no (valid) msg_name and not SS_CONNECTED → -EINVAL
    // (not ENOTCONN or EDESTADDRREQ), after vsock_auto_bind().
    @Test("vsock.dgram.send.not-connected → EINVAL", arguments: VsockProfile.all)
    func notConnected(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        let send = VsockOperation.send(s0, length: 1)
        let branch = try #require(driver.expectation(send).branch("vsock.dgram.send.not-connected"))
        #expect(branch.result == .exactly(.failure(.invalidArgument)))
        #expect(branch.calls == [ExpectedCall(.vmci, .dgramBind, .success)])
        let calls = [call(.vmci, .dgramBind, 0)]
        #expect(driver.judge(observed(.failure(.invalidArgument), calls, refcounts: [.vmci: 1]), of: send)
                == .agrees(rule: "vsock.dgram.send.not-connected"))
        #expect(driver.judge(observed(.failure(.socketNotConnected), calls, refcounts: [.vmci: 1]), of: send).mismatchKind == .result)
        #expect(driver.judge(observed(.failure(.addressRequired), calls, refcounts: [.vmci: 1]), of: send)
                .mismatchKind == .result)
    }

    // af_vsock.c:1243 vsock_dgram_sendmsg(): a msg_name that fails vsock_addr_cast() (flags other
    // than TO_HOST) is ignored: unconnected → -EINVAL, connected → the connected path.
    @Test("vsock.dgram.send.not-connected: an address with invalid flags is ignored", arguments: VsockProfile.all)
    func invalidFlagsIgnored(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        driver.run(.bind(s0, vm(cidAny, 1234)))
        let sendto = VsockOperation.sendto(s0, vm(3, 5000, flags: 0x02), length: 1)
        let unconnected = try #require(driver.expectation(sendto).sole())
        #expect(unconnected.rule.id == "vsock.dgram.send.not-connected")
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.vmci: 1]), of: sendto)
                == .agrees(rule: "vsock.dgram.send.not-connected"))
        // Sending to the ignored address is a callbacks mismatch.
        #expect(driver.judge(observed(.value(1), [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 1)],
                                      refcounts: [.vmci: 1]), of: sendto).mismatchKind == .callbacks)

        driver.run(.connect(s0, .address(vm(3, 1234))))
        let connected = try #require(driver.expectation(sendto).branches.first)
        #expect(connected.rule.id == "vsock.dgram.send.socket-transport")
        #expect(connected.calls == [ExpectedCall(.vmci, .dgramAllow, .success), ExpectedCall(.vmci, .dgramEnqueue, .any)])
        #expect(driver.judge(observed(.value(1), [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 1)],
                                      refcounts: [.vmci: 1]), of: sendto) == .agrees(rule: "vsock.dgram.send.socket-transport"))
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.vmci: 1]), of: sendto).mismatchKind == .callbacks)
    }

    // v5 03 @@ -1173,19 +1190,34 @@: only a valid msg_name gets the per-packet lookup; an
    // invalid one falls to the connected branch, which uses vsk->transport (@@ -1200,6 +1232,7 @@).
    @Test("vsock.dgram.send.socket-transport: v5 invalid flags use the socket's transport, not the lookup", arguments: v5Profiles)
    func invalidFlagsSkipLookup(profile: VsockProfile) throws {
        var driver = ConnectRuleTests.boundVMCISocketWithVhost(profile)
        driver.run(.connect(s0, .address(vm(2, 1234))))   // G2H NULL → fallback VMCI: stays on VMCI
        #expect(driver.state.refcounts == [.vmci: 1, .vhost: 0])

        let valid = try #require(driver.expectation(.sendto(s0, vm(3, 1234), length: 1)).branches.first)
        #expect(valid.callTransports == [.vhost, .vhost])
        let invalid = VsockOperation.sendto(s0, vm(3, 1234, flags: 0x02), length: 1)
        let branch = try #require(driver.expectation(invalid).branches.first)
        #expect(branch.rule.id == "vsock.dgram.send.socket-transport")
        #expect(branch.callTransports == [.vmci, .vmci])
        #expect(driver.judge(observed(.value(1), [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 1)],
                                      refcounts: [.vmci: 1, .vhost: 0]), of: invalid) == .agrees(rule: "vsock.dgram.send.socket-transport"))
        #expect(driver.judge(observed(.value(1), [call(.vhost, .dgramAllow, 1), call(.vhost, .dgramEnqueue, 1)],
                                      refcounts: [.vmci: 1, .vhost: 0]), of: invalid).mismatchKind == .transport)
    }

    // af_vsock.c:1274 vsock_dgram_sendmsg(): !dgram_allow → -EINVAL and dgram_enqueue is not called.
    @Test("vsock.dgram.send.allow: dgram_allow false → EINVAL, no enqueue", arguments: VsockProfile.all)
    func allowRefused(profile: VsockProfile) throws {
        let driver = ConnectRuleTests.connectedVMCISocket(profile)
        let send = VsockOperation.send(s0, length: 16)
        let branch = try #require(driver.expectation(send).branch("vsock.dgram.send.allow"))
        #expect(branch.calls == [ExpectedCall(.vmci, .dgramAllow, .failure)])
        #expect(branch.result == .exactly(.failure(.invalidArgument)))
        #expect(driver.judge(observed(.failure(.invalidArgument), [call(.vmci, .dgramAllow, 0)], refcounts: [.vmci: 1]), of: send)
                == .agrees(rule: "vsock.dgram.send.allow"))
        // Enqueueing although dgram_allow refused. (The model names this a result mismatch: its
        // classifier compares which callbacks ran, not what they returned.)
        #expect(driver.judge(observed(.value(16), [call(.vmci, .dgramAllow, 0), call(.vmci, .dgramEnqueue, 16)],
                                      refcounts: [.vmci: 1]), of: send).isDivergence)
        // Refused, yet enqueued without asking at all: a callbacks mismatch.
        #expect(driver.judge(observed(.value(16), [call(.vmci, .dgramEnqueue, 16)], refcounts: [.vmci: 1]), of: send)
                .mismatchKind == .callbacks)
        #expect(driver.judge(observed(.value(0), [call(.vmci, .dgramAllow, 0)], refcounts: [.vmci: 1]), of: send)
                .mismatchKind == .result)
    }

    // af_vsock.c:1280 vsock_dgram_sendmsg(): err = transport->dgram_enqueue(…); return err — the
    // callback's bytes or negative errno is the syscall's result.
    @Test("vsock.dgram.send.allow: dgram_enqueue's result propagates", arguments: VsockProfile.all)
    func enqueuePropagates(profile: VsockProfile) throws {
        let driver = ConnectRuleTests.connectedVMCISocket(profile)
        let send = VsockOperation.send(s0, length: 16)
        #expect(driver.judge(observed(.value(16), [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 16)],
                                      refcounts: [.vmci: 1]), of: send) == .agrees(rule: "vsock.dgram.send.socket-transport"))
        let tooLong = [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, neg(.messageTooLong))]
        #expect(driver.judge(observed(.failure(.messageTooLong), tooLong, refcounts: [.vmci: 1]), of: send)
                == .agrees(rule: "vsock.dgram.send.socket-transport"))
        #expect(driver.judge(observed(.value(16), tooLong, refcounts: [.vmci: 1]), of: send).mismatchKind == .result)
        #expect(driver.judge(observed(.failure(.invalidArgument), tooLong, refcounts: [.vmci: 1]), of: send).mismatchKind == .result)
    }

    // af_vsock.c:1232 (mainline) vsock_dgram_sendmsg(): transport = vsk->transport — VMCI, even
    // for a CID that vhost would serve in v5.
    @Test("vsock.dgram.send.socket-transport: mainline sends every datagram through the socket's transport")
    func mainlineSocketTransport() throws {
        var driver = ModelDriver(.mainline)
        driver.run(.loadTransport(.vmci))
        driver.run(.loadTransport(.vhost))
        driver.run(.socket(.dgram))
        let sendto = VsockOperation.sendto(s0, vm(3, 1234), length: 1)
        let branch = try #require(driver.expectation(sendto).branches.first)
        #expect(branch.rule.id == "vsock.dgram.send.socket-transport")
        #expect(branch.callTransports == [.vmci, .vmci, .vmci])
        let refcounts: [TransportModule: Int] = [.vmci: 1, .vhost: 0]
        #expect(driver.judge(observed(.value(1), [call(.vmci, .dgramBind, 0), call(.vmci, .dgramAllow, 1),
                                                  call(.vmci, .dgramEnqueue, 1)], refcounts: refcounts), of: sendto)
                == .agrees(rule: "vsock.dgram.send.socket-transport"))
        #expect(driver.judge(observed(.value(1), [call(.vmci, .dgramBind, 0), call(.vhost, .dgramAllow, 1),
                                                  call(.vhost, .dgramEnqueue, 1)], refcounts: refcounts), of: sendto)
                .mismatchKind == .transport)
    }

    // v5 03 @@ -1200,6 +1232,7 @@: the connected path uses vsk->transport — the one connect()
    // assigned — with no per-packet reference.
    @Test("vsock.dgram.send.socket-transport: v5 send() uses the transport connect() assigned", arguments: v5Profiles)
    func v5ConnectedSend(profile: VsockProfile) throws {
        var driver = ConnectRuleTests.boundVMCISocketWithVhost(profile)
        driver.run(.connect(s0, .address(vm(3, 1234))))
        let send = VsockOperation.send(s0, length: 8)
        let branch = try #require(driver.expectation(send).branches.first)
        #expect(branch.rule.id == "vsock.dgram.send.socket-transport")
        #expect(branch.callTransports == [.vhost, .vhost])
        let calls = [call(.vhost, .dgramAllow, 1), call(.vhost, .dgramEnqueue, 8)]
        #expect(driver.judge(observed(.value(8), calls, refcounts: [.vmci: 0, .vhost: 1]), of: send)
                == .agrees(rule: "vsock.dgram.send.socket-transport"))
        #expect(driver.judge(observed(.value(8), calls, refcounts: [.vmci: 0, .vhost: 2]), of: send).mismatchKind == .refcount)
        #expect(driver.judge(observed(.value(8), [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 8)],
                                      refcounts: [.vmci: 0, .vhost: 1]), of: send).mismatchKind == .transport)
    }

    // v5 03 @@ -1173,19 +1190,34 @@ and @@ -1224,6 +1257,8 @@: sendto() with an address looks
    // the transport up per packet, try_module_get()s it and module_put()s it at out: — the
    // reference is net zero whatever the outcome.
    @Test("vsock.dgram.sendto.per-packet: the lookup's transport, reference net zero", arguments: v5Profiles)
    func perPacket(profile: VsockProfile) throws {
        let driver = ConnectRuleTests.boundVMCISocketWithVhost(profile)
        let sendto = VsockOperation.sendto(s0, vm(3, 1234), length: 16)
        let branch = try #require(driver.expectation(sendto).branches.first)
        #expect(branch.rule.id == "vsock.dgram.sendto.per-packet")
        #expect(branch.calls == [ExpectedCall(.vhost, .dgramAllow, .success), ExpectedCall(.vhost, .dgramEnqueue, .any)])
        #expect(branch.assignments.isEmpty)               // the socket's own transport is untouched

        let unchanged: [TransportModule: Int] = [.vmci: 1, .vhost: 0]
        let sent = [call(.vhost, .dgramAllow, 1), call(.vhost, .dgramEnqueue, 16)]
        #expect(driver.judge(observed(.value(16), sent, refcounts: unchanged), of: sendto) == .agrees(rule: "vsock.dgram.sendto.per-packet"))
        // A per-packet reference not put back.
        #expect(driver.judge(observed(.value(16), sent, refcounts: [.vmci: 1, .vhost: 1]), of: sendto).mismatchKind == .refcount)
        // Sent through the socket's transport instead.
        #expect(driver.judge(observed(.value(16), [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 16)],
                                      refcounts: unchanged), of: sendto).mismatchKind == .transport)
        // Refused and failing paths put the reference too.
        #expect(driver.judge(observed(.failure(.invalidArgument), [call(.vhost, .dgramAllow, 0)], refcounts: unchanged), of: sendto)
                == .agrees(rule: "vsock.dgram.send.allow"))
        #expect(driver.judge(observed(.failure(.invalidArgument), [call(.vhost, .dgramAllow, 0)],
                                      refcounts: [.vmci: 1, .vhost: 1]), of: sendto).mismatchKind == .refcount)
        let failed = [call(.vhost, .dgramAllow, 1), call(.vhost, .dgramEnqueue, neg(.operationNotSupportedByDevice))]
        #expect(driver.judge(observed(.failure(.operationNotSupportedByDevice), failed, refcounts: unchanged), of: sendto)
                == .agrees(rule: "vsock.dgram.sendto.per-packet"))
        let toPortAny = VsockOperation.sendto(s0, vm(3, portAny), length: 16)
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: unchanged), of: toPortAny)
                == .agrees(rule: "vsock.dgram.send.port-any"))
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.vmci: 1, .vhost: 1]), of: toPortAny)
                .mismatchKind == .refcount)
    }

    // v5 03 @@ -1173,19 +1190,34 @@ vsock_dgram_sendmsg(): vsock_dgram_lookup_transport() NULL →
    // -EINVAL (not -ENODEV as in create/connect), before any callback.
    @Test("vsock.dgram.sendto.no-transport → EINVAL", arguments: v5Profiles)
    func noTransport(profile: VsockProfile) throws {
        let driver = ConnectRuleTests.vhostSocketWithoutFallback(profile)
        #expect(driver.state.refcounts == [.vhost: 1])
        for address in [vm(2, 1234), vm(3, 1234, flags: VMAddr.flagToHost)] {   // both ask G2H: NULL, no fallback
            let sendto = VsockOperation.sendto(s0, address, length: 1)
            let branch = try #require(driver.expectation(sendto).sole())
            #expect(branch.rule.id == "vsock.dgram.sendto.no-transport", "\(address)")
            #expect(branch.result == .exactly(.failure(.invalidArgument)))
            #expect(branch.calls.isEmpty)
            #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.vhost: 1]), of: sendto)
                    == .agrees(rule: "vsock.dgram.sendto.no-transport"))
            #expect(driver.judge(observed(.failure(.operationNotSupportedByDevice), refcounts: [.vhost: 1]), of: sendto)
                    .mismatchKind == .result)
            // Falling back to the socket's own transport is a callbacks mismatch.
            #expect(driver.judge(observed(.value(1), [call(.vhost, .dgramAllow, 1), call(.vhost, .dgramEnqueue, 1)],
                                          refcounts: [.vhost: 1]), of: sendto).mismatchKind == .callbacks)
        }
        // CID 3 without TO_HOST is H2G's: that one goes through.
        #expect(driver.expectation(.sendto(s0, vm(3, 1234), length: 1)).branches.first?.rule.id == "vsock.dgram.sendto.per-packet")
    }

    // v5 03 @@ -1200,6 +1232,7 @@ vsock_dgram_sendmsg(): transport = vsk->transport on the
    // connected path, dereferenced without a NULL check. A connected socket has no transport only
    // after a reassignment whose new transport's init() failed (af_vsock.c:505-536, e.g. -ENOMEM),
    // which no operation here provokes; the state is built directly. The model allows any error.
    @Test("vsock.dgram.send.null-transport: connected, no transport → any error, no callback", arguments: v5Profiles)
    func nullTransport(profile: VsockProfile) throws {
        var driver = ConnectRuleTests.connectedVMCISocket(profile)
        driver.state.assign(nil, toSocketAt: 0)
        let send = VsockOperation.send(s0, length: 1)
        let branch = try #require(driver.expectation(send).sole())
        #expect(branch.rule.id == "vsock.dgram.send.null-transport")
        #expect(branch.result == .anyFailure)
        #expect(branch.calls.isEmpty)
        #expect(driver.judge(observed(.failure(.badAddress), refcounts: [.vmci: 0]), of: send)
                == .agrees(rule: "vsock.dgram.send.null-transport"))
        #expect(driver.judge(observed(.value(0), refcounts: [.vmci: 0]), of: send).mismatchKind == .result)
        #expect(driver.judge(observed(.value(1), [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, 1)],
                                      refcounts: [.vmci: 0]), of: send).mismatchKind == .callbacks)
    }
}
