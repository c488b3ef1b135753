import SystemPackage

/// `vsock_core_register()` / `vsock_core_unregister()` and the module syscalls around them.
enum TransportRegistry {
    static let registerAllOrNothing = Rule(
        id: "vsock.register.ebusy-all-or-nothing",
        summary: "a transport claiming an occupied slot fails with EBUSY and registers nothing",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/af_vsock.c", line: 2483,
                        function: "vsock_core_register"))
    static let registered = Rule(
        id: "vsock.register.ok",
        summary: "a transport module's init registers its slots (virtio without a device too)",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/af_vsock.c", line: 2528,
                        function: "vsock_core_register"))
    static let alreadyLoaded = Rule(
        id: "module.load.eexist",
        summary: "loading a module that is already live fails with EEXIST",
        source: .source(tree: "linux 6.1.176", file: "kernel/module/main.c", line: 2614,
                        function: "add_unformed_module"))
    static let notLoaded = Rule(
        id: "module.unload.enoent",
        summary: "unloading a module that is not loaded fails with ENOENT",
        source: .source(tree: "linux 6.1.176", file: "kernel/module/main.c", line: 720,
                        function: "delete_module"))
    static let inUse = Rule(
        id: "module.unload.in-use",
        summary: "a transport module referenced by a socket cannot be unloaded (EWOULDBLOCK)",
        source: .source(tree: "linux 6.1.176", file: "kernel/module/main.c", line: 670,
                        function: "try_stop_module"))
    static let unregistered = Rule(
        id: "vsock.unregister.clears-slots",
        summary: "an unloaded transport leaves every slot it held empty",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/af_vsock.c", line: 2539,
                        function: "vsock_core_unregister"))

    static func load(_ module: TransportModule, in state: VsockState) -> VsockBranch {
        if state.loaded.contains(module) {
            return VsockBranch(result: .exactly(.failure(.fileExists)), rule: alreadyLoaded)
        }
        if module.registersSlots.contains(where: { state.slots[$0] != nil }) {
            return VsockBranch(result: .exactly(.failure(.resourceBusy)), rule: registerAllOrNothing)
        }
        return VsockBranch(result: .exactly(.value(0)), effects: [.load(module)], rule: registered)
    }

    static let lingeringInUse = Rule(
        id: "module.unload.lingering",
        summary: "a closed socket's reference may still be held (connect or close timeout work): unload may fail with EWOULDBLOCK until it goes",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/af_vsock.c", line: 1525,
                        function: "vsock_connect"))

    static func unload(_ module: TransportModule, in state: VsockState) -> [VsockBranch] {
        guard state.loaded.contains(module) else {
            return [VsockBranch(result: .exactly(.failure(.noSuchFileOrDirectory)), rule: notLoaded)]
        }
        if state.refcounts[module, default: 0] > 0 {
            return [VsockBranch(result: .exactly(.failure(.wouldBlock)), rule: inUse)]
        }
        let unloaded = VsockBranch(result: .exactly(.value(0)), effects: [.unload(module)], rule: unregistered)
        if state.lingeringCount(module) > 0 {
            return [unloaded, VsockBranch(result: .exactly(.failure(.wouldBlock)), rule: lingeringInUse)]
        }
        return [unloaded]
    }
}
