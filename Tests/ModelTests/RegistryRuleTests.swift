import Model
import Testing

/// Module load/unload and `vsock_core_register()` / `vsock_core_unregister()`: the same in every
/// profile (patch 03 only renames the DGRAM slot).
@Suite("registration and module rules")
struct RegistryRuleTests {
    // af_vsock.c:2528 vsock_core_register(): the slots are committed; virtio_vsock_init()
    // registers F_G2H before register_virtio_driver(), so no device is needed.
    @Test("vsock.register.ok → 0, module listed with refcnt 0", arguments: VsockProfile.all)
    func registerOK(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        let load = VsockOperation.loadTransport(.virtio)
        let branch = try #require(driver.expectation(load).sole())
        #expect(branch.rule.id == "vsock.register.ok")
        #expect(branch.result == .exactly(.value(0)))
        #expect(branch.calls.isEmpty)
        #expect(branch.effects == [.load(.virtio)])

        #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 0]), of: load) == .agrees(rule: "vsock.register.ok"))
        #expect(driver.judge(observed(.failure(.resourceBusy), refcounts: [:]), of: load).mismatchKind == .result)
        // Loaded, so /sys/module/…/refcnt exists: an observation without it is a refcount mismatch.
        #expect(driver.judge(observed(.value(0), refcounts: [:]), of: load).mismatchKind == .refcount)

        driver.run(load)
        #expect(occupiedSlots(driver.state) == [.g2h: .virtio])
        // The slot is live without a device: a STREAM connect to the host now goes to virtio.
        driver.run(.socket(.stream))
        let connect = try #require(driver.expectation(.connect(s0, .address(vm(2, 1234)))).branches.first)
        #expect(connect.callTransports == [.virtio, .virtio])
    }

