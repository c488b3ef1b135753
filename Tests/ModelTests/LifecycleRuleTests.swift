import Model
import Testing

/// `socket()`, `getsockname()` and `close()`: which transport a new socket takes (and the module
/// reference with it), what its local address reads, and what closing it releases.
@Suite("socket lifecycle rules")
struct LifecycleRuleTests {
    // af_vsock.c:2357 vsock_create(): only SOCK_DGRAM calls vsock_assign_transport(); STREAM and
    // SEQPACKET get theirs at connect() — so they are created with no module loaded at all.
    @Test("vsock.create.connectible-no-transport → fd, no reference", arguments: VsockProfile.all)
    func connectibleCreate(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        for type in [SocketType.stream, .seqpacket] {
            let branch = try #require(driver.expectation(.socket(type)).sole())
            #expect(branch.rule.id == "vsock.create.connectible-no-transport")
            #expect(branch.result == .anyValue)
            #expect(branch.effects == [.open(type, transport: nil)])
            #expect(driver.judge(observed(.value(3), refcounts: [:]), of: .socket(type))
                    == .agrees(rule: "vsock.create.connectible-no-transport"))
            #expect(driver.judge(observed(.failure(.operationNotSupportedByDevice), refcounts: [:]), of: .socket(type))
                    .mismatchKind == .result)
        }
        // With a transport loaded, creation still takes no reference on it.
        driver.run(.loadTransport(.virtio))
        #expect(driver.judge(observed(.value(3), refcounts: [.virtio: 0]), of: .socket(.stream))
                == .agrees(rule: "vsock.create.connectible-no-transport"))
        #expect(driver.judge(observed(.value(3), refcounts: [.virtio: 1]), of: .socket(.stream)).mismatchKind == .refcount)
    }

    // af_vsock.c:469/494 (mainline): transport_dgram NULL → -ENODEV; VMCI loaded → the socket
    // takes VMCI and one reference on vmw_vsock_vmci_transport.
    @Test("vsock.create.dgram.dgram-slot → ENODEV without VMCI, VMCI (+1 ref) with it")
    func mainlineCreate() throws {
        var driver = ModelDriver(.mainline)
        driver.run(.loadTransport(.virtio))
        let none = try #require(driver.expectation(.socket(.dgram)).sole())
        #expect(none.rule.id == "vsock.assign.enodev")
        #expect(driver.judge(observed(.failure(.operationNotSupportedByDevice), refcounts: [.virtio: 0]), of: .socket(.dgram))
                == .agrees(rule: "vsock.assign.enodev"))
        #expect(driver.judge(observed(.value(3), refcounts: [.virtio: 1]), of: .socket(.dgram)).mismatchKind == .result)

        driver.run(.loadTransport(.vmci))
        let branch = try #require(driver.expectation(.socket(.dgram)).sole())
        #expect(branch.rule.id == "vsock.create.dgram.dgram-slot")
        #expect(branch.effects == [.open(.dgram, transport: .vmci)])
        driver.run(.socket(.dgram))
        driver.run(.socket(.dgram))
        #expect(driver.state.refcounts == [.virtio: 0, .vmci: 2])
    }

    // The series' intent for socket(SOCK_DGRAM) (docs/vsock-dgram-v5-intent.md, 2.3): with
    // only the fallback loaded, VMCI (patch 03's message); once a local, G2H or H2G transport is
    // loaded the whole series must create the socket (patches 11-13 implement datagrams), on
    // lookup(VMADDR_CID_ANY), the local transport, VMCI or none (unclear); patches 01-03 alone
    // may still refuse with ENODEV. With nothing loaded: ENODEV or a socket with no transport.
    @Test("vsock.create.dgram.*: what socket(SOCK_DGRAM) may do under the series' intent", arguments: v5Profiles)
    func v5Create(profile: VsockProfile) throws {
        let whole = profile == .vsockDgramV5
        let cases: [(modules: [TransportModule], allowed: [TransportModule?], enodev: Bool)] = [
            ([.vmci], [.vmci], false),                                   // the fallback "needs to be used"
            ([.virtio], [.virtio, nil], !whole),                         // G2H for CID ANY
            ([.vmci, .vhost], whole ? [.vhost, .vmci, nil] : [.vhost, nil], !whole),
            ([.loopback], whole ? [.loopback, nil] : [nil], !whole),     // finding 3: ENODEV only allowed for 01-03
            ([.loopback, .virtio], [.loopback, nil], !whole),            // device-less virtio answers CID ANY: local
            ([], [nil], true),
        ]
        for (modules, allowed, enodev) in cases {
            var driver = ModelDriver(profile)
            for module in modules { driver.run(.loadTransport(module)) }
            let opened = driver.expectation(.socket(.dgram)).branches.filter { $0.result == .anyValue }.map(\.openedOn)
            #expect(opened == allowed.map { .some($0) }, "\(modules)")
            let refused = driver.judge(observed(.failure(.operationNotSupportedByDevice),
                                                refcounts: Dictionary(uniqueKeysWithValues: modules.map { ($0, 0) })),
                                       of: .socket(.dgram))
            #expect((refused.agreedRule != nil) == enodev, "\(modules): ENODEV \(refused)")
            for transport in allowed {
                let counts = Dictionary(uniqueKeysWithValues: modules.map { ($0, $0 == transport ? 1 : 0) })
                #expect(driver.judge(observed(.value(3), refcounts: counts), of: .socket(.dgram)).agreedRule != nil,
                        "\(modules): on \(transport?.shortName ?? "none")")
            }
        }
        // The loopback-only socket of the whole series, on loopback, then closed: its reference goes.
        if whole {
            var driver = ModelDriver(profile)
            driver.run(.loadTransport(.loopback))
            #expect(driver.run(.socket(.dgram), observing: observed(.value(3), refcounts: [.loopback: 1]))
                    == .agrees(rule: "vsock.create.dgram.supported"))
            #expect(driver.state.sockets.first?.transport == .loopback)
        }
    }

    // af_vsock.c:1022 vsock_getname(peer = 0): copies vsk->local_addr, (ANY, ANY) while unbound.
    @Test("vsock.getsockname.local → (ANY, ANY) unbound, the bound address after bind()", arguments: VsockProfile.all)
    func getsockname(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.socket(.stream))
        let unbound = try #require(driver.expectation(.getsockname(s0)).sole())
        #expect(unbound.rule.id == "vsock.getsockname.local")
        #expect(unbound.result == .address(cid: cidAny, port: .exactly(portAny)))
        #expect(driver.judge(observed(.address(.any), refcounts: [:]), of: .getsockname(s0))
                == .agrees(rule: "vsock.getsockname.local"))
        #expect(driver.judge(observed(.address(vm(cidAny, 1024)), refcounts: [:]), of: .getsockname(s0)).mismatchKind == .result)

        driver.run(.bind(s0, vm(cidAny, 1234)))
        #expect(driver.judge(observed(.address(vm(cidAny, 1234)), refcounts: [:]), of: .getsockname(s0))
                == .agrees(rule: "vsock.getsockname.local"))
        #expect(driver.judge(observed(.address(vm(cidAny, 1235)), refcounts: [:]), of: .getsockname(s0)).mismatchKind == .result)
        #expect(driver.judge(observed(.address(vm(2, 1234)), refcounts: [:]), of: .getsockname(s0)).mismatchKind == .result)
    }

    // virtio_transport_common.c:1385 virtio_transport_recv_pkt(): the socket a packet reaches
    // takes the packet's destination CID as its local CID. Through vsock_loopback a connect to
    // (VMADDR_CID_ANY, p) reaches a socket bound at p; if it is on loopback (the sender itself,
    // here) or listening, its CID becomes ANY. Found by the nightly mainline run (docs/findings.md, F-mainline-1):
    // the minimal sequence below is its case, seed 47.
    @Test("vsock.getsockname.readdressed-any → CID ANY allowed after a loopback connect to (ANY, p)", arguments: VsockProfile.all)
    func getsocknameReaddressed(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.loopback))
        driver.run(.socket(.stream))
        driver.run(.socket(.stream))
        driver.run(.loadTransport(.virtio))
        driver.run(.bind(s0, vm(1, 1024)))
        driver.run(.bind(s1, vm(1, 1025)))
        // Before any packet: the bound CID only.
        #expect(driver.judge(observed(.address(vm(cidAny, 1024)), refcounts: [.loopback: 0, .virtio: 0]),
                             of: .getsockname(s0)).mismatchKind == .result)
        // virtio without a device answers CID ANY as its own: a connect to ANY goes through loopback.
        let verdict = driver.run(.connect(s0, .address(vm(cidAny, 1024))),
                                 observing: observed(.failure(.nowInProgress),
                                                     [call(.loopback, .streamAllow, 1), call(.loopback, .connect, 0)],
                                                     refcounts: [.loopback: 1, .virtio: 0]))
        #expect(!verdict.isDivergence, "\(verdict)")
        let refs: [TransportModule: Int] = [.loopback: 1, .virtio: 0]
        // The socket at port 1024 may read either CID; the one at 1025 only its own.
        #expect(driver.judge(observed(.address(vm(1, 1024)), refcounts: refs), of: .getsockname(s0))
                == .agrees(rule: "vsock.getsockname.local"))
        #expect(driver.judge(observed(.address(vm(cidAny, 1024)), refcounts: refs), of: .getsockname(s0))
                == .agrees(rule: "vsock.getsockname.readdressed-any"))
        #expect(driver.judge(observed(.address(vm(2, 1024)), refcounts: refs), of: .getsockname(s0)).mismatchKind == .result)
        #expect(driver.judge(observed(.address(vm(cidAny, 1025)), refcounts: refs), of: .getsockname(s1)).mismatchKind == .result)
        // Once seen as ANY, it stays ANY.
        driver.run(.getsockname(s0), observing: observed(.address(vm(cidAny, 1024)), refcounts: refs))
        #expect(driver.judge(observed(.address(vm(1, 1024)), refcounts: refs), of: .getsockname(s0)).mismatchKind == .result)

        // A socket bound at the port but on no transport is sent a reset, not re-addressed
        // (6.1.176:1371): s1 keeps its CID when s0 connects to (ANY, 1025).
        var other = ModelDriver(profile)
        other.run(.loadTransport(.loopback))
        other.run(.socket(.stream))
        other.run(.socket(.stream))
        other.run(.loadTransport(.virtio))
        other.run(.bind(s1, vm(1, 1025)))
        other.run(.connect(s0, .address(vm(cidAny, 1025))),
                  observing: observed(.failure(.nowInProgress), [call(.loopback, .streamAllow, 1), call(.loopback, .connect, 0)],
                                      refcounts: refs))
        #expect(other.judge(observed(.address(vm(cidAny, 1025)), refcounts: refs), of: .getsockname(s1)).mismatchKind == .result)
    }

    // af_vsock.c:1015-1020 vsock_getname(peer = 1): ENOTCONN unless sock->state == SS_CONNECTED,
    // then the remote address in force, flags included.
    @Test("vsock.getpeername → ENOTCONN unconnected, the remote once connected, ENOTCONN after AF_UNSPEC",
          arguments: VsockProfile.all)
    func getpeername(profile: VsockProfile) throws {
        var driver = ConnectRuleTests.connectedVMCISocket(profile)
        let refs: [TransportModule: Int] = [.vmci: 1]
        #expect(driver.judge(observed(.address(vm(3, 1234)), refcounts: refs), of: .getpeername(s0))
                == .agrees(rule: "vsock.getpeername.remote"))
        #expect(driver.judge(observed(.address(vm(3, 1235)), refcounts: refs), of: .getpeername(s0)).mismatchKind == .result)
        #expect(driver.judge(observed(.address(vm(3, 1234, flags: VMAddr.flagToHost)), refcounts: refs),
                             of: .getpeername(s0)).mismatchKind == .result)
        #expect(driver.judge(observed(.failure(.socketNotConnected), refcounts: refs), of: .getpeername(s0)).mismatchKind == .result)
        driver.run(.connect(s0, .unspec))
        #expect(driver.judge(observed(.failure(.socketNotConnected), refcounts: refs), of: .getpeername(s0))
                == .agrees(rule: "vsock.getpeername.enotconn"))
        // A new socket has no peer either, connectible or not.
        driver.run(.socket(.stream))
        #expect(driver.judge(observed(.failure(.socketNotConnected), refcounts: refs), of: .getpeername(s1))
                == .agrees(rule: "vsock.getpeername.enotconn"))
        #expect(driver.judge(observed(.address(.any), refcounts: refs), of: .getpeername(s1)).mismatchKind == .result)
    }

    // af_vsock.c:1259 vsock_dgram_sendmsg(): a connected send finds the remote CID ANY and
    // replaces it with the transport's own, for good. VMCI's own is its context id (the
    // environment's): getpeername then shows some CID, which the model learns. Found by the
    // live mainline run of Dec 2026 (seed 13), which the model without this rule failed.
    @Test("vsock.dgram.send.resolves-cid-any: getpeername after a connected send to CID ANY", arguments: VsockProfile.all)
    func sendResolvesCidAny(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        driver.run(.connect(s0, .address(vm(cidAny, 50_000))))
        let refs: [TransportModule: Int] = [.vmci: 1]
        // Before any send: the remote as connected.
        #expect(driver.judge(observed(.address(vm(cidAny, 50_000)), refcounts: refs), of: .getpeername(s0))
                == .agrees(rule: "vsock.getpeername.remote"))
        // The send fails in VMCI (no device) or not: the CID is replaced before either.
        let sent = driver.run(.send(s0, length: 1),
                              observing: observed(.failure(.notPermitted),
                                       [call(.vmci, .dgramAllow, 1), call(.vmci, .dgramEnqueue, -1)],
                                       refcounts: refs))
        #expect(!sent.isDivergence, "\(sent)")
        #expect(driver.judge(observed(.address(vm(2, 50_000)), refcounts: refs), of: .getpeername(s0))
                == .agrees(rule: "vsock.dgram.send.resolves-cid-any"))
        #expect(driver.judge(observed(.address(vm(2, 50_001)), refcounts: refs), of: .getpeername(s0)).mismatchKind == .result)
        // Learned: from now on exactly that CID.
        driver.run(.getpeername(s0), observing: observed(.address(vm(2, 50_000)), refcounts: refs))
        #expect(driver.judge(observed(.address(vm(3, 50_000)), refcounts: refs), of: .getpeername(s0)).mismatchKind == .result)
    }

    // af_vsock.c:427 vsock_deassign_transport() from vsock_sk_destruct(): module_put() on the
    // socket's transport; vsock_remove_sock() drops its binding.
    @Test("vsock.close.releases → 0, transport reference dropped, port free again", arguments: VsockProfile.all)
    func close(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        // A datagram socket: mainline puts it on VMCI, v5 on virtio (G2H for CID ANY).
        let transport: TransportModule = profile == .mainline ? .vmci : .virtio
        driver.run(.loadTransport(transport))
        driver.run(.socket(.dgram))
        driver.run(.socket(.stream))
        driver.run(.bind(s1, vm(cidAny, 1234)))
        #expect(driver.state.refcounts == [transport: 1])

        let close = VsockOperation.close(s0)
        let branch = try #require(driver.expectation(close).sole())
        #expect(branch.rule.id == "vsock.close.releases")
        #expect(branch.result == .exactly(.value(0)))
        #expect(driver.judge(observed(.value(0), refcounts: [transport: 0]), of: close) == .agrees(rule: "vsock.close.releases"))
        // A close that keeps the module reference leaks it: nothing lingers for a datagram socket.
        #expect(driver.judge(observed(.value(0), refcounts: [transport: 1]), of: close).mismatchKind == .refcount)
        driver.run(close)
        #expect(driver.state.sockets.count == 1)
        #expect(driver.expectation(.unloadTransport(transport)).sole()?.result == .exactly(.value(0)))

        // Closing the bound stream socket frees its port for a new one.
        driver.run(.close(s0))
        driver.run(.socket(.stream))
        #expect(driver.expectation(.bind(s0, vm(cidAny, 1234))).sole()?.result == .exactly(.value(0)))
    }

    // af_vsock.c:1525 vsock_connect(): a non-blocking connect schedules connect_work holding the
    // socket for the connect timeout (2 s); virtio_transport_common.c:1010 virtio_transport_close()
    // holds an established one for up to 8 s. Measured in the test VM: after close() of a loopback
    // stream socket whose connect returned EINPROGRESS, vsock_loopback's refcnt stayed 1 for > 1 s.
    @Test("vsock.close.lingering: a connected-to stream socket's reference may outlive close(); unload may wait",
          arguments: VsockProfile.all)
    func closeLingers(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.stream))
        driver.run(.connect(s0, .address(vm(2, 5000))))
        #expect(driver.state.refcounts == [.virtio: 1])

        let close = VsockOperation.close(s0)
        #expect(try #require(driver.expectation(close).sole()).rule.id == "vsock.close.lingering")
        #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 0]), of: close) == .agrees(rule: "vsock.close.lingering"))
        #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 1]), of: close) == .agrees(rule: "vsock.close.lingering"))
        // Never more than the closed socket held.
        #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 2]), of: close).mismatchKind == .refcount)

        driver.run(close, observing: observed(.value(0), refcounts: [.virtio: 1]))
        let unload = driver.expectation(.unloadTransport(.virtio))
        #expect(Set(unload.branches.map(\.rule.id)) == ["vsock.unregister.clears-slots", "module.unload.lingering"])
        #expect(driver.judge(observed(.failure(.wouldBlock), refcounts: [.virtio: 1]), of: .unloadTransport(.virtio))
                == .agrees(rule: "module.unload.lingering"))
        // Once a step shows the reference gone, the model forgets it: unload must succeed again.
        driver.run(.socket(.stream), observing: observed(.value(5), refcounts: [.virtio: 0]))
        #expect(driver.state.lingering.isEmpty)
        #expect(driver.expectation(.unloadTransport(.virtio)).sole()?.result == .exactly(.value(0)))
    }
}
