#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Probes

@Suite("kernel symbols and unavailable reasons")
struct KernelSymbolsTests {
    let symbols = KernelSymbols(kallsyms: Array("""
        ffffffff81123450 T module_put
        ffffffff81123460 t try_module_get.part.0
        ffffffff82000000 D jiffies
        ffffffffc0a01000 t vmci_transport_dgram_allow\t[vmw_vsock_vmci_transport]
        ffffffffc0b00000 t vsock_bind\t[vsock]
        ffffffffc0b00100 t vsock_connect.isra.0\t[vsock]
        0000000000000000 t vsock_dgram_sendmsg\t[vsock]
        ffffffffc0b00200 t vsock_connect.cold\t[vsock]

        """.utf8))

    @Test("text symbols by name, with their module; data symbols are not functions")
    func lookups() {
        #expect(symbols.module(of: "module_put") == "")
        #expect(symbols.module(of: "vmci_transport_dgram_allow") == "vmw_vsock_vmci_transport")
        #expect(symbols.module(of: "vsock_dgram_sendmsg") == "vsock")  // non-root: zero address
        #expect(!symbols.contains("jiffies"))
        #expect(!symbols.contains("vsock_connect"))
        #expect(symbols.variants(of: "vsock_connect") == ["vsock_connect.isra.0"])
        #expect(!symbols.contains("vsock"))         // part of a name is no name
        #expect(!symbols.contains("sock_bind"))
    }

    @Test("a missing function: the errno and 'not in /proc/kallsyms', with compiler copies")
    func missingFunctionReason() {
        let reason = FeatureDetection.reason(
            for: .kprobe, function: "vsock_connect",
            error: .attach(program: "kcc_entry/vsock_connect", errno: .noSuchFileOrDirectory),
            symbols: symbols)
        #expect(reason.hasPrefix("kprobe vsock_connect: ENOENT (No such file or directory)"))
        #expect(reason.contains("not in /proc/kallsyms"))
        #expect(reason.contains("vsock_connect.isra.0"))
    }

    @Test("fentry refused: EPERM at load, named as such")
    func fentryReason() {
        let reason = FeatureDetection.reason(
            for: .fentry, function: "module_put",
            error: .load(program: "vsock_fentry", errno: .notPermitted), symbols: symbols)
        #expect(reason.hasPrefix("fentry module_put: EPERM (Operation not permitted) at load"))
        #expect(reason.contains("refuses fentry"))
        #expect(!reason.contains("kallsyms"))
    }

    @Test("the live /proc/kallsyms has __x64_sys_getppid")
    func liveKallsyms() {
        #expect(FeatureDetection.isAvailable(function: "__x64_sys_getppid"))
        #expect(!ProbeSession.isAvailable(function: "kcc_no_such_function_anywhere"))
    }
}

@Suite("kernel BTF")
struct KernelBTFTests {
    @Test("vmlinux BTF has struct module and struct socket, and no made-up struct",
          .enabled(if: access("/sys/kernel/btf/vmlinux", R_OK) == 0, "no readable vmlinux BTF"))
    func vmlinuxTypes() {
        #expect(FeatureDetection.kernelBTFHasStruct("module"))
        #expect(FeatureDetection.kernelBTFHasStruct("socket"))
        #expect(!FeatureDetection.kernelBTFHasStruct("kcc_no_such_struct", module: "vsock"))
    }
}
