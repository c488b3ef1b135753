import Model
import Testing

/// `connect()`: `vsock_dgram_connect()` for datagrams (v5 03: it assigns the transport) and
/// `vsock_connect()` for STREAM/SEQPACKET (non-blocking, first connect only).
@Suite("connect rules")
struct ConnectRuleTests {
    /// VMCI loaded and one DGRAM socket on it, connected to (3, 1234): the same in every
    /// profile (mainline's DGRAM slot; v5's fallback, since nothing serves CID 3 otherwise).
    static func connectedVMCISocket(_ profile: VsockProfile) -> ModelDriver {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        driver.run(.connect(s0, .address(vm(3, 1234))))
        return driver
    }

    /// v5: a DGRAM socket created on VMCI (the only transport), bound through VMCI's dgram_bind,
    /// then vhost loaded. Binding first lets v5 03 connect it (autobind needs dgram_bind).
    static func boundVMCISocketWithVhost(_ profile: VsockProfile) -> ModelDriver {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        driver.run(.bind(s0, vm(cidAny, 1234)))
        driver.run(.loadTransport(.vhost))
        return driver
    }

    // af_vsock.c:1299 vsock_dgram_connect(): -EAFNOSUPPORT with svm_family == AF_UNSPEC →
    // remote (ANY, ANY), SS_UNCONNECTED, return 0 — the transport is not touched.
    @Test("vsock.connect.dgram.unspec → 0, unconnected, transport kept", arguments: VsockProfile.all)
    func dgramUnspec(profile: VsockProfile) throws {
        var driver = Self.connectedVMCISocket(profile)
        #expect(driver.state.sockets[0].connected)
        let disconnect = VsockOperation.connect(s0, .unspec)
        let branch = try #require(driver.expectation(disconnect).sole())
        #expect(branch.rule.id == "vsock.connect.dgram.unspec")
        #expect(branch.result == .exactly(.value(0)))
        #expect(branch.calls.isEmpty)
        #expect(branch.effects == [.setRemote(.any), .setConnected(false)])
        #expect(driver.judge(observed(.value(0), refcounts: [.vmci: 1]), of: disconnect) == .agrees(rule: "vsock.connect.dgram.unspec"))
        // Dropping the transport (and its module reference) on disconnect is wrong.
        #expect(driver.judge(observed(.value(0), refcounts: [.vmci: 0]), of: disconnect).mismatchKind == .refcount)
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.vmci: 1]), of: disconnect).mismatchKind == .result)

        driver.run(disconnect)
        #expect(driver.state.sockets[0].transport == .vmci)
        // Unconnected now: send() without an address is EINVAL (af_vsock.c:1270).
        #expect(driver.expectation(.send(s0, length: 1)).sole()?.rule.id == "vsock.dgram.send.not-connected")
    }

    // Same rule, v5: the transport a connect() reassigned stays after AF_UNSPEC.
    @Test("vsock.connect.dgram.unspec: v5 keeps the reassigned transport", arguments: v5Profiles)
    func dgramUnspecAfterReassign(profile: VsockProfile) throws {
        var driver = Self.boundVMCISocketWithVhost(profile)
        driver.run(.connect(s0, .address(vm(3, 1234))))
        #expect(driver.state.refcounts == [.vmci: 0, .vhost: 1])
        let disconnect = VsockOperation.connect(s0, .unspec)
        #expect(driver.judge(observed(.value(0), refcounts: [.vmci: 0, .vhost: 1]), of: disconnect)
                == .agrees(rule: "vsock.connect.dgram.unspec"))
        // Going back to the creation-time transport would be a refcount mismatch.
        #expect(driver.judge(observed(.value(0), refcounts: [.vmci: 1, .vhost: 0]), of: disconnect).mismatchKind == .refcount)
    }

    // af_vsock.c:1315 (mainline) vsock_dgram_connect(): !dgram_allow → -EINVAL, the remote is not
    // stored; true → remote stored, SS_CONNECTED. v5 03's code stores the remote first, but the
    // series' intent (cover letter: "the transport and remote_addr are always in sync") keeps a
    // failed call without effect: the remote stays as it was (docs/vsock-dgram-v5-intent.md, 2.5).
    @Test("vsock.connect.dgram.allow: dgram_allow false → EINVAL, not connected", arguments: VsockProfile.all)
    func dgramAllow(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        let connect = VsockOperation.connect(s0, .address(vm(VMAddr.cidHypervisor, 1234)))
        let expectation = driver.expectation(connect)
        let refused = try #require(expectation.branches.first { $0.calls.last == ExpectedCall(.vmci, .dgramAllow, .failure) })
        let refusedRule = profile == .mainline ? "vsock.connect.dgram.allow" : "vsock.connect.dgram.failed-unchanged"
        #expect(refused.rule.id == refusedRule)
        #expect(refused.result == .exactly(.failure(.invalidArgument)))
        // Autobind through VMCI's dgram_bind first, then VMCI's dgram_allow.
        #expect(refused.calls == [ExpectedCall(.vmci, .dgramBind, .success), ExpectedCall(.vmci, .dgramAllow, .failure)])
        #expect(!refused.effects.contains(.setConnected(true)))

        let calls = [call(.vmci, .dgramBind, 0), call(.vmci, .dgramAllow, 0)]
        #expect(driver.judge(observed(.failure(.invalidArgument), calls, refcounts: [.vmci: 1]), of: connect)
                == .agrees(rule: refusedRule))
        #expect(driver.judge(observed(.value(0), calls, refcounts: [.vmci: 1]), of: connect).mismatchKind == .result)
        // dgram_allow true → connected, 0.
        let allowed = [call(.vmci, .dgramBind, 0), call(.vmci, .dgramAllow, 1)]
        #expect(driver.judge(observed(.value(0), allowed, refcounts: [.vmci: 1]), of: connect).agreedRule != nil)
        #expect(driver.judge(observed(.failure(.invalidArgument), allowed, refcounts: [.vmci: 1]), of: connect).mismatchKind == .result)

        let after = driver.state(after: observed(.failure(.invalidArgument), calls, refcounts: [.vmci: 1]), of: connect)
        #expect(!after.sockets[0].connected)
        #expect(after.sockets[0].local != nil)            // the autobind before dgram_allow stands
        #expect(after.sockets[0].remote == .any)
    }

    // v5 03 @@ -1256,13 +1291,18 @@ vsock_dgram_connect(): vsock_assign_transport() looks the
    // transport up for the new remote; a different one replaces the old (module_put on the old,
    // try_module_get on the new, af_vsock.c:494-513).
    @Test("vsock.connect.dgram.assigns: reassignment moves the module reference", arguments: v5Profiles)
    func dgramReassign(profile: VsockProfile) throws {
        let driver = Self.boundVMCISocketWithVhost(profile)
        let connect = VsockOperation.connect(s0, .address(vm(3, 1234)))
        let branch = try #require(driver.expectation(connect).branch("vsock.connect.dgram.assigns"))
        #expect(branch.result == .exactly(.value(0)))
        #expect(branch.calls == [ExpectedCall(.vhost, .dgramAllow, .success)])
        #expect(branch.effects == [.setRemote(vm(3, 1234)), .assign(.vhost), .setConnected(true)])

        let calls = [call(.vhost, .dgramAllow, 1)]
        #expect(driver.judge(observed(.value(0), calls, refcounts: [.vmci: 0, .vhost: 1]), of: connect)
                == .agrees(rule: "vsock.connect.dgram.assigns"))
        // The old reference not dropped, or the new one not taken.
        #expect(driver.judge(observed(.value(0), calls, refcounts: [.vmci: 1, .vhost: 1]), of: connect).mismatchKind == .refcount)
        #expect(driver.judge(observed(.value(0), calls, refcounts: [.vmci: 0, .vhost: 0]), of: connect).mismatchKind == .refcount)
        // dgram_allow asked of the old transport: the core kept it.
        #expect(driver.judge(observed(.value(0), [call(.vmci, .dgramAllow, 1)], refcounts: [.vmci: 1, .vhost: 0]), of: connect)
                .mismatchKind == .transport)

        // dgram_allow false on a socket that was not connected: EINVAL; unclear intent whether
        // the looked-up transport stays assigned (as the code does) or the old one is kept.
        let refusedCalls = [call(.vhost, .dgramAllow, 0)]
        #expect(driver.judge(observed(.failure(.invalidArgument), refusedCalls, refcounts: [.vmci: 0, .vhost: 1]), of: connect)
                == .agrees(rule: "vsock.connect.dgram.failed-transport-unclear"))
        #expect(driver.judge(observed(.failure(.invalidArgument), refusedCalls, refcounts: [.vmci: 1, .vhost: 0]), of: connect)
                == .agrees(rule: "vsock.connect.dgram.failed-unchanged"))
        #expect(driver.judge(observed(.failure(.invalidArgument), refusedCalls, refcounts: [.vmci: 1, .vhost: 1]), of: connect)
                .mismatchKind == .refcount)

        // A connected socket refused by dgram_allow keeps its peer and its transport: the
        // reference moved to the looked-up transport is a divergence from the series' intent.
        var connected = driver
        connected.run(.connect(s0, .address(vm(2, 1234))))       // VMCI (fallback): connected, same transport
        let again = VsockOperation.connect(s0, .address(vm(3, 1234)))
        #expect(connected.judge(observed(.failure(.invalidArgument), refusedCalls, refcounts: [.vmci: 1, .vhost: 0]), of: again)
                == .agrees(rule: "vsock.connect.dgram.failed-unchanged"))
        #expect(connected.judge(observed(.failure(.invalidArgument), refusedCalls, refcounts: [.vmci: 0, .vhost: 1]), of: again)
                .mismatchKind == .refcount)
        let kept = connected.state(after: observed(.failure(.invalidArgument), refusedCalls, refcounts: [.vmci: 1, .vhost: 0]),
                                   of: again)
        #expect(kept.sockets[0].remote == vm(2, 1234) && kept.sockets[0].connected)
        #expect(connected.judge(observed(.address(vm(2, 1234)), refcounts: [.vmci: 1, .vhost: 0]), of: .getpeername(s0))
                == .agrees(rule: "vsock.getpeername.remote"))

        // The same transport again (CID 2 → G2H NULL → fallback VMCI): no reassignment.
        let same = try #require(driver.expectation(.connect(s0, .address(vm(2, 1234)))).branches.first)
        #expect(same.assignments.isEmpty)
        #expect(driver.judge(observed(.value(0), [call(.vmci, .dgramAllow, 1)], refcounts: [.vmci: 1, .vhost: 0]),
                             of: .connect(s0, .address(vm(2, 1234)))) == .agrees(rule: "vsock.connect.dgram.assigns"))
    }

    /// v5: a DGRAM socket reassigned to vhost by connect(3, 1234), VMCI unloaded afterwards, so
    /// that a connect to CID 2 finds no transport at all (G2H NULL, no fallback).
    static func vhostSocketWithoutFallback(_ profile: VsockProfile) -> ModelDriver {
        var driver = boundVMCISocketWithVhost(profile)
        driver.run(.connect(s0, .address(vm(3, 1234))))
        driver.run(.unloadTransport(.vmci))
        return driver
    }

    // af_vsock.c:494 vsock_assign_transport(): !new_transport → -ENODEV; no callback runs after.
    @Test("vsock.assign.enodev: datagram connect() with nothing to serve the CID → ENODEV", arguments: v5Profiles)
    func dgramReassignENODEV(profile: VsockProfile) throws {
        let driver = Self.vhostSocketWithoutFallback(profile)
        let connect = VsockOperation.connect(s0, .address(vm(2, 1234)))
        let branch = try #require(driver.expectation(connect).sole())
        #expect(branch.rule.id == "vsock.assign.enodev")
        #expect(branch.result == .exactly(.failure(.operationNotSupportedByDevice)))
        #expect(branch.calls.isEmpty)
        // dgram_allow must not run on any transport after the failed assignment.
        #expect(driver.judge(observed(.failure(.operationNotSupportedByDevice), [call(.vhost, .dgramAllow, 1)],
                                      refcounts: [.vhost: 1]), of: connect).mismatchKind == .callbacks)
        #expect(driver.judge(observed(.value(0), refcounts: [.vhost: 1]), of: connect).mismatchKind == .result)
    }

    // Debian 6.1.176 af_vsock.c:486-515 vsock_assign_transport() (after the stable backport of
    // "vsock: Fix transport_* TOCTOU"): the `!new_transport || !try_module_get()` → -ENODEV exit
    // at :494 comes BEFORE `if (vsk->transport) { release(); vsock_deassign_transport(); }` at
    // :505-513. v5 03 only changes the lookup (@@ -475,7 +487,8 @@), so on the patched 6.1.176
    // tree a datagram connect() whose lookup is NULL keeps the old transport and its module
    // reference. (The net-next base the series was posted against released the old transport
    // first.)
    @Test("vsock.assign.enodev: failed datagram reassignment keeps the old transport and reference (6.1.176 order)",
          arguments: v5Profiles)
    func dgramReassignKeepsOldTransport(profile: VsockProfile) throws {
        var driver = Self.vhostSocketWithoutFallback(profile)
        #expect(driver.state.refcounts == [.vhost: 1])
        let connect = VsockOperation.connect(s0, .address(vm(2, 1234)))
        let failed = observed(.failure(.operationNotSupportedByDevice), refcounts: [.vhost: 1])
        let branch = try #require(driver.expectation(connect).sole())
        #expect(!branch.assignments.contains(nil), "the old transport must not be released")
        #expect(driver.judge(failed, of: connect) == .agrees(rule: "vsock.assign.enodev"))
        // The model's state after the kernel's observation, whatever it judged: the socket is
        // still connected (the failure is before sock->state = SS_CONNECTED) and on vhost.
        driver.run(connect, observing: failed)
        #expect(driver.state.sockets[0].connected)
        #expect(driver.state.sockets[0].transport == .vhost)
        #expect(driver.expectation(.send(s0, length: 1)).branches.first?.calls.first == ExpectedCall(.vhost, .dgramAllow, .success))
    }

    // af_vsock.c:1426 vsock_connect(): vsock_addr_cast() of an AF_UNSPEC address fails → -EINVAL
    // (the XXX comment: AF_UNSPEC should disconnect, but does not for connectible sockets).
    @Test("vsock.connect.stream.unspec-einval: AF_UNSPEC on STREAM → EINVAL", arguments: VsockProfile.all)
    func streamUnspec(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.stream))
        let connect = VsockOperation.connect(s0, .unspec)
        let branch = try #require(driver.expectation(connect).sole())
        #expect(branch.rule.id == "vsock.connect.stream.unspec-einval")
        #expect(branch.result == .exactly(.failure(.invalidArgument)))
        #expect(branch.effects.isEmpty)
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.virtio: 0]), of: connect)
                == .agrees(rule: "vsock.connect.stream.unspec-einval"))
        // The datagram behaviour (disconnect, 0) is wrong for STREAM.
        #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 0]), of: connect).mismatchKind == .result)
    }

    // af_vsock.c:1435 vsock_connect(): remote stored, vsock_assign_transport() takes the lookup's
    // transport and a module reference; none → -ENODEV (:494), no reference.
    @Test("vsock.connect.stream.assign: lookup's transport (+1 ref); none → ENODEV", arguments: VsockProfile.all)
    func streamAssign(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.socket(.stream))
        let connect = VsockOperation.connect(s0, .address(vm(2, 1234)))
        let none = try #require(driver.expectation(connect).sole())
        #expect(none.rule.id == "vsock.assign.enodev")
        #expect(none.result == .exactly(.failure(.operationNotSupportedByDevice)))
        #expect(none.assignments.isEmpty)
        #expect(driver.judge(observed(.failure(.operationNotSupportedByDevice), refcounts: [:]), of: connect)
                == .agrees(rule: "vsock.assign.enodev"))
        #expect(driver.judge(observed(.failure(.networkUnreachable), refcounts: [:]), of: connect).mismatchKind == .result)

        driver.run(.loadTransport(.virtio))
        let success = try #require(driver.expectation(connect).branch("vsock.connect.stream.callback"))
        #expect(success.assignments == [.virtio])
        let calls = [call(.virtio, .streamAllow, 1), call(.virtio, .connect, 0)]
        #expect(driver.judge(observed(.failure(.nowInProgress), calls, refcounts: [.virtio: 1]), of: connect)
                == .agrees(rule: "vsock.connect.stream.callback"))
        #expect(driver.judge(observed(.failure(.nowInProgress), calls, refcounts: [.virtio: 0]), of: connect).mismatchKind == .refcount)
    }

    // af_vsock.c:527 vsock_assign_transport(): SEQPACKET needs seqpacket_allow; hv_sock
    // (hyperv_transport.c:825, like VMCI) has none → -ESOCKTNOSUPPORT, module_put() on the new
    // transport.
    @Test("vsock.connect.seqpacket.allow: no seqpacket_allow → ESOCKTNOSUPPORT, no reference", arguments: VsockProfile.all)
    func seqpacketWithoutCallback(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.hyperv))
        driver.run(.socket(.seqpacket))
        let connect = VsockOperation.connect(s0, .address(vm(2, 1234)))
        let branch = try #require(driver.expectation(connect).sole())
        #expect(branch.rule.id == "vsock.connect.seqpacket.allow")
        #expect(branch.result == .exactly(.failure(.socketTypeNotSupported)))
        #expect(branch.calls.isEmpty)
        #expect(branch.assignments.isEmpty)
        #expect(driver.judge(observed(.failure(.socketTypeNotSupported), refcounts: [.hyperv: 0]), of: connect)
                == .agrees(rule: "vsock.connect.seqpacket.allow"))
        // The reference taken for the check must be put back.
        #expect(driver.judge(observed(.failure(.socketTypeNotSupported), refcounts: [.hyperv: 1]), of: connect)
                .mismatchKind == .refcount)
        #expect(driver.judge(observed(.failure(.nowInProgress), [call(.hyperv, .streamAllow, 1), call(.hyperv, .connect, 0)],
                                      refcounts: [.hyperv: 1]), of: connect).mismatchKind == .callbacks)
        // vmci_transport (vmci_transport.c:2025) has no .seqpacket_allow either; without a VMCI
        // device it holds no G2H/H2G slot, so a SEQPACKET socket cannot reach it in this model.
        #expect(!TransportModule.vmci.hasSeqpacketAllow)
        #expect(TransportModule.vmci.registersSlots == [.dgram])
    }

    // af_vsock.c:527: seqpacket_allow(remote_cid) false (virtio without a device) → ESOCKTNOSUPPORT,
    // module_put(); true → on to stream_allow.
    @Test("vsock.connect.seqpacket.allow: seqpacket_allow false → ESOCKTNOSUPPORT", arguments: VsockProfile.all)
    func seqpacketRefused(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.seqpacket))
        let connect = VsockOperation.connect(s0, .address(vm(2, 1234)))
        let refused = try #require(driver.expectation(connect).branch("vsock.connect.seqpacket.allow"))
        #expect(refused.calls == [ExpectedCall(.virtio, .seqpacketAllow, .failure)])
        #expect(refused.result == .exactly(.failure(.socketTypeNotSupported)))
        let calls = [call(.virtio, .seqpacketAllow, 0)]
        #expect(driver.judge(observed(.failure(.socketTypeNotSupported), calls, refcounts: [.virtio: 0]), of: connect)
                == .agrees(rule: "vsock.connect.seqpacket.allow"))
        #expect(driver.judge(observed(.failure(.socketTypeNotSupported), calls, refcounts: [.virtio: 1]), of: connect)
                .mismatchKind == .refcount)
        #expect(driver.judge(observed(.failure(.networkUnreachable), calls, refcounts: [.virtio: 0]), of: connect)
                .mismatchKind == .result)
        // Allowed: stream_allow and connect follow on the same transport.
        let allowed = [call(.virtio, .seqpacketAllow, 1), call(.virtio, .streamAllow, 1), call(.virtio, .connect, 0)]
        #expect(driver.judge(observed(.failure(.nowInProgress), allowed, refcounts: [.virtio: 1]), of: connect)
                == .agrees(rule: "vsock.connect.stream.callback"))
    }

    // af_vsock.c:1445 vsock_connect(): !stream_allow → -ENETUNREACH; the transport assigned just
    // before stays (its reference is dropped only at close).
    @Test("vsock.connect.stream.allow: stream_allow false → ENETUNREACH, transport kept", arguments: VsockProfile.all)
    func streamAllow(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.stream))
        let connect = VsockOperation.connect(s0, .address(vm(VMAddr.cidHypervisor, 1234)))
        let refused = try #require(driver.expectation(connect).branch("vsock.connect.stream.allow"))
        #expect(refused.result == .exactly(.failure(.networkUnreachable)))
        #expect(refused.calls == [ExpectedCall(.virtio, .streamAllow, .failure)])
        #expect(refused.assignments == [.virtio])
        let calls = [call(.virtio, .streamAllow, 0)]
        let agreeing = observed(.failure(.networkUnreachable), calls, refcounts: [.virtio: 1])
        #expect(driver.judge(agreeing, of: connect) == .agrees(rule: "vsock.connect.stream.allow"))
        #expect(driver.judge(observed(.failure(.networkUnreachable), calls, refcounts: [.virtio: 0]), of: connect)
                .mismatchKind == .refcount)
        #expect(driver.judge(observed(.failure(.invalidArgument), calls, refcounts: [.virtio: 1]), of: connect).mismatchKind == .result)
        // No autobind before stream_allow passed (af_vsock.c:1451 comes after :1445).
        driver.run(connect, observing: agreeing)
        #expect(driver.state.sockets[0].local == nil)
        driver.run(.close(s0))
        #expect(driver.state.refcounts == [.virtio: 0])
    }

    // af_vsock.c:1451-1465 vsock_connect(): vsock_auto_bind(), then transport->connect(): its
    // error propagates; success → -EINPROGRESS (non-blocking), unless the peer already answered.
    @Test("vsock.connect.stream.callback: connect error propagates, success → EINPROGRESS", arguments: VsockProfile.all)
    func streamConnectCallback(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.stream))
        let connect = VsockOperation.connect(s0, .address(vm(2, 1234)))
        let expectation = driver.expectation(connect)
        let success = try #require(expectation.branches.first)
        #expect(success.rule.id == "vsock.connect.stream.callback")
        #expect(success.result == .oneOf([.failure(.nowInProgress), .failure(.connectionReset), .value(0)]))
        // The autobind: an ephemeral port in the connectible table.
        #expect(success.binding == LocalBinding(cid: cidAny, port: nil, table: .connectible))

        let failing = [call(.virtio, .streamAllow, 1), call(.virtio, .connect, neg(.operationNotSupportedByDevice))]
        #expect(driver.judge(observed(.failure(.operationNotSupportedByDevice), failing, refcounts: [.virtio: 1]), of: connect)
                == .agrees(rule: "vsock.connect.stream.callback"))
        #expect(driver.judge(observed(.failure(.nowInProgress), failing, refcounts: [.virtio: 1]), of: connect)
                .mismatchKind == .result)
        let ok = [call(.virtio, .streamAllow, 1), call(.virtio, .connect, 0)]
        #expect(driver.judge(observed(.failure(.nowInProgress), ok, refcounts: [.virtio: 1]), of: connect)
                == .agrees(rule: "vsock.connect.stream.callback"))
        #expect(driver.judge(observed(.failure(.timedOut), ok, refcounts: [.virtio: 1]), of: connect).mismatchKind == .result)

        // After a connect reached the transport, later connects are not stated (isApplicable).
        driver.run(connect)
        #expect(!driver.model.isApplicable(connect, in: driver.state))
    }
}
