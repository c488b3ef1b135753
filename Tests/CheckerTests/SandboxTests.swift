import Foundation
import Generators
import Model
import Testing
@testable import checker

/// The harness child: a patch's code runs in a sandboxed process, and whatever it does to that
/// process — a NULL write, BUG(), exit(), an endless loop, opening a file or a socket — comes back
/// as a crash observation for the operation that did it, while the test process (the checker)
/// carries on. The crashing patches are the SNP seed with `series/snp-v8/crashing/*.diff` applied.
@Suite struct SandboxTests {
    static let crashing = HarnessTests.project.appendingPathComponent("series/snp-v8/crashing").path

    /// The seed with one of the crashing diffs applied, compiled (not loaded).
    static func crashingBuild(_ name: String) throws -> HarnessBuild {
        try #require(HarnessTests.seedExists, "the SNP seed \(HarnessTests.seed) is missing: put ../shared beside the project")
        let folder = HarnessTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let patched = folder + "/\(name).txt"
        let applied = try Tools.run("patch", ["--quiet", "-o", patched, HarnessTests.seed, "\(crashing)/\(name).diff"])
        try #require(applied.succeeded, "\(name).diff does not apply to the seed: \(applied.stderr)")
        return try SNPHarnessSystem.build(patch: patched, cache: HarnessTests.sharedCache)
    }

    static func sandboxed(_ build: HarnessBuild) throws -> SandboxedHarness<SNPModel> {
        try SandboxedHarness(snpV8: build, executable: CheckerProcess.executable.path, callBound: .seconds(2))
    }

    static let slot = SNPOperation.setup(SNPMemslot(asid: 1, baseGFN: 0, pages: 1024))

    @Test(arguments: [
        ("null-write", HarnessCrash.Kind.signal, "SIGSEGV in sev_update_mem_attr"),
        ("bug", .abort, "abort (BUG) in sev_update_mem_attr"),
        ("exit", .exit, "exit() (exit status 3) in sev_update_mem_attr"),
        // _exit runs no atexit hook: no crash line, yet a patch call was running.
        ("underscore-exit", .exit, "exit status 5 during sev_update_mem_attr, no crash report"),
        ("hang", .timeout, "no return within 2 s from sev_update_mem_attr"),
        ("open-file", .forbiddenCall, "forbidden system call openat in sev_update_mem_attr"),
        ("socket", .forbiddenCall, "forbidden system call socket in sev_update_mem_attr"),
    ])
    func aCrashingPatchIsAnObservationAndTheCheckerGoesOn(name: String, kind: HarnessCrash.Kind, signature: String) throws {
        let harness = try Self.sandboxed(try Self.crashingBuild(name))
        try harness.reset()
        #expect(harness.sandbox?.contains("seccomp") == true)
        #expect(try harness.execute(Self.slot) == .applied)
        // 256 pages: below every planted fault's bound, an ordinary update.
        guard case .update = try harness.execute(.convert(start: 0, end: 256, toPrivate: true)) else {
            Issue.record("256 pages should not crash \(name)")
            return
        }
        let observed = try harness.execute(.convert(start: 0, end: 257, toPrivate: true))
        let crash = try #require(observed.crash, "257 pages should crash \(name); observed \(observed)")
        #expect(crash.kind == kind)
        #expect(crash.signature.hasPrefix(signature), "\(crash.signature)")
        #expect(harness.lastEvidence.contains { $0.hasPrefix("process: ") })
        // The child is gone; its world with it. The next sequence gets a new child.
        #expect(throws: SystemError.self) { try harness.execute(Self.slot) }
        try harness.reset()
        #expect(try harness.execute(Self.slot) == .applied)
        #expect(harness.child.starts == 2)
    }

    @Test
    func theSandboxedSeedSeesWhatTheLoadedSeedSees() throws {
        let inProcess = try HarnessTests.seedHarness()
        let sandboxed = try Self.sandboxed(try SNPHarnessSystem.build(patch: HarnessTests.seed, cache: HarnessTests.sharedCache))
        let sequence: [SNPOperation] = [Self.slot, .allocate(index: 0, order: 9), .allocate(index: 512, order: 0),
                                        .preset(gfn: 512, .foreignGuest(asid: 7)), .convert(start: 0, end: 600, toPrivate: true),
                                        .convert(start: 1, end: 2, toPrivate: false)]
        inProcess.reset()
        try sandboxed.reset()
        for operation in sequence {
            let expected = try inProcess.execute(operation)
            #expect(try sandboxed.execute(operation) == expected, "\(operation)")
            #expect(sandboxed.lastEvidence == inProcess.lastEvidence)
        }
    }

