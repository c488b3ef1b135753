import Foundation
import Testing
@testable import Probes

/// A relocatable ELF object, as a `.ko` is, compiled here with `cc -c`: functions of both
/// linkages, a called but undefined function, data, and a `.modinfo` section as modpost writes it.
@Suite("module files: defined functions and modinfo, without kallsyms or modinfo(8)")
struct ModuleFileTests {
    static let source = """
        extern int vsock_core_register(int features);
        static const char modinfo[] __attribute__((section(".modinfo"), used)) =
            "license=GPL v2\\0depends=vsock,vmw_vmci\\0srcversion=ABCDEF0123456789\\0alias=vsock-dgram\\0alias=vsock-other";
        int counter;
        static int vmci_transport_dgram_bind(int cid) { return cid + counter; }
        int vmci_transport_dgram_allow(unsigned cid, unsigned port) { return vmci_transport_dgram_bind((int)(cid + port)); }
        int vmci_transport_init(void) { return vsock_core_register(4) + vmci_transport_dgram_bind(1); }
        """

    static func compiled() throws -> ModuleFile {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("module-file-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent("transport.c")
        try Self.source.write(to: source, atomically: true, encoding: .utf8)
        let object = folder.appendingPathComponent("transport.ko").path
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-c", "-O0", "-o", object, source.path]
        try cc.run()
        cc.waitUntilExit()
        try #require(cc.terminationStatus == 0, "cc -c failed")
        return try #require(ModuleFile(path: object))
    }

    @Test("the functions it defines, static ones included; neither undefined ones nor data")
    func functions() throws {
        let file = try Self.compiled()
        #expect(file.definedFunctions.contains("vmci_transport_dgram_bind"))
        #expect(file.definedFunctions.contains("vmci_transport_dgram_allow"))
        #expect(file.definedFunctions.contains("vmci_transport_init"))
        #expect(!file.definedFunctions.contains("vsock_core_register"))
        #expect(!file.definedFunctions.contains("counter"))
    }

    @Test("modinfo fields as modinfo(8) prints them, repeated keys kept")
    func modinfo() throws {
        let file = try Self.compiled()
        #expect(file.depends == ["vsock", "vmw_vmci"])
        #expect(file.modinfo["srcversion"] == ["ABCDEF0123456789"])
        #expect(file.modinfo["alias"] == ["vsock-dgram", "vsock-other"])
        #expect(file.modinfo["license"] == ["GPL v2"])
    }

    @Test("what is not an uncompressed ELF64 object is nil, not a guess")
    func notELF() {
        #expect(ModuleFile(bytes: []) == nil)
        #expect(ModuleFile(bytes: Array("\u{FD}7zXZ compressed module".utf8)) == nil)
        var truncated: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1] + Array(repeating: 0, count: 57)
        truncated[0x28] = 0xff  // a section table past the end
        #expect(ModuleFile(bytes: truncated) == nil)
        #expect(ModuleFile(path: "/no/such/module.ko") == nil)
    }
}

@Suite("kprobe events left behind by a dead checker are found")
struct KprobeEventGroupTests {
    @Test("only checker_<pid> groups of dead processes")
    func stale() {
        let listing = """
            r16:checker_100/r_vmci_transport_dgram_bind vmw_vsock_vmci_transport:vmci_transport_dgram_bind
            p:checker_100/p_virtio_transport_dgram_allow vmw_vsock_virtio_transport_common:virtio_transport_dgram_allow
            r16:checker_200/r_vmci_transport_connect vmw_vsock_vmci_transport:vmci_transport_connect
            p:kprobes/my_own_probe do_sys_open
            p:checker_x/p_odd vsock:vsock_bind

            """
        let stale = KprobeEventGroup.staleEvents(in: listing) { $0 == 200 }
        #expect(stale == ["checker_100/r_vmci_transport_dgram_bind", "checker_100/p_virtio_transport_dgram_allow"])
    }
}

@Suite("the kernel's registered kprobes, from debugfs")
struct RegisteredKprobesTests {
    @Test("type, function, module and liveness per line; vmlinux probes have no module")
    func parse() {
        let list = RegisteredKprobes(list: """
            ffffffffc0a98f00  r  vmci_transport_connect+0x0  vmw_vsock_vmci_transport [FTRACE]
            ffffffffc0a98000  k  vmci_transport_stream_allow+0x0  vmw_vsock_vmci_transport [GONE][FTRACE]
            ffffffffc0a98010  r  vmci_transport_dgram_allow+0x0  vmw_vsock_vmci_transport [DISABLED][FTRACE]
            ffffffff856be1c0  k  __do_sys_getppid+0x0    [FTRACE]
            ffffffffc0b00000  k  vsock_bind+0x5  vsock

            """)
        #expect(list.probes.count == 5)
        #expect(list.isLive("vmci_transport_connect", in: "vmw_vsock_vmci_transport", isReturn: true))
        #expect(!list.isLive("vmci_transport_connect", in: "vmw_vsock_vmci_transport", isReturn: false))
        #expect(!list.isLive("vmci_transport_stream_allow", in: "vmw_vsock_vmci_transport", isReturn: false), "gone")
        #expect(!list.isLive("vmci_transport_dgram_allow", in: "vmw_vsock_vmci_transport", isReturn: true), "disabled")
        #expect(list.isLive("__do_sys_getppid", in: "", isReturn: false))
        #expect(list.isLive("vsock_bind", in: "vsock", isReturn: false))
    }
}
