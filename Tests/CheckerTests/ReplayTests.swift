import Foundation
import Testing

@Suite("checker replay")
struct ReplayTests {
    static let header = #"{"format":"checker-case/1","target":"vsock","profile":"mainline","seed":3}"#

    @Test("a recorded divergence is reported with exit status 1, and the file is left as it was")
    func divergence() throws {
        // Mainline without the VMCI transport: socket(SOCK_DGRAM) must fail with ENODEV.
        let text = Self.header + "\n" + #"{"op":{"op":"socket","type":"SOCK_DGRAM"},"observed":{"result":{"value":3},"calls":[],"refcounts":{}}}"# + "\n"
        let path = try CheckerProcess.temporaryFile(text)
        let output = try CheckerProcess.run(["replay", path])
        #expect(output.status == 1)
        #expect(output.stdout.contains("# DIVERGENCE at step 1 (socket): result mismatch"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
    }

    @Test("a case whose observations the model allows replays with exit status 0")
    func agrees() throws {
        let text = Self.header + "\n"
            + #"{"op":{"op":"load","module":"vmci"},"observed":{"result":{"value":0},"calls":[],"refcounts":{"vmw_vsock_vmci_transport":0}}}"# + "\n"
            + #"{"op":{"op":"socket","type":"SOCK_DGRAM"},"observed":{"result":{"value":3},"calls":[],"refcounts":{"vmw_vsock_vmci_transport":1}}}"# + "\n"
            + #"{"op":{"op":"unload","module":"vmci"},"observed":{"result":{"errno":"EAGAIN"},"calls":[],"refcounts":{"vmw_vsock_vmci_transport":1}}}"# + "\n"
        let output = try CheckerProcess.run(["replay", try CheckerProcess.temporaryFile(text)])
        #expect(output.status == 0)
        #expect(output.stdout.hasSuffix("# every step agrees with the model\n"))
    }

    @Test("the same case judged under the v5 profile diverges at a different rule")
    func profileOverride() throws {
        // v5 looks up virtio for a new datagram socket when VMCI is absent: socket() succeeds.
        let text = Self.header + "\n"
            + #"{"op":{"op":"load","module":"virtio"},"observed":{"result":{"value":0},"calls":[],"refcounts":{"vmw_vsock_virtio_transport":0}}}"# + "\n"
            + #"{"op":{"op":"socket","type":"SOCK_DGRAM"},"observed":{"result":{"value":3},"calls":[],"refcounts":{"vmw_vsock_virtio_transport":1}}}"# + "\n"
        let path = try CheckerProcess.temporaryFile(text)
        #expect(try CheckerProcess.run(["replay", path]).status == 1)
        #expect(try CheckerProcess.run(["replay", path, "--profile", "vsock-dgram-v5"]).status == 0)
    }

    @Test("a malformed line is one line naming the file and the line, exit status 2")
    func malformed() throws {
        let path = try CheckerProcess.temporaryFile(Self.header + "\n" + #"{"op":{"op":"socket","type":"SOCK_RAW"}}"# + "\n")
        let output = try CheckerProcess.run(["replay", path])
        #expect(output.status == 2)
        #expect(output.stderr == "checker: \(path) line 2: unknown socket type \"SOCK_RAW\"; fix the line or write the case again\n")
    }

    @Test("--serve takes its cases from a folder, live only: other uses are one line and exit status 2")
    func serveUsage() throws {
        let folder = FileManager.default.temporaryDirectory.path
        let offLive = try CheckerProcess.run(["replay", "--serve", folder])
        #expect(offLive.status == 2)
        #expect(offLive.stderr.hasPrefix("checker: --serve replays cases live; add --on live"))
        let withFile = try CheckerProcess.run(["replay", "--serve", folder, "--on", "live", try CheckerProcess.temporaryFile(Self.header + "\n")])
        #expect(withFile.status == 2)
        #expect(withFile.stderr.hasPrefix("checker: --serve takes its cases from the folder; give no case file, --all or --reproducer with it"))
    }
}
