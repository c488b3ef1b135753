import Model
import Testing

/// `bind()`: `vsock_bind()` → `__vsock_bind()` → the connectible table, a transport's
/// `dgram_bind`, v5 03's EINVAL or v5 05's datagram table.
@Suite("bind rules")
struct BindRuleTests {
    // vsock_addr.c:33 vsock_addr_validate(): svm_flags & ~VMADDR_FLAG_TO_HOST → -EINVAL, before
    // __vsock_bind() runs (no callback, no state change).
    @Test("vsock.addr.einval: flags other than TO_HOST → EINVAL", arguments: VsockProfile.all)
    func invalidFlags(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.socket(.stream))
        let bind = VsockOperation.bind(s0, vm(cidAny, 1234, flags: 0x02))
        let branch = try #require(driver.expectation(bind).sole())
        #expect(branch.rule.id == "vsock.addr.einval")
        #expect(branch.result == .exactly(.failure(.invalidArgument)))
        #expect(branch.effects.isEmpty)
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [:]), of: bind) == .agrees(rule: "vsock.addr.einval"))
        #expect(driver.judge(observed(.value(0), refcounts: [:]), of: bind).mismatchKind == .result)
        // TO_HOST itself is a valid flag.
        #expect(driver.expectation(.bind(s0, vm(cidAny, 1234, flags: VMAddr.flagToHost))).sole()?.result == .exactly(.value(0)))
        // connect() casts the address the same way (af_vsock.c:1426 / :1307).
        let connect = try #require(driver.expectation(.connect(s0, .address(vm(2, 1234, flags: 0x02)))).sole())
        #expect(connect.rule.id == "vsock.addr.einval")
        #expect(connect.result == .exactly(.failure(.invalidArgument)))
    }

    // af_vsock.c:741 __vsock_bind(): vsock_addr_bound(&vsk->local_addr) → -EINVAL, before the
    // transport's dgram_bind is called.
    @Test("vsock.bind.already-bound → EINVAL, no callback", arguments: VsockProfile.all)
    func alreadyBound(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.stream))
        driver.run(.socket(.dgram))                       // VMCI in every profile (DGRAM slot / fallback)
        driver.run(.bind(s0, vm(cidAny, 1234)))
        driver.run(.bind(s1, vm(cidAny, 4000)))           // through vmci.dgram_bind
        for (socket, refcounts) in [(s0, [TransportModule.vmci: 1]), (s1, [.vmci: 1])] {
            let bind = VsockOperation.bind(socket, vm(cidAny, 5000))
            let branch = try #require(driver.expectation(bind).sole())
            #expect(branch.rule.id == "vsock.bind.already-bound")
            #expect(branch.result == .exactly(.failure(.invalidArgument)))
            #expect(branch.calls.isEmpty)
            #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: refcounts), of: bind)
                    == .agrees(rule: "vsock.bind.already-bound"))
            #expect(driver.judge(observed(.value(0), refcounts: refcounts), of: bind).mismatchKind == .result)
        }
        // A datagram rebind must not reach VMCI's dgram_bind.
        let rebind = VsockOperation.bind(s1, vm(cidAny, 5000))
        #expect(driver.judge(observed(.failure(.invalidArgument), [call(.vmci, .dgramBind, neg(.invalidArgument))],
                                      refcounts: [.vmci: 1]), of: rebind).mismatchKind == .callbacks)
    }

    // af_vsock.c:749 __vsock_bind(): a CID other than ANY must pass vsock_find_cid()
    // (af_vsock.c:564: G2H's CID, 2 with H2G, 1 with loopback) or → -EADDRNOTAVAIL.
    @Test("vsock.bind.eaddrnotavail: a CID that is not ours", arguments: VsockProfile.all)
    func notLocalCID(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))               // no device: its CID is VMADDR_CID_ANY
        driver.run(.socket(.stream))
        for cid: UInt32 in [1, 2, 3, VMAddr.cidHypervisor] {
            let bind = VsockOperation.bind(s0, vm(cid, 1234))
            let branch = try #require(driver.expectation(bind).sole())
            #expect(branch.rule.id == "vsock.bind.eaddrnotavail", "CID \(cid)")
            #expect(branch.result == .exactly(.failure(.addressNotAvailable)), "CID \(cid)")
            #expect(driver.judge(observed(.failure(.addressNotAvailable), refcounts: [.virtio: 0]), of: bind)
                    == .agrees(rule: "vsock.bind.eaddrnotavail"))
            #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 0]), of: bind).mismatchKind == .result)
        }
        // CID 2 becomes ours with H2G, CID 1 with loopback.
        driver.run(.loadTransport(.vhost))
        driver.run(.loadTransport(.loopback))
        #expect(driver.expectation(.bind(s0, vm(2, 1234))).sole()?.rule.id == "vsock.bind.ok")
        #expect(driver.expectation(.bind(s0, vm(1, 1234))).sole()?.rule.id == "vsock.bind.ok")
        #expect(driver.expectation(.bind(s0, vm(3, 1234))).sole()?.rule.id == "vsock.bind.eaddrnotavail")

        // The G2H transport's own CID is ours.
        var guest = ModelDriver(profile, configuration: VsockConfiguration(g2hLocalCID: 3))
        guest.run(.loadTransport(.virtio))
        guest.run(.socket(.stream))
        #expect(guest.expectation(.bind(s0, vm(3, 1234))).sole()?.rule.id == "vsock.bind.ok")
        #expect(guest.expectation(.bind(s0, vm(4, 1234))).sole()?.rule.id == "vsock.bind.eaddrnotavail")
    }

    // af_vsock.c:732 __vsock_bind_dgram(): return vsk->transport->dgram_bind(vsk, addr) — the
    // callback's result is the syscall's (VMCI: -EACCES below 1024 without the capability, …).
    @Test("vsock.bind.dgram.callback: VMCI's dgram_bind result is the syscall's", arguments: VsockProfile.all)
    func dgramBindCallback(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vmci))
        driver.run(.socket(.dgram))
        let bind = VsockOperation.bind(s0, vm(cidAny, 1234))
        let expectation = driver.expectation(bind)
        #expect(expectation.ruleIDs == ["vsock.bind.dgram.callback", "vsock.bind.dgram.callback"])
        #expect(expectation.branches.map(\.calls) == [[ExpectedCall(.vmci, .dgramBind, .success)],
                                                      [ExpectedCall(.vmci, .dgramBind, .failure)]])
        // The success branch records a binding VMCI keeps itself (no core-table collisions).
        #expect(expectation.branches[0].binding == LocalBinding(cid: cidAny, port: 1234, table: .transport))

        #expect(driver.judge(observed(.value(0), [call(.vmci, .dgramBind, 0)], refcounts: [.vmci: 1]), of: bind)
                == .agrees(rule: "vsock.bind.dgram.callback"))
        #expect(driver.judge(observed(.failure(.permissionDenied), [call(.vmci, .dgramBind, neg(.permissionDenied))],
                                      refcounts: [.vmci: 1]), of: bind) == .agrees(rule: "vsock.bind.dgram.callback"))
        // The core must propagate the callback's error, not replace it.
        #expect(driver.judge(observed(.value(0), [call(.vmci, .dgramBind, neg(.permissionDenied))],
                                      refcounts: [.vmci: 1]), of: bind).mismatchKind == .result)
        #expect(driver.judge(observed(.failure(.invalidArgument), [call(.vmci, .dgramBind, neg(.permissionDenied))],
                                      refcounts: [.vmci: 1]), of: bind).mismatchKind == .result)
        // Skipping the callback is a callbacks mismatch.
        #expect(driver.judge(observed(.value(0), refcounts: [.vmci: 1]), of: bind).mismatchKind == .callbacks)

        // A failed dgram_bind leaves the socket unbound: binding again is allowed.
        driver.run(bind, observing: observed(.failure(.permissionDenied), [call(.vmci, .dgramBind, neg(.permissionDenied))],
                                             refcounts: [.vmci: 1]))
        #expect(driver.expectation(bind).ruleIDs == ["vsock.bind.dgram.callback", "vsock.bind.dgram.callback"])
    }

    // v5 03 @@ -692,6 +705,9 @@ __vsock_bind_dgram(): !vsk->transport->dgram_bind → -EINVAL;
    // 03 removes dgram_bind from virtio, vhost, loopback and hyperv.
    @Test("vsock.bind.dgram.no-callback-einval: v5 03 datagram bind without dgram_bind → EINVAL")
    func noCallbackEINVAL() throws {
        var driver = ModelDriver(.vsockDgramV5Upto03)
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.dgram))                       // on virtio
        let bind = VsockOperation.bind(s0, vm(cidAny, 1234))
        let branch = try #require(driver.expectation(bind).sole())
        #expect(branch.rule.id == "vsock.bind.dgram.no-callback-einval")
        #expect(branch.result == .exactly(.failure(.invalidArgument)))
        #expect(branch.calls.isEmpty)
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.virtio: 1]), of: bind)
                == .agrees(rule: "vsock.bind.dgram.no-callback-einval"))
        #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 1]), of: bind).mismatchKind == .result)
        // virtio's old -EOPNOTSUPP stub is gone in 03: calling it is a callbacks mismatch.
        #expect(driver.judge(observed(.failure(.notSupportedOnSocket), [call(.virtio, .dgramBind, neg(.notSupportedOnSocket))],
                                      refcounts: [.virtio: 1]), of: bind).mismatchKind == .callbacks)
    }

    // v5 03: vsock_auto_bind() in vsock_dgram_sendmsg() and vsock_dgram_connect() is
    // __vsock_bind(ANY, ANY), so an unbound socket without dgram_bind fails them with EINVAL
    // before any lookup or dgram_allow.
    @Test("vsock.bind.dgram.no-callback-einval: autobind in sendto()/send()/connect() → EINVAL")
    func noCallbackAutobind() throws {
        var driver = ModelDriver(.vsockDgramV5Upto03)
        driver.run(.loadTransport(.loopback))
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.dgram))                       // loopback (CID_ANY quirk)
        for operation in [VsockOperation.sendto(s0, vm(1, 1234), length: 1), .send(s0, length: 1),
                          .connect(s0, .address(vm(1, 1234)))] {
            let branch = try #require(driver.expectation(operation).sole())
            #expect(branch.rule.id == "vsock.bind.dgram.no-callback-einval", "\(operation)")
            #expect(branch.result == .exactly(.failure(.invalidArgument)), "\(operation)")
            #expect(branch.calls.isEmpty && branch.effects.isEmpty, "\(operation)")
            #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.loopback: 1, .virtio: 0]), of: operation)
                    == .agrees(rule: "vsock.bind.dgram.no-callback-einval"))
        }
        // Sending on loopback anyway (v5 12's loopback datagrams) is a callbacks mismatch here.
        let sendto = VsockOperation.sendto(s0, vm(1, 1234), length: 1)
        #expect(driver.judge(observed(.value(1), [call(.loopback, .dgramAllow, 1), call(.loopback, .dgramEnqueue, 1)],
                                      refcounts: [.loopback: 1, .virtio: 0]), of: sendto).mismatchKind == .callbacks)
    }

    // v5 05 @@ -722,11 +763,19 @@ vsock_bind_dgram(): without dgram_bind the socket binds in
    // vsock_dgram_bind_table, separate from the connectible vsock_bind_table.
    @Test("vsock.bind.dgram.table: STREAM and DGRAM share a port, two DGRAMs do not")
    func dgramTable() throws {
        var driver = ModelDriver(.vsockDgramV5)
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.dgram))
        driver.run(.socket(.stream))
        driver.run(.socket(.dgram))

        let first = VsockOperation.bind(s0, vm(cidAny, 1234))
        let branch = try #require(driver.expectation(first).sole())
        #expect(branch.rule.id == "vsock.bind.ok")
        #expect(branch.calls.isEmpty)
        #expect(branch.binding == LocalBinding(cid: cidAny, port: 1234, table: .dgram))
        #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 2]), of: first) == .agrees(rule: "vsock.bind.ok"))
        #expect(driver.judge(observed(.failure(.invalidArgument), refcounts: [.virtio: 2]), of: first).mismatchKind == .result)
        driver.run(first)

        // The STREAM socket binds the same address: a different table.
        let stream = VsockOperation.bind(s1, vm(cidAny, 1234))
        #expect(driver.expectation(stream).sole()?.rule.id == "vsock.bind.ok")
        #expect(driver.judge(observed(.failure(.addressInUse), refcounts: [.virtio: 2]), of: stream).mismatchKind == .result)
        driver.run(stream)

        // The second DGRAM socket collides in the datagram table.
        let second = VsockOperation.bind(s2, vm(cidAny, 1234))
        let inUse = try #require(driver.expectation(second).sole())
        #expect(inUse.rule.id == "vsock.bind.eaddrinuse")
        #expect(inUse.result == .exactly(.failure(.addressInUse)))
        #expect(driver.judge(observed(.failure(.addressInUse), refcounts: [.virtio: 2]), of: second)
                == .agrees(rule: "vsock.bind.eaddrinuse"))
        #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 2]), of: second).mismatchKind == .result)
    }

    // af_vsock.c:684 __vsock_bind_connectible(): VMADDR_PORT_ANY → the next free port above
    // LAST_RESERVED_PORT; the model learns it from getsockname().
    @Test("vsock.bind.ephemeral: PORT_ANY → a port > 1023", arguments: VsockProfile.all)
    func ephemeral(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.socket(.stream))
        let bind = VsockOperation.bind(s0, vm(cidAny, portAny))
        let branch = try #require(driver.expectation(bind).sole())
        #expect(branch.rule.id == "vsock.bind.ephemeral")
        #expect(branch.result == .exactly(.value(0)))
        #expect(branch.binding == LocalBinding(cid: cidAny, port: nil, table: .connectible))
        driver.run(bind)

        let name = VsockOperation.getsockname(s0)
        #expect(driver.expectation(name).sole()?.result == .address(cid: cidAny, port: .ephemeral(minimum: 1024)))
        #expect(driver.judge(observed(.address(vm(cidAny, 40_000)), refcounts: [:]), of: name)
                == .agrees(rule: "vsock.getsockname.local"))
        #expect(driver.judge(observed(.address(vm(cidAny, 1023)), refcounts: [:]), of: name).mismatchKind == .result)
        #expect(driver.judge(observed(.address(vm(cidAny, portAny)), refcounts: [:]), of: name).mismatchKind == .result)
        // Once seen, the port is known exactly.
        driver.run(name, observing: observed(.address(vm(cidAny, 40_000)), refcounts: [:]))
        #expect(driver.expectation(name).sole()?.result == .address(cid: cidAny, port: .exactly(40_000)))
    }

    // af_vsock.c:695 __vsock_bind_connectible(): the ephemeral loop takes the next port that
    // __vsock_find_bound_socket(&new_addr) does not find, so a chosen port is never one another
    // socket of the table holds. v5 04 says it only generalizes the table functions (mainline
    // applies), yet its loop searches the requested address's bucket: this rule catches that.
    // bind-learned binds next to a port the kernel chose (the next one it would choose).
    @Test("vsock.bind.ephemeral: a chosen port is free in its table; bind-learned binds next to a learned one",
          arguments: VsockProfile.all)
    func ephemeralFree(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.stream))
        driver.run(.socket(.stream))
        driver.run(.socket(.stream))
        driver.run(.bind(s0, vm(cidAny, portAny)))
        driver.run(.getsockname(s0), observing: observed(.address(vm(cidAny, 40_000)), refcounts: [.virtio: 0]))
        #expect(driver.state.learnedPorts.ports == [40_000])
        // bind-learned: the learned port + 1, resolved from the state.
        let near = VsockOperation.bindLearned(s1, cid: cidAny, learned: 0, offset: 1)
        #expect(driver.model.isApplicable(near, in: driver.state))
        #expect(!driver.model.isApplicable(.bindLearned(s1, cid: cidAny, learned: 1, offset: 0), in: driver.state))
        #expect(driver.expectation(near).sole()?.binding == LocalBinding(cid: cidAny, port: 40_001, table: .connectible))
        driver.run(near)
        // s2's ephemeral port may be anything free: 40,002, not 40,001 (s1) or 40,000 (s0).
        driver.run(.bind(s2, vm(cidAny, portAny)))
        let name = VsockOperation.getsockname(s2)
        #expect(driver.judge(observed(.address(vm(cidAny, 40_002)), refcounts: [.virtio: 0]), of: name)
                == .agrees(rule: "vsock.getsockname.local"))
        #expect(driver.judge(observed(.address(vm(cidAny, 40_001)), refcounts: [.virtio: 0]), of: name).mismatchKind == .result)
        #expect(driver.judge(observed(.address(vm(cidAny, 40_000)), refcounts: [.virtio: 0]), of: name).mismatchKind == .result)
    }

    // af_vsock.c:707 __vsock_bind_connectible(): port <= LAST_RESERVED_PORT without
    // CAP_NET_BIND_SERVICE → -EACCES.
    @Test("vsock.bind.eacces: port ≤ 1023 unprivileged → EACCES", arguments: VsockProfile.all)
    func reservedPort(profile: VsockProfile) throws {
        var driver = ModelDriver(profile, configuration: VsockConfiguration(privileged: false))
        driver.run(.socket(.stream))
        let bind = VsockOperation.bind(s0, vm(cidAny, 1023))
        let branch = try #require(driver.expectation(bind).sole())
        #expect(branch.rule.id == "vsock.bind.eacces")
        #expect(branch.result == .exactly(.failure(.permissionDenied)))
        #expect(driver.judge(observed(.failure(.permissionDenied), refcounts: [:]), of: bind) == .agrees(rule: "vsock.bind.eacces"))
        #expect(driver.judge(observed(.value(0), refcounts: [:]), of: bind).mismatchKind == .result)
        #expect(driver.expectation(.bind(s0, vm(cidAny, 1024))).sole()?.rule.id == "vsock.bind.ok")
        // With the capability, port 1 binds.
        var root = ModelDriver(profile)
        root.run(.socket(.stream))
        #expect(root.expectation(.bind(s0, vm(cidAny, 1))).sole()?.rule.id == "vsock.bind.ok")
    }

    // v5 05: the datagram table goes through the same vsock_bind_common() (v5 04), so it has
    // the same reserved-port check.
    @Test("vsock.bind.eacces: v5 datagram table, port ≤ 1023 unprivileged → EACCES")
    func reservedPortDgramTable() throws {
        var driver = ModelDriver(.vsockDgramV5, configuration: VsockConfiguration(privileged: false))
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.dgram))
        let branch = try #require(driver.expectation(.bind(s0, vm(cidAny, 80))).sole())
        #expect(branch.rule.id == "vsock.bind.eacces")
        #expect(branch.result == .exactly(.failure(.permissionDenied)))
    }

    // af_vsock.c:712 (and :234 __vsock_find_bound_socket()): the same port with an equal CID, or
    // with VMADDR_CID_ANY on either side, is in use → -EADDRINUSE.
    @Test("vsock.bind.eaddrinuse: equal port with equal CID or either CID ANY", arguments: VsockProfile.all)
    func addressInUse(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vhost))                // CID 2 is ours
        driver.run(.loadTransport(.loopback))             // CID 1 is ours
        for _ in 0..<3 { driver.run(.socket(.stream)) }
        driver.run(.bind(s0, vm(2, 1234)))

        // CID 1 and CID 2 are different addresses: no collision.
        #expect(driver.expectation(.bind(s1, vm(1, 1234))).sole()?.rule.id == "vsock.bind.ok")
        for address in [vm(2, 1234), vm(cidAny, 1234)] {   // equal CID; ANY against a bound CID 2
            let bind = VsockOperation.bind(s1, address)
            let branch = try #require(driver.expectation(bind).sole())
            #expect(branch.rule.id == "vsock.bind.eaddrinuse", "\(address)")
            #expect(driver.judge(observed(.failure(.addressInUse), refcounts: [.vhost: 0, .loopback: 0]), of: bind)
                    == .agrees(rule: "vsock.bind.eaddrinuse"))
            #expect(driver.judge(observed(.value(0), refcounts: [.vhost: 0, .loopback: 0]), of: bind).mismatchKind == .result)
        }
        // A socket bound to CID ANY blocks the port for every CID.
        driver.run(.bind(s1, vm(cidAny, 2000)))
        #expect(driver.expectation(.bind(s2, vm(1, 2000))).sole()?.rule.id == "vsock.bind.eaddrinuse")
        #expect(driver.expectation(.bind(s2, vm(1, 2001))).sole()?.rule.id == "vsock.bind.ok")
    }

    // af_vsock.c:684/712: an ephemeral port the model has not seen may be any free port > 1023,
    // so an explicit bind of such a port may succeed or collide; getsockname() settles it.
    @Test("vsock.bind.eaddrinuse: an unseen ephemeral port allows both outcomes", arguments: VsockProfile.all)
    func unseenEphemeral(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.socket(.stream))
        driver.run(.socket(.stream))
        driver.run(.bind(s0, vm(cidAny, portAny)))

        let bind = VsockOperation.bind(s1, vm(cidAny, 40_000))
        #expect(driver.expectation(bind).ruleIDs == ["vsock.bind.ok", "vsock.bind.eaddrinuse"])
        #expect(driver.judge(observed(.value(0), refcounts: [:]), of: bind) == .agrees(rule: "vsock.bind.ok"))
        #expect(driver.judge(observed(.failure(.addressInUse), refcounts: [:]), of: bind) == .agrees(rule: "vsock.bind.eaddrinuse"))
        #expect(driver.judge(observed(.failure(.permissionDenied), refcounts: [:]), of: bind).mismatchKind == .result)
        // A reserved port can never be ephemeral: only success.
        #expect(driver.expectation(.bind(s1, vm(cidAny, 80))).ruleIDs == ["vsock.bind.ok"])

        // getsockname() reveals 40000: now the model knows the collision.
        driver.run(.getsockname(s0), observing: observed(.address(vm(cidAny, 40_000)), refcounts: [:]))
        #expect(driver.expectation(bind).ruleIDs == ["vsock.bind.eaddrinuse"])
        #expect(driver.expectation(.bind(s1, vm(cidAny, 40_001))).ruleIDs == ["vsock.bind.ok"])
    }

    // af_vsock.c:716 __vsock_bind_connectible(): vsock_addr_init(&vsk->local_addr, …) and insert
    // into the bound table; getsockname() then reads the address back.
    @Test("vsock.bind.ok → 0, the address is the socket's", arguments: VsockProfile.all)
    func bindOK(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.vhost))
        driver.run(.socket(.seqpacket))
        let bind = VsockOperation.bind(s0, vm(2, 1234))
        let branch = try #require(driver.expectation(bind).sole())
        #expect(branch.rule.id == "vsock.bind.ok")
        #expect(branch.result == .exactly(.value(0)))
        #expect(branch.calls.isEmpty)
        #expect(branch.binding == LocalBinding(cid: 2, port: 1234, table: .connectible))
        #expect(driver.judge(observed(.value(0), refcounts: [.vhost: 0]), of: bind) == .agrees(rule: "vsock.bind.ok"))
        #expect(driver.judge(observed(.failure(.addressInUse), refcounts: [.vhost: 0]), of: bind).mismatchKind == .result)
        // Binding takes no module reference.
        #expect(driver.judge(observed(.value(0), refcounts: [.vhost: 1]), of: bind).mismatchKind == .refcount)
        driver.run(bind)
        #expect(driver.expectation(.getsockname(s0)).sole()?.result == .address(cid: 2, port: .exactly(1234)))
    }
}
