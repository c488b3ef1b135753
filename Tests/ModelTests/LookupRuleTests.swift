import Model
import Testing

/// Which transport serves a remote CID: `vsock_use_local_transport()` and the connectible lookup
/// (mainline's inline STREAM logic in `vsock_assign_transport()`, v5 02's
/// `vsock_connectible_lookup_transport()`). Observed through a STREAM `connect()`, whose first
/// callback runs on the chosen transport, in every profile.
@Suite("transport lookup rules")
struct LookupRuleTests {
    /// Loads `modules` in order and opens one STREAM socket.
    static func streamSocket(_ profile: VsockProfile, loading modules: [TransportModule],
                             configuration: VsockConfiguration = VsockConfiguration()) -> ModelDriver {
        var driver = ModelDriver(profile, configuration: configuration)
        for module in modules { driver.run(.loadTransport(module)) }
        driver.run(.socket(.stream))
        return driver
    }

    /// Asserts that `connect(s0, address)` is served by `chosen`: the successful branch runs
    /// `stream_allow` and `connect` on it and assigns it; an observation with those callbacks
    /// on `chosen` agrees and one with them on `other` is a transport mismatch.
    static func expectConnect(_ driver: ModelDriver, to address: SockAddrVM, goesTo chosen: TransportModule,
                              not other: TransportModule, loaded modules: [TransportModule],
                              sourceLocation: SourceLocation = #_sourceLocation) {
        let connect = VsockOperation.connect(s0, .address(address))
        let expectation = driver.expectation(connect)
        guard let success = expectation.branches.first(where: { $0.rule.id == "vsock.connect.stream.callback" }) else {
            Issue.record("no successful connect branch: \(expectation)", sourceLocation: sourceLocation)
            return
        }
        #expect(success.calls == [ExpectedCall(chosen, .streamAllow, .success), ExpectedCall(chosen, .connect, .success)],
                sourceLocation: sourceLocation)
        #expect(success.assignments == [chosen], sourceLocation: sourceLocation)