    // af_vsock.c:2483 vsock_core_register(): -EBUSY on an occupied slot, before anything is
    // committed; virtio and hv_sock both claim F_G2H.
    @Test("vsock.register.ebusy-all-or-nothing → EBUSY, nothing registered", arguments: VsockProfile.all)
    func registerBusy(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))
        let load = VsockOperation.loadTransport(.hyperv)
        let branch = try #require(driver.expectation(load).sole())
        #expect(branch.rule.id == "vsock.register.ebusy-all-or-nothing")
        #expect(branch.result == .exactly(.failure(.resourceBusy)))
        #expect(branch.effects.isEmpty)

        #expect(driver.judge(observed(.failure(.resourceBusy), refcounts: [.virtio: 0]), of: load)
                == .agrees(rule: "vsock.register.ebusy-all-or-nothing"))
        #expect(driver.judge(observed(.value(0), refcounts: [.virtio: 0, .hyperv: 0]), of: load).mismatchKind == .result)
        // hv_sock's init failed, so the module is not live: listing it is a refcount mismatch.
        #expect(driver.judge(observed(.failure(.resourceBusy), refcounts: [.virtio: 0, .hyperv: 0]), of: load)
                .mismatchKind == .refcount)

        driver.run(load)
        #expect(driver.state.loaded == [.virtio])
        #expect(occupiedSlots(driver.state) == [.g2h: .virtio])
        // Nothing was registered, so a retry is EBUSY again, not EEXIST.
        #expect(driver.expectation(load).sole()?.result == .exactly(.failure(.resourceBusy)))
    }

    // kernel/module/main.c:2614 add_unformed_module(): a live module of that name → -EEXIST.
    @Test("module.load.eexist → EEXIST", arguments: VsockProfile.all)
    func loadTwice(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.loopback))
        let load = VsockOperation.loadTransport(.loopback)
        let branch = try #require(driver.expectation(load).sole())
        #expect(branch.rule.id == "module.load.eexist")
        #expect(branch.result == .exactly(.failure(.fileExists)))
        #expect(driver.judge(observed(.failure(.fileExists), refcounts: [.loopback: 0]), of: load)
                == .agrees(rule: "module.load.eexist"))
        // EBUSY would mean the core saw a second registration of the LOCAL slot.
        #expect(driver.judge(observed(.failure(.resourceBusy), refcounts: [.loopback: 0]), of: load).mismatchKind == .result)
    }

    // kernel/module/main.c:720 delete_module(): find_module() fails → -ENOENT.
    @Test("module.unload.enoent → ENOENT", arguments: VsockProfile.all)
    func unloadAbsent(profile: VsockProfile) throws {
        let driver = ModelDriver(profile)
        let unload = VsockOperation.unloadTransport(.vhost)
        let branch = try #require(driver.expectation(unload).sole())
        #expect(branch.rule.id == "module.unload.enoent")
        #expect(branch.result == .exactly(.failure(.noSuchFileOrDirectory)))
        #expect(driver.judge(observed(.failure(.noSuchFileOrDirectory), refcounts: [:]), of: unload)
                == .agrees(rule: "module.unload.enoent"))
        #expect(driver.judge(observed(.value(0), refcounts: [:]), of: unload).mismatchKind == .result)
    }

    // kernel/module/main.c:670 try_stop_module(): a module with references cannot stop;
    // delete_module(O_NONBLOCK) → -EWOULDBLOCK. The reference is the socket's try_module_get()
    // in vsock_assign_transport() (af_vsock.c:494).
    @Test("module.unload.in-use → EWOULDBLOCK while a socket holds the transport", arguments: VsockProfile.all)
    func unloadInUse(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))
        driver.run(.socket(.stream))
        driver.run(.connect(s0, .address(vm(2, 1234))))
        #expect(driver.state.refcounts == [.virtio: 1])

        let unload = VsockOperation.unloadTransport(.virtio)
        let branch = try #require(driver.expectation(unload).sole())
        #expect(branch.rule.id == "module.unload.in-use")
        #expect(branch.result == .exactly(.failure(.wouldBlock)))
        #expect(driver.judge(observed(.failure(.wouldBlock), refcounts: [.virtio: 1]), of: unload)
                == .agrees(rule: "module.unload.in-use"))
        #expect(driver.judge(observed(.value(0), refcounts: [:]), of: unload).mismatchKind == .result)

        // Once the socket is closed the reference is gone and the module unloads.
        driver.run(.close(s0))
        #expect(driver.expectation(unload).sole()?.result == .exactly(.value(0)))
    }

    // af_vsock.c:2539 vsock_core_unregister(): every slot equal to the transport is cleared.
    @Test("vsock.unregister.clears-slots → 0, slot empty afterwards", arguments: VsockProfile.all)
    func unloadClearsSlots(profile: VsockProfile) throws {
        var driver = ModelDriver(profile)
        driver.run(.loadTransport(.virtio))
        driver.run(.loadTransport(.vhost))
        let unload = VsockOperation.unloadTransport(.virtio)
        let branch = try #require(driver.expectation(unload).sole())
        #expect(branch.rule.id == "vsock.unregister.clears-slots")
        #expect(branch.result == .exactly(.value(0)))
        #expect(driver.judge(observed(.value(0), refcounts: [.vhost: 0]), of: unload)
                == .agrees(rule: "vsock.unregister.clears-slots"))
        // The module is gone: still listing its refcnt is a refcount mismatch.
        #expect(driver.judge(observed(.value(0), refcounts: [.vhost: 0, .virtio: 0]), of: unload).mismatchKind == .refcount)

        driver.run(unload)
        #expect(occupiedSlots(driver.state) == [.h2g: .vhost])
        // With G2H empty, a connect to the host (CID 2 ≤ VMADDR_CID_HOST) finds no transport.
        driver.run(.socket(.stream))
        let connect = try #require(driver.expectation(.connect(s0, .address(vm(2, 1234)))).sole())
        #expect(connect.result == .exactly(.failure(.operationNotSupportedByDevice)))
        // And virtio can be loaded again: the slot is free.
        #expect(driver.expectation(.loadTransport(.virtio)).sole()?.result == .exactly(.value(0)))
    }
}
