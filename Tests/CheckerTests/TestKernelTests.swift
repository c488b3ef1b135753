import Foundation
import Testing
@testable import checker

@Suite("test kernels: fetched into the cache, never installed")
struct TestKernelTests {
    @Test("a Debian version is told apart from a path")
    func versions() {
        #expect(TestKernel.looksLikeVersion("6.1.176-1"))
        #expect(TestKernel.looksLikeVersion("6.12.111-1~deb12u1"))
        #expect(!TestKernel.looksLikeVersion("6.1"))
        #expect(!TestKernel.looksLikeVersion("/boot/vmlinuz-6.1.0-50-amd64"))
        #expect(!TestKernel.looksLikeVersion("arch/x86/boot/bzImage"))
        #expect(!TestKernel.looksLikeVersion("vmlinuz-6.1.0-50-amd64"))
    }

    @Test("the project's kernels resolve without apt, to folders under the cache")
    func known() throws {
        let vsock = try TestKernel.resolve("6.1.176-1")
        #expect(vsock == .vsock)
        #expect(vsock.package == "linux-image-6.1.0-50-amd64-unsigned")
        #expect(vsock.image(in: "/c") == "/c/kernels/6.1.0-50-amd64/boot/vmlinuz-6.1.0-50-amd64")
        #expect(vsock.modules(in: "/c") == "/c/kernels/6.1.0-50-amd64/lib/modules/6.1.0-50-amd64")
        let snp = try TestKernel.resolve("6.12.111-1~deb12u1")
        #expect(snp.package == "linux-image-6.12.111+deb12-amd64-unsigned")
        #expect(DebianBaseKernel(kernel: snp).headersPackage == "linux-headers-6.12.111+deb12-amd64")
        #expect(DebianBaseKernel(kernel: snp).commonHeadersPackage == "linux-headers-6.12.111+deb12-common")
        #expect(DebianBaseKernel(kernel: vsock).sourcePackage == "linux-source-6.1")
    }

    @Test("a kernel counts as fetched only when its unpack finished for that very version")
    func fetched() throws {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("kernel-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let kernel = TestKernel.vsock
        #expect(!kernel.isFetched(in: cache))
        try FileManager.default.createDirectory(atPath: kernel.root(in: cache) + "/boot", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: kernel.image(in: cache), contents: Data())
        #expect(!kernel.isFetched(in: cache), "an unpack without .version was interrupted")
        try "6.1.170-1\n".write(toFile: kernel.root(in: cache) + "/.version", atomically: true, encoding: .utf8)
        #expect(!kernel.isFetched(in: cache), "another version of the same release")
        try "6.1.176-1\n".write(toFile: kernel.root(in: cache) + "/.version", atomically: true, encoding: .utf8)
        #expect(kernel.isFetched(in: cache))
        #expect(try kernel.fetch(into: cache) { _ in Issue.record("nothing to fetch") } == kernel.image(in: cache))
    }

    @Test("checker vm --kernel: a path is taken as it is; anything else that is not a version is one clear line")
    func kernelOption() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bzImage-\(UUID())").path
        FileManager.default.createFile(atPath: file, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(try VM.kernelImage(file) == file)
        #expect(throws: UsageProblem.self) { try VM.kernelImage("/no/such/bzImage") }
        #expect(throws: UsageProblem.self) { try VM.kernelImage("6.1") }
    }
}