        func refcounts(holding holder: TransportModule) -> [TransportModule: Int] {
            Dictionary(uniqueKeysWithValues: modules.map { ($0, $0 == holder ? 1 : 0) })
        }
        let agreeing = observed(.failure(.nowInProgress), [call(chosen, .streamAllow, 1), call(chosen, .connect, 0)],
                                refcounts: refcounts(holding: chosen))
        #expect(driver.judge(agreeing, of: connect) == .agrees(rule: "vsock.connect.stream.callback"),
                sourceLocation: sourceLocation)
        let elsewhere = observed(.failure(.nowInProgress), [call(other, .streamAllow, 1), call(other, .connect, 0)],
                                 refcounts: refcounts(holding: other))
        #expect(driver.judge(elsewhere, of: connect).mismatchKind == .transport, sourceLocation: sourceLocation)
    }

    // af_vsock.c:404 vsock_use_local_transport(): VMADDR_CID_LOCAL → transport_local, even with
    // G2H and H2G loaded.
    @Test("vsock.lookup.local: CID 1 → loopback", arguments: VsockProfile.all)
    func cidLocal(profile: VsockProfile) {
        let modules: [TransportModule] = [.virtio, .vhost, .loopback]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(1, 1234), goesTo: .loopback, not: .virtio, loaded: modules)
    }

    // af_vsock.c:404 vsock_use_local_transport(): without transport_local the answer is false,
    // and CID 1 ≤ VMADDR_CID_HOST goes to G2H (af_vsock.c:475).
    @Test("vsock.lookup.local: CID 1 without loopback → G2H", arguments: VsockProfile.all)
    func cidLocalWithoutLoopback(profile: VsockProfile) {
        let modules: [TransportModule] = [.virtio, .vhost]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(1, 1234), goesTo: .virtio, not: .vhost, loaded: modules)
    }

    // af_vsock.c:404 vsock_use_local_transport(): without G2H, VMADDR_CID_HOST is local.
    @Test("vsock.lookup.local: CID 2 without G2H → loopback", arguments: VsockProfile.all)
    func hostWithoutG2H(profile: VsockProfile) {
        let modules: [TransportModule] = [.vhost, .loopback]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(2, 1234), goesTo: .loopback, not: .vhost, loaded: modules)
    }

    // af_vsock.c:404 vsock_use_local_transport(): with G2H loaded, CID 2 is local only if it is
    // G2H's own CID; virtio without a device answers VMADDR_CID_ANY, so CID 2 goes to G2H.
    @Test("vsock.lookup.local: CID 2 with G2H → G2H, not loopback", arguments: VsockProfile.all)
    func hostWithG2H(profile: VsockProfile) {
        let modules: [TransportModule] = [.virtio, .loopback]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(2, 1234), goesTo: .virtio, not: .loopback, loaded: modules)
    }

    // af_vsock.c:404 vsock_use_local_transport(): remote_cid == transport_g2h->get_local_cid()
    // → local. A guest whose virtio device gave it CID 3 reaches itself through loopback.
    @Test("vsock.lookup.local: the G2H transport's own CID → loopback", arguments: VsockProfile.all)
    func g2hOwnCID(profile: VsockProfile) {
        let modules: [TransportModule] = [.virtio, .loopback]
        let guest = Self.streamSocket(profile, loading: modules, configuration: VsockConfiguration(g2hLocalCID: 3))
        Self.expectConnect(guest, to: vm(3, 1234), goesTo: .loopback, not: .virtio, loaded: modules)
        // Without a device virtio's CID is VMADDR_CID_ANY, so CID 3 is not ours: G2H (no H2G).
        let noDevice = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(noDevice, to: vm(3, 1234), goesTo: .virtio, not: .loopback, loaded: modules)
    }

    // virtio_transport.c:76 virtio_transport_get_local_cid(): no device → VMADDR_CID_ANY, so
    // vsock_use_local_transport(VMADDR_CID_ANY) (af_vsock.c:404) is true with loopback loaded.
    @Test("vsock.lookup.local: CID ANY with device-less virtio + loopback → loopback", arguments: VsockProfile.all)
    func cidAnyQuirk(profile: VsockProfile) {
        let modules: [TransportModule] = [.virtio, .loopback]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(cidAny, 1234), goesTo: .loopback, not: .virtio, loaded: modules)
    }

    // af_vsock.c:475 (v5 02 vsock_connectible_lookup_transport): CID > 2 with H2G loaded → H2G.
    @Test("vsock.lookup.connectible: CID 3 with H2G → H2G", arguments: VsockProfile.all)
    func guestCIDToH2G(profile: VsockProfile) {
        let modules: [TransportModule] = [.virtio, .vhost]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(3, 1234), goesTo: .vhost, not: .virtio, loaded: modules)
    }

    // af_vsock.c:475: (remote_flags & VMADDR_FLAG_TO_HOST) → G2H even for CID > 2 with H2G.
    @Test("vsock.lookup.connectible: CID 3 with VMADDR_FLAG_TO_HOST → G2H", arguments: VsockProfile.all)
    func toHostFlag(profile: VsockProfile) {
        let modules: [TransportModule] = [.virtio, .vhost]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(3, 1234, flags: VMAddr.flagToHost), goesTo: .virtio, not: .vhost, loaded: modules)
    }

    // af_vsock.c:475: remote_cid <= VMADDR_CID_HOST → G2H even with H2G loaded (CID 0 and 2).
    @Test("vsock.lookup.connectible: CID ≤ 2 → G2H even with H2G", arguments: VsockProfile.all)
    func lowCIDsToG2H(profile: VsockProfile) {
        let modules: [TransportModule] = [.virtio, .vhost]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(2, 1234), goesTo: .virtio, not: .vhost, loaded: modules)
        Self.expectConnect(driver, to: vm(VMAddr.cidHypervisor, 1234), goesTo: .virtio, not: .vhost, loaded: modules)
    }

    // af_vsock.c:475: !transport_h2g → G2H for every CID.
    @Test("vsock.lookup.connectible: CID 3 without H2G → G2H", arguments: VsockProfile.all)
    func noH2G(profile: VsockProfile) {
        let modules: [TransportModule] = [.virtio, .loopback]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(100, 1234), goesTo: .virtio, not: .loopback, loaded: modules)
    }

    // af_vsock.c:475 and :494: with only H2G loaded, CID 3 gets H2G, but CID 2 asks for G2H,
    // which is NULL → -ENODEV.
    @Test("vsock.lookup.connectible: only H2G → CID 3 served, CID 2 ENODEV", arguments: VsockProfile.all)
    func onlyH2G(profile: VsockProfile) throws {
        let modules: [TransportModule] = [.vhost]
        let driver = Self.streamSocket(profile, loading: modules)
        Self.expectConnect(driver, to: vm(3, 1234), goesTo: .vhost, not: .virtio, loaded: modules)
        let toHost = try #require(driver.expectation(.connect(s0, .address(vm(2, 1234)))).sole())
        #expect(toHost.rule.id == "vsock.assign.enodev")
        #expect(toHost.result == .exactly(.failure(.operationNotSupportedByDevice)))
        #expect(toHost.calls.isEmpty)
    }

    // v5 03 @@ -439,6 +439,18 @@ vsock_dgram_lookup_transport(): the connectible lookup first,
    // transport_dgram_fallback (VMCI) only when it finds nothing.
    @Test("vsock.dgram.lookup.fallback: VMCI only when the connectible lookup is NULL", arguments: v5Profiles)
    func dgramFallback(profile: VsockProfile) throws {
        // Only VMCI: the connectible lookup of (CID_ANY, 0) is G2H = NULL → fallback VMCI.
        var vmciOnly = ModelDriver(profile)
        vmciOnly.run(.loadTransport(.vmci))
        let create = try #require(vmciOnly.expectation(.socket(.dgram)).sole())
        #expect(create.openedOn == .some(.vmci))
        #expect(vmciOnly.judge(observed(.value(3), refcounts: [.vmci: 1]), of: .socket(.dgram))
                == .agrees(rule: "vsock.create.dgram.lookup"))

        // VMCI and vhost: CID_ANY > 2 with H2G → vhost; the fallback is not consulted.
        var both = ModelDriver(profile)
        both.run(.loadTransport(.vmci))
        both.run(.loadTransport(.vhost))
        #expect(both.expectation(.socket(.dgram)).branches.first?.openedOn == .some(.vhost))
        // On VMCI instead: the whole series' intent does not say which transport a new socket
        // takes (vsock.create.dgram.supported); patches 01-03 allow only the lookup's, none, ENODEV.
        let onVMCI = both.judge(observed(.value(3), refcounts: [.vmci: 1, .vhost: 0]), of: .socket(.dgram))
        if profile == .vsockDgramV5Upto03 {
            #expect(onVMCI.mismatchKind == .refcount)
        } else {
            #expect(onVMCI == .agrees(rule: "vsock.create.dgram.supported"))
        }

        // A VMCI socket bound through dgram_bind, with vhost loaded: connect to CID 2 finds G2H
        // NULL → fallback VMCI, the socket's own transport (no reassignment); CID 3 → vhost.
        vmciOnly.run(.socket(.dgram))
        vmciOnly.run(.bind(s0, vm(cidAny, 1234)))
        vmciOnly.run(.loadTransport(.vhost))
        let toHost = try #require(vmciOnly.expectation(.connect(s0, .address(vm(2, 1234)))).branches.first)
        #expect(toHost.assignments.isEmpty)
        #expect(toHost.calls == [ExpectedCall(.vmci, .dgramAllow, .success)])
        let toGuest = try #require(vmciOnly.expectation(.connect(s0, .address(vm(3, 1234)))).branches.first)
        #expect(toGuest.assignments == [.vhost])
        #expect(toGuest.calls == [ExpectedCall(.vhost, .dgramAllow, .success)])
    }

    // af_vsock.c:469 (mainline vsock_assign_transport): case SOCK_DGRAM: new_transport =
    // transport_dgram — only VMCI registers F_DGRAM, whatever else is loaded.
    @Test("vsock.create.dgram.dgram-slot: mainline ignores G2H/H2G/LOCAL for datagrams")
    func mainlineSlotOnly() throws {
        var driver = ModelDriver(.mainline)
        driver.run(.loadTransport(.virtio))
        driver.run(.loadTransport(.vhost))
        driver.run(.loadTransport(.loopback))
        let none = try #require(driver.expectation(.socket(.dgram)).sole())
        #expect(none.rule.id == "vsock.assign.enodev")
        #expect(none.result == .exactly(.failure(.operationNotSupportedByDevice)))

        driver.run(.loadTransport(.vmci))
        let create = try #require(driver.expectation(.socket(.dgram)).sole())
        #expect(create.rule.id == "vsock.create.dgram.dgram-slot")
        #expect(create.openedOn == .some(.vmci))
        let all: [TransportModule: Int] = [.virtio: 0, .vhost: 0, .loopback: 0, .vmci: 1]
        #expect(driver.judge(observed(.value(3), refcounts: all), of: .socket(.dgram))
                == .agrees(rule: "vsock.create.dgram.dgram-slot"))
        // v5's choice for CID_ANY here would be vhost (H2G): a mainline kernel must not make it.
        #expect(driver.judge(observed(.value(3), refcounts: [.virtio: 0, .vhost: 1, .loopback: 0, .vmci: 0]),
                             of: .socket(.dgram)).mismatchKind == .refcount)

        // And every datagram of that socket goes through VMCI, even to a CID vhost serves.
        driver.run(.socket(.dgram))
        let send = try #require(driver.expectation(.sendto(s0, vm(3, 1234), length: 1)).branches.first)
        #expect(send.callTransports == [.vmci, .vmci, .vmci])
        #expect(send.calls.map(\.hook) == [.dgramBind, .dgramAllow, .dgramEnqueue])
    }
}
