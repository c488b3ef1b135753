import Foundation
import SystemPackage
import Model
import Testing
@testable import checker

/// The standalone C reproducer of a vsock divergence: it must compile with `cc` (it is run in the
/// test VM by scripts/live-checks.sh, never here: it loads and unloads vsock modules).
@Suite("C reproducers")
struct ReproducerTests {
    /// The divergence live-checks plants: the v5 profile on the stock kernel.
    static let minimal: [(VsockOperation, VsockObservation)] = [
        (.loadTransport(.virtio), VsockObservation(result: .value(0))),
        (.socket(.dgram), VsockObservation(result: .failure(Errno(rawValue: 19)))),
    ]

    /// The program compiles with `cc -Wall -Werror`.
    static func expectCompiles(_ text: String, name: String) throws {
        let file = try CheckerProcess.temporaryFile(text, name: name)
        let compile = try Tools.run("cc", ["-Wall", "-Werror", "-o", file + ".out", file])
        #expect(compile.succeeded, "\(compile.tail)")
    }

    static func source(_ mismatch: Mismatch.Kind) -> String {
        VsockReproducer(minimal: minimal, mismatch: mismatch, expected: "a file descriptor on virtio",
                        title: "seed 1, result mismatch at socket", replacements: ["vsock": "/tmp/vsock \"x\".ko"]).source()
    }

    @Test("it compiles with cc -Wall -Werror, and checks the observed errno at the divergent step")
    func compiles() throws {
        let text = Self.source(.result)
        #expect(text.contains("reproduced = last < 0 && last_errno == 19;"))
        #expect(text.contains("load(\"vmw_vsock_virtio_transport\", NULL, NULL)"))
        try Self.expectCompiles(text, name: "repro.c")
    }

    // The tag a send writes is its step's number; a received datagram is checked byte for byte
    // (its head), with MSG_TRUNC and the source the kernel reported.
    @Test("a receive divergence checks the datagram's head, MSG_TRUNC and source")
    func receive() throws {
        let received = ReceivedDatagram(copied: 4, truncated: true, head: DatagramPayload.bytes(tag: 4, length: 4),
                                        source: SockAddrVM(cid: 1, port: 1234))
        let minimal: [(VsockOperation, VsockObservation)] = [
            (.loadTransport(.loopback), VsockObservation(result: .value(0))),
            (.socket(.dgram), VsockObservation(result: .value(3))),
            (.bind(SocketRef(0), SockAddrVM(cid: 1, port: 1234)), VsockObservation(result: .value(0))),
            (.sendto(SocketRef(0), SockAddrVM(cid: 1, port: 1234), length: 8), VsockObservation(result: .value(8))),
            (.recv(SocketRef(0), buffer: 4, source: true), VsockObservation(result: .received(received))),
        ]
        let text = VsockReproducer(minimal: minimal, mismatch: .result, expected: "#4", title: "t").source()
        #expect(text.contains("fill(4U, 8)"))
        #expect(text.contains("recv_datagram(0, 4, &addr, &len)"))
        #expect(text.contains("reproduced = last == 4 && !!(rflags & MSG_TRUNC) == 1 && rbuf[0] == 4 && rbuf[1] == 0"))
        #expect(text.contains("addr.svm_cid == 1U && addr.svm_port == 1234U"))
        try Self.expectCompiles(text, name: "repro.c")
    }

    // Ephemeral ports start at a random place in every run: a port the kernel chose, or the one
    // after it, is checked by its relation to the port learned earlier, not by its number.
    @Test("an address divergence names a port by the port learned before it (finding 6)")
    func learnedPort() throws {
        let any = VMAddr.cidAny
        let minimal: [(VsockOperation, VsockObservation)] = [
            (.socket(.stream), VsockObservation(result: .value(3))),
            (.bind(SocketRef(0), SockAddrVM(cid: any, port: VMAddr.portAny)), VsockObservation(result: .value(0))),
            (.getpeername(SocketRef(0)), VsockObservation(result: .address(SockAddrVM(cid: 2, port: 7000)))),
            (.getsockname(SocketRef(0)), VsockObservation(result: .address(SockAddrVM(cid: any, port: 5000)))),
            (.socket(.stream), VsockObservation(result: .value(4))),
            (.bindLearned(SocketRef(1), cid: any, learned: 0, offset: 1), VsockObservation(result: .value(0))),
            (.sendtoLearned(SocketRef(1), cid: 1, learned: 0, length: 8), VsockObservation(result: .value(8))),
            (.socket(.stream), VsockObservation(result: .value(5))),
            (.bind(SocketRef(2), SockAddrVM(cid: any, port: VMAddr.portAny)), VsockObservation(result: .value(0))),
            (.getsockname(SocketRef(2)), VsockObservation(result: .address(SockAddrVM(cid: any, port: 5001)))),
        ]
        let text = VsockReproducer(minimal: minimal, mismatch: .result, expected: "#9", title: "t").source()
        #expect(text.contains("addr.svm_port == learned[0] + 1U;"))
        #expect(text.contains("vm(1U, learned[0], 0), fill("))
        #expect(VsockReproducer(minimal: minimal, mismatch: .result, expected: "", title: "").portExpression(7000) == "7000U")
        try Self.expectCompiles(text, name: "repro.c")
    }

