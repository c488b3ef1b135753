import Foundation
import Model
import Testing
@testable import checker

/// The parts of the live loop that run without a kernel: the time ledger and the bench's
/// breakdown, the refcount reader, modules.dep, and the plain-C baseline's source.
@Suite("live loop: timing breakdown, refcounts, module index, C baseline")
struct LiveLoopTests {
    @Test("the ledger counts and sums per name, and lists the largest total first")
    func ledger() {
        var ledger = TimeLedger()
        ledger.add("load", .milliseconds(200))
        ledger.add("load", .milliseconds(100))
        ledger.add("socket", .milliseconds(1))
        ledger.add("module load (finit_module)", .milliseconds(90), count: 2)
        #expect(ledger["load"] == TimeLedger.Entry(count: 2, time: .milliseconds(300)))
        #expect(ledger["load"]?.millisecondsEach == 150)
        #expect(ledger["absent"] == nil)
        let lines = ledger.lines(prefix: "> ")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("> load "))
        #expect(lines[0].contains("2 ×   150.00 ms =     300.0 ms"))
        #expect(lines[2].hasPrefix("> socket "))
    }

    @Test("bench --live: operation kinds beside C's with failed calls, then the checker's phases")
    func breakdown() {
        var ledger = TimeLedger()
        ledger.add("load", .milliseconds(180), count: 2)
        ledger.add("socket", .milliseconds(3), count: 3)
        ledger.add("reset", .milliseconds(500), count: 1)
        ledger.add("module load (finit_module)", .milliseconds(100), count: 2)
        let c: [String: TimeLedger.Entry] = ["load": .init(count: 2, time: .milliseconds(90)),
                                             "socket": .init(count: 3, time: .milliseconds(1)),
                                             "reset": .init(count: 1, time: .milliseconds(400))]
        let lines = LiveBench.breakdown(checker: ledger, checkerFailures: ["load": 1], c: c, cFailures: ["load": 0, "socket": 2])
        let load = try? #require(lines.first { $0.hasPrefix("  load") })
        #expect(load?.contains("1/0") == true)
        #expect(load?.contains("90.00") == true, "checker ms each")
        #expect(load?.contains("45.00") == true, "C ms each")
        #expect(load?.hasSuffix("90.0") == true, "extra: 180 - 2 × 45")
        #expect(lines.contains { $0.hasPrefix("  socket") && $0.contains("0/2") })
        let phases = lines.drop { !$0.hasPrefix("the checker's phases") }
        #expect(phases.contains { $0.contains("module load (finit_module)") })
        #expect(phases.contains { $0.contains("reset") })
        #expect(!phases.contains { $0.hasPrefix("  socket") }, "operation kinds are not phases")
    }

    @Test("refcounts are read again from the same open file, and a vanished module reads as not loaded")
    func refcounts() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sysmodule-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/vsock_loopback", withIntermediateDirectories: true)
        try "0\n".write(toFile: root + "/vsock_loopback/refcnt", atomically: false, encoding: .utf8)
        let reader = ModuleRefcountReader(root: root)
        #expect(reader.refcount("vsock_loopback") == 0)
        #expect(reader.refcount("vhost_vsock") == nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: root + "/vsock_loopback/refcnt"))
        try handle.write(contentsOf: Data("3\n".utf8))
        try handle.close()
        #expect(reader.refcount("vsock_loopback") == 3)
        reader.forget("vsock_loopback")
        try FileManager.default.removeItem(atPath: root + "/vsock_loopback")
        #expect(reader.refcount("vsock_loopback") == nil)
    }

    @Test("modules.dep names modules by file, - read as _, relative paths under the release's folder")
    func modulesDep() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("libmodules-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/6.1.0-50-amd64", withIntermediateDirectories: true)
        try """
            kernel/net/vmw_vsock/vmw_vsock_vmci_transport.ko: kernel/net/vmw_vsock/vsock.ko kernel/drivers/misc/vmw_vmci/vmw_vmci.ko
            kernel/net/vmw_vsock/vsock.ko:
            kernel/drivers/vhost/vhost-test.ko.xz: kernel/drivers/vhost/vhost.ko.xz
            /extra/vsock_loopback.ko: kernel/net/vmw_vsock/vsock.ko

            """.write(toFile: root + "/6.1.0-50-amd64/modules.dep", atomically: true, encoding: .utf8)
        let files = KernelModules.readModulesDep(release: "6.1.0-50-amd64", root: root)
        #expect(files["vmw_vsock_vmci_transport"] == root + "/6.1.0-50-amd64/kernel/net/vmw_vsock/vmw_vsock_vmci_transport.ko")
        #expect(files["vsock"] == root + "/6.1.0-50-amd64/kernel/net/vmw_vsock/vsock.ko")
        #expect(files["vhost_test"] == root + "/6.1.0-50-amd64/kernel/drivers/vhost/vhost-test.ko.xz")
        #expect(files["vsock_loopback"] == "/extra/vsock_loopback.ko")
        #expect(KernelModules.readModulesDep(release: "none", root: root).isEmpty)
    }

    @Test("the C baseline compiles in all three forms; its reset waits for references unless told not to")
    func cBaseline() throws {
        let sequences: [[VsockOperation]] = [[.loadTransport(.vmci), .socket(.dgram), .close(SocketRef(0))],
                                             [.loadTransport(.loopback), .unloadTransport(.loopback)]]
        let paths: [TransportModule: String] = [.vmci: "/m/vmci.ko", .loopback: "/m/loopback.ko"]
        var program = VsockCProgram(sequences: sequences, modulePaths: paths)
        for (name, source) in [("timed", program.source(timed: 1)), ("breakdown", program.source(breakdown: true)),
                               ("plain", program.source())] {
            let file = try CheckerProcess.temporaryFile(source, name: "\(name).c")
            let compile = try Tools.run("cc", ["-Wall", "-Werror", "-o", file + ".out", file])
            #expect(compile.succeeded, "\(name): \(compile.tail)")
        }
        #expect(program.source().contains("unload_when_unreferenced(\"vmw_vsock_vmci_transport\");"))
        #expect(program.source(breakdown: true).contains("TIMED(0, load(\"/m/vmci.ko\") /* vmw_vsock_vmci_transport */);"))
        #expect(program.source(breakdown: true).contains("TIMED(\(VsockCProgram.breakdownKinds.count - 1), reset());"))
        program.resetWaits = false
        #expect(program.source().contains("\tdelete_module_(\"vmw_vsock_vmci_transport\");"))
    }
}

@Suite("progress record")
struct ProgressRecordTests {
    @Test("one fixed-size record per operation: a shorter line overwrites a longer one whole")
    func fixedSize() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID()).txt").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        var progress = ProgressFile(path: file)
        progress.record("sendto(s0, len=65536, cid=4294967295 port=4294967295)")
        progress.record("close(s0)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.utf8.count == ProgressFile.recordSize)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "step 2: close(s0)")
        #expect(ProgressFile.record(step: 1, String(repeating: "x", count: 900)).count == ProgressFile.recordSize)
    }
}