    /// A child that cannot even load its library is the harness unavailable here (a skip), never
    /// the patch's finding and never a pass.
    @Test
    func aChildThatCannotStartIsUnavailable() throws {
        let harness = try Self.sandboxed(HarnessBuild(kind: .snpV8, library: "/nonexistent/harness.so", name: "missing"))
        #expect {
            try harness.reset()
        } throws: { error in
            guard case let SystemError.unavailable(message)? = error as? SystemError else { return false }
            return message.contains("harness-serve) failed") && message.contains("/nonexistent/harness.so")
        }
    }

    @Test
    func crashLinesParse() {
        let line = HarnessCrashReport.parse(
            "harness-crash kind=forbidden-call signal=31 code=1 addr=0x7f00 syscall=257 in-call=sev_update_mem_attr frames=ip:0x1a2b,ra:0x1c00")
        #expect(line == HarnessCrashReport.Line(kind: "forbidden-call", signal: 31, address: "0x7f00", syscall: 257,
                                                inCall: "sev_update_mem_attr", frames: [(true, 0x1a2b), (false, 0x1c00)]))
        #expect(HarnessCrashReport.parse("harness-crash kind=exit signal=0 in-call=- frames=-")?.inCall == nil)
        #expect(HarnessCrashReport.parse("kernel BUG at x.c:1!") == nil)
        // The last crash line wins (a hang probe's line follows nothing else; a crash's is last).
        let report = HarnessCrashReport(stderr: "kernel BUG at p.c:3!\nharness-crash kind=abort signal=6 in-call=f frames=-\n",
                                        library: "/nonexistent", shimFiles: [])
        #expect(report.line?.kind == "abort")
        let crash = report.crash(ending: "killed by SIGABRT", bound: nil)
        #expect(crash.kind == .abort && crash.signature == "abort (BUG) in f")
        #expect(crash.detail.contains("stderr: kernel BUG at p.c:3!"))
    }

    /// As a user runs it: the checker reports the crash with its reports written, exit status 1.
    @Test
    func checkerRunReportsACrashingPatch() throws {
        let folder = HarnessTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let patched = folder + "/null-write.txt"
        _ = try Tools.run("patch", ["--quiet", "-o", patched, HarnessTests.seed, "\(Self.crashing)/null-write.diff"])
        let results = folder + "/results"
        let output = try CheckerProcess.run(["run", "--target", "snp", "--patch", patched, "--seed", "9", "--ops", "30",
                                             "--store", "none", "--results", results])
        #expect(output.status == 1, "\(output.stderr)")
        #expect(output.stdout.contains("crashed: SIGSEGV in sev_update_mem_attr"))
        let ktap = try String(contentsOfFile: results + "/ktap.txt", encoding: .utf8)
        #expect(ktap.contains("not ok 1"))
        let cases = try FileManager.default.contentsOfDirectory(atPath: results + "/cases")
        #expect(cases.contains { $0.hasSuffix("-crash.jsonl") }, "\(cases)")
    }

    /// A tree's code crashes the same way: the gmem hooks run in the same sandbox.
    @Test
    func aCrashingGmemHookIsAFindingOfItsOwnFunction() throws {
        let folder = try GmemHarnessTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/sev.c"
        let crashing = GmemHarnessTests.fixture.replacingOccurrences(
            of: "\tfor (; start < end; start++)\n\t\tWARN_ONCE",
            with: "\tif (end - start > 1)\n\t\t*(volatile int *)0 = 1;\n\tfor (; start < end; start++)\n\t\tWARN_ONCE")
        #expect(crashing != GmemHarnessTests.fixture)
        try crashing.write(toFile: file, atomically: true, encoding: .utf8)
        let build = try GmemHarnessSystem.compile(GmemSource(sevC: file, displayName: "fixture"), cache: folder)
        let harness = try SandboxedHarness(gmem: build, executable: CheckerProcess.executable.path, callBound: .seconds(2))
        try harness.reset()
        #expect(try harness.execute(.setup(SNPMemslot(baseGFN: 0, pages: 1024))) == .applied)
        #expect(try harness.execute(.allocate(index: 0, order: 0)) == .applied)
        guard case .call = try harness.execute(.invalidate(index: 0, pages: 1)) else {
            Issue.record("freeing one page should not crash")
            return
        }
        #expect(try harness.execute(.allocate(index: 512, order: 9)) == .applied)
        let crash = try #require(try harness.execute(.invalidate(index: 512, pages: 512)).crash)
        #expect(crash.kind == .signal)
        #expect(crash.signature.hasPrefix("SIGSEGV in sev_gmem_invalidate (sev.c:"), "\(crash.signature)")
    }
}
