import Foundation
import Testing

/// `checker explain --parallel` and `checker replay` of a parallel case, without a kernel.
@Suite("parallel commands")
struct ParallelCommandTests {
    @Test("explain --parallel prints the prefix with its expectations and each thread's operations")
    func explain() throws {
        let output = try CheckerProcess.run(["explain", "--profile", "mainline", "--parallel", "--seed", "3", "--threads", "2",
                                             "--thread-ops", "3", "--prefix-ops", "4"])
        #expect(output.status == 0)
        #expect(output.stdout.contains("  thread 0:\n    0.1  "))
        #expect(output.stdout.contains("  thread 1:\n    1.1  "))
        #expect(!output.stdout.contains("  thread 2:"))
        #expect(output.stdout.contains("  1  ") && output.stdout.contains("expect"))
    }

    static let parallelCase = """
        {"format":"checker-case/1","profile":"mainline","seed":9,"target":"vsock","threads":2}
        {"op":{"op":{"module":"vmci","op":"load"}}}
        {"op":{"op":{"op":"socket","type":"SOCK_DGRAM"}}}
        {"op":{"op":{"cid":1,"flags":0,"length":1,"op":"sendto","port":1024,"socket":0},"socket":"p0","thread":0}}
        {"op":{"op":{"op":"socket","type":"SOCK_DGRAM"},"thread":1}}
        {"op":{"op":{"op":"getsockname","socket":0},"socket":"o0","thread":1}}

        """

    @Test("replay of a parallel case without a system: the case, and a skip (nothing recorded to judge)")
    func replayWithoutSystem() throws {
        let file = try CheckerProcess.temporaryFile(Self.parallelCase)
        let output = try CheckerProcess.run(["replay", file])
        #expect(output.status == 4)
        #expect(output.stdout.contains("2 threads"))
        #expect(output.stdout.contains("thread 1: socket(AF_VSOCK, SOCK_DGRAM); getsockname(o0)"))
        #expect(output.stdout.contains("# skip: a parallel case records no history"))
    }

    @Test("replay --on live of a parallel case outside the test VM: refused, like a sequential one (it loads modules)")
    func replayLiveOutsideTheVM() throws {
        let file = try CheckerProcess.temporaryFile(Self.parallelCase)
        let output = try CheckerProcess.run(["replay", file, "--on", "live"])
        #expect(output.status == 2)
        #expect(output.stderr == "checker: --on live loads and unloads vsock modules: run it as root in the test VM ('checker vm -- replay FILE --on live')\n")
    }

    @Test("a parallel case naming a thread the header does not have: one line, exit status 2")
    func badThread() throws {
        let file = try CheckerProcess.temporaryFile(Self.parallelCase.replacingOccurrences(of: "\"thread\":1", with: "\"thread\":5"))
        let output = try CheckerProcess.run(["replay", file])
        #expect(output.status == 2)
        #expect(output.stderr.hasSuffix("line 5: thread 5 is not one of the header's 2; fix the line or write the case again\n"))
    }
}
