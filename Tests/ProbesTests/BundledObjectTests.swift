import CLibBPF
import Foundation
import Testing
@testable import Probes

/// The BPFCompiler plugin's output, found as a resource and opened by libbpf. Opening needs no
/// privileges and makes no bpf() syscall, so these run everywhere.
@Suite("bundled vsock.bpf.o", .serialized)
struct BundledObjectTests {
    init() {
        LibbpfLog.silence()
    }

    @Test("the object is bundled and found")
    func found() throws {
        let url = try #require(BundledObject.url(named: BundledObject.vsock))
        #expect(url.lastPathComponent == "vsock.bpf.o")
        let bytes = try BundledObject.bytes(named: BundledObject.vsock)
        #expect(bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]))  // ELF
        #expect(bytes[18] == 247)                               // e_machine EM_BPF
    }

    @Test("a missing object is a typed ENOENT")
    func missing() {
        #expect(throws: ProbeError.open(object: "absent.bpf.o", errno: .noSuchFileOrDirectory)) {
            _ = try BundledObject.bytes(named: "absent.bpf.o")
        }
    }

    @Test("it opens and holds the expected programs and maps")
    func opens() throws {
        let object = try ProbeObject(bytes: BundledObject.bytes(named: BundledObject.vsock),
                                     name: "vsock")
        #expect(Set(object.programNames) == ["kcc_entry", "kcc_return", "kcc_module_put",
                                             "kcc_module_put_fentry"])
        let maps = Set(object.mapNames)
        for name in ["events", "lost", "current_socket", "saved_vsock_sock"] {
            #expect(maps.contains(name), "map \(name) in \(maps)")
        }
        #expect(maps.contains { $0.hasSuffix(".rodata") })
    }

    @Test("configure before load: .rodata is exactly a kcc_config, programs can be deselected")
    func configures() throws {
        let object = try ProbeObject(bytes: BundledObject.bytes(named: BundledObject.vsock),
                                     name: "vsock")
        try object.setReadOnlyData(kcc_config(target_tgid: 1234))
        #expect {
            try object.setReadOnlyData(UInt64(1234))
        } throws: { error in
            guard case .configure(_, "set .rodata", .invalidArgument) = error as? ProbeError
            else { return false }
            return true
        }
        try object.loadOnly(["kcc_entry", "kcc_return"])
        #expect(throws: ProbeError.configure(object: "vsock", step: "find program nope",
                                             errno: .noSuchFileOrDirectory)) {
            _ = try object.program(named: "nope")
        }
    }
}