    @Test("a reference-count divergence reads /sys/module/*/refcnt after the divergent step")
    func refcounts() throws {
        let minimal: [(VsockOperation, VsockObservation)] = [
            (.loadTransport(.vmci), VsockObservation(result: .value(0))),
            (.socket(.dgram), VsockObservation(result: .value(3), refcounts: [.vmci: 1, .loopback: 0])),
        ]
        let text = VsockReproducer(minimal: minimal, mismatch: .refcount, expected: "vmci +1", title: "t").source()
        #expect(text.contains("refcnt(\"vmw_vsock_vmci_transport\") == 1"))
        #expect(text.contains("refcnt(\"vsock_loopback\") == 0"))
        try Self.expectCompiles(text, name: "repro.c")
    }

    @Test("the bench's plain-C baseline (same calls, nothing checked) compiles too")
    func benchProgram() throws {
        let sequences: [[VsockOperation]] = [[.loadTransport(.vmci), .socket(.dgram),
                                              .sendto(SocketRef(0), SockAddrVM(cid: 2, port: 1234, flags: 0), length: 16),
                                              .connect(SocketRef(0), .unspec), .getsockname(SocketRef(0)),
                                              .recv(SocketRef(0), buffer: 16, source: true), .close(SocketRef(0)),
                                              .unloadTransport(.vmci)]]
        let program = VsockCProgram(sequences: sequences, modulePaths: [.vmci: "/lib/modules/x/vmw_vsock_vmci_transport.ko"])
        for source in [program.source(), program.source(timed: 10)] {
            let file = try CheckerProcess.temporaryFile(source, name: "bench.c")
            let compile = try Tools.run("cc", ["-O2", "-Wall", "-Werror", "-o", file + ".out", file])
            #expect(compile.succeeded, "\(compile.tail)")
        }
    }

    @Test("a divergence only the probes show says so and exits 2")
    func probesOnly() throws {
        let text = Self.source(.callbacks)
        #expect(text.contains("return 2;"))
        let file = try CheckerProcess.temporaryFile(text, name: "repro.c")
        #expect(try Tools.run("cc", ["-Wall", "-Werror", "-o", file + ".out", file]).succeeded)
    }

    @Test("a crash reproducer issues the calls and exits 1 only if the kernel survived them; it compiles")
    func crash() throws {
        let signature = CrashSignature(title: "BUG: kernel NULL pointer dereference in vsock_dgram_recvmsg",
                                       frames: ["vsock_dgram_recvmsg", "____sys_recvmsg"], truncated: false)
        let text = VsockReproducer(crash: signature, operations: [.loadTransport(.loopback), .socket(.dgram),
                                                                  .recv(SocketRef(0), buffer: 16, source: true)],
                                   title: "seed 1, crash", replacements: [:]).source()
        #expect(text.contains("Expected: the kernel crashes in the last step: BUG: kernel NULL pointer dereference in vsock_dgram_recvmsg"))
        #expect(text.contains("printf(\"not reproduced: the kernel did not crash\\n\");\n\treturn 1;"))
        try Self.expectCompiles(text, name: "crash.c")
    }

    @Test("a rebuilt module is loaded after its rebuilt dependencies, read from their .modinfo, depth first")
    func prerequisites() throws {
        // ELF objects with the .modinfo a module build gives them.
        let folder = URL(fileURLWithPath: try CheckerProcess.temporaryFile("", name: "x")).deletingLastPathComponent().path
        func module(_ name: String, depends: String) throws -> String {
            let source = folder + "/\(name).c"
            try "__attribute__((section(\".modinfo\"), used)) static const char d[] = \"depends=\(depends)\";\nint \(name)_f(void) { return 0; }\n"
                .write(toFile: source, atomically: true, encoding: .utf8)
            let object = folder + "/\(name).ko"
            #expect(try Tools.run("cc", ["-c", "-o", object, source]).succeeded)
            return object
        }
        let replacements = [
            "vsock": try module("vsock", depends: ""),
            "vmw_vsock_virtio_transport_common": try module("vmw_vsock_virtio_transport_common", depends: "vsock"),
            "vsock_loopback": try module("vsock_loopback", depends: "vsock,vmw_vsock_virtio_transport_common"),
            "vmw_vsock_vmci_transport": try module("vmw_vsock_vmci_transport", depends: "vmw_vmci,vsock"),
        ]
        let reproducer = VsockReproducer(crash: CrashSignature(title: "x", frames: [], truncated: true), operations: [],
                                         title: "t", replacements: replacements)
        #expect(reproducer.prerequisites(of: "vsock_loopback")
                == "vsock=\(replacements["vsock"]!) vmw_vsock_virtio_transport_common=\(replacements["vmw_vsock_virtio_transport_common"]!)")
        // A stock dependency is left to modprobe.
        #expect(reproducer.prerequisites(of: "vmw_vsock_vmci_transport") == "vmw_vmci vsock=\(replacements["vsock"]!)")
    }
}

/// A minimal case that reproduced on some re-runs only is labelled flaky.
@Suite("flaky reproducers")
struct FlakyTests {
    @Test("2/3 and 0/3 are flaky; 3/3 and 0/0 (not shrunk) are not",
          arguments: [("2/3", true), ("3/3", false), ("0/0", false), ("1/3", true), ("0/3", true)])
    func flaky(reproduced: String, flaky: Bool) {
        let report = DivergenceReport(seed: 1, signature: "result mismatch at socket", step: 1, operation: "socket", expected: "fd",
                                      observed: "ENODEV", evidence: [], minimal: [], caseFile: nil, shrinkExecutions: 0,
                                      reproduced: reproduced)
        #expect(report.isFlaky == flaky)
    }
}
