import Foundation
import Testing
@testable import checker

/// `checker series`: reading GNU patch's report, applying with adaptations, bad input.
@Suite struct SeriesTests {
    /// GNU patch 2.7.6's words for the 6.1.176 run of v5 01 (captured from the real run).
    @Test func parsesFailedAndFuzzedHunks() {
        let output = """
            patching file include/linux/virtio_vsock.h
            Hunk #1 succeeded at 172 (offset 5 lines).
            patching file net/vmw_vsock/af_vsock.c
            Hunk #1 FAILED at 1272.
            Hunk #2 succeeded at 1331 with fuzz 2 (offset 44 lines).
            1 out of 2 hunks FAILED
            patching file net/vmw_vsock/hyperv_transport.c
            Hunk #1 succeeded at 557 (offset 1 line).
            """
        let outcome = PatchApplication.parse(output)
        #expect(outcome.failed.map { "\($0.file)#\($0.hunk)" } == ["net/vmw_vsock/af_vsock.c#1"])
        #expect(outcome.fuzzed.map { "\($0.file)#\($0.hunk)~\($0.fuzz)" } == ["net/vmw_vsock/af_vsock.c#2~2"])
        #expect(outcome.missingFiles.isEmpty)
    }

    @Test func namesMissingFiles() {
        let outcome = PatchApplication.parse("""
            can't find file to patch at input line 5
            Perhaps you used the wrong -p or --strip option?
            """)
        #expect(outcome.missingFiles.count == 1)
    }

    /// A two-hunk patch whose first hunk no longer applies: without an adaptation the error names
    /// patch, file and hunk; with one, the tree ends up as the patch intended.
    @Test func rejectedHunkNeedsAdaptation() throws {
        let scratch = try Scratch()
        let base = (1...40).map { "line \($0)" }
        try scratch.write("tree/f.c", (base.map { $0 == "line 3" ? "line 3 (changed by a stable fix)" : $0 }).joined(separator: "\n") + "\n")
        try scratch.write("series/0001-change.patch", """
            --- a/f.c
            +++ b/f.c
            @@ -2,3 +2,3 @@
             line 2
            -line 3
            +line three
             line 4
            @@ -30,3 +30,3 @@
             line 30
            -line 31
            +line thirty-one
             line 32

            """)
        let series = try PatchSeries(folder: scratch.path("series"), upTo: nil)
        #expect(series.patches.map(\.number) == ["0001"])
        #expect(try series.touchedFiles() == ["f.c"])

        let without = PatchApplication(tree: scratch.path("tree"), adaptations: scratch.path("adaptations"), baseName: "test base")
        try FileManager.default.createDirectory(atPath: scratch.path("adaptations"), withIntermediateDirectories: true)
        do {
            _ = try without.apply(series)
            Issue.record("a rejected hunk without adaptation must stop the build")
        } catch let problem as UsageProblem {
            #expect(problem.message.contains("0001-change.patch"))
            #expect(problem.message.contains("hunk #1 of f.c"))
            #expect(problem.message.contains("0001-f.c-hunk1.diff"))
        }

        // Start again from the base; the adaptation is made against the tree as it stands after
        // the patch's other hunk applied.
        let fresh = base.map { $0 == "line 3" ? "line 3 (changed by a stable fix)" : $0 }.joined(separator: "\n") + "\n"
        try scratch.write("tree/f.c", fresh)
        try scratch.write("adaptations/0001-f.c-hunk1.diff", """
            --- a/f.c
            +++ b/f.c
            @@ -2,3 +2,3 @@
             line 2
            -line 3 (changed by a stable fix)
            +line three (changed by a stable fix)
             line 4

            """)
        let notes = try without.apply(series)
        #expect(notes.map(\.description) == ["0001-change.patch: f.c hunk #1 adapted by 0001-f.c-hunk1.diff"])
        let patched = try String(contentsOfFile: scratch.path("tree/f.c"), encoding: .utf8)
        #expect(patched.contains("line three (changed by a stable fix)\n"))
        #expect(patched.contains("line thirty-one\n"))
    }

    @Test func badSeriesInputIsOneLineAndStatus2() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.path("empty"), withIntermediateDirectories: true)
        try scratch.write("one/0001-a.patch", "--- a/x\n+++ b/x\n")
        for (arguments, words) in [
            (["series", "--patches", scratch.path("nowhere")], "is not a folder"),
            (["series", "--patches", scratch.path("empty")], "holds no .patch files"),
            (["series", "--patches", scratch.path("empty"), "--mutant", scratch.path("nope.patch")], "--mutant"),
            (["series", "--patches", scratch.path("one"), "--base", "six"], "not a Debian kernel version"),
        ] {
            let output = try CheckerProcess.run(arguments)
            #expect(output.status == 2, "\(arguments)")
            #expect(output.stderr.contains(words), "\(arguments): \(output.stderr)")
            #expect(output.stderr.split(separator: "\n").count == 1, "\(arguments): \(output.stderr)")
        }
    }

    @Test func uptoOutsideTheSeriesIsRejected() throws {
        let scratch = try Scratch()
        try scratch.write("series/0001-a.patch", "--- a/x\n+++ b/x\n")
        #expect(throws: UsageProblem.self) { try PatchSeries(folder: scratch.path("series"), upTo: 2) }
        #expect(try PatchSeries(folder: scratch.path("series"), upTo: 1).patches.count == 1)
    }
}

/// A temporary folder for one test, removed when the test ends.
final class Scratch {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("checker-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ relative: String) -> String { root + "/" + relative }

    func write(_ relative: String, _ text: String) throws {
        let file = path(relative)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
    }
}

/// Long runs that crash the guest kernel: the VM is stopped soon after the oops, and
/// `series --keep-going` knows which seed to resume after.
@Suite struct CrashHandlingTests {
    @Test func consoleSinkNotesTheFirstOops() async throws {
        let scratch = try Scratch()
        let sink = try ConsoleSink(consolePath: scratch.path("console.log"), stdoutPath: scratch.path("stdout.txt"), echo: false)
        await sink.append(Array("[   41.9] vsock: loading out-of-tree module taints kernel.\n# step 3: sendto\n".utf8), from: .stderr)
        #expect(await sink.crashSeen == nil)
        await sink.append(Array("[ 1222.8] BUG: kernel NULL pointer dereference, address: 0000000000000058\n".utf8), from: .stderr)
        #expect(await sink.crashSeen != nil)
        await sink.finish()
    }

    @Test("what stops the guest, on the real consoles: an oops, a GPF, a BUG, a soft lockup and a hung task do; a WARNING and an RCU stall do not")
    func whatEndsTheRun() throws {
        for (name, ends) in [("oops", true), ("gpf", true), ("bug", true), ("soft-lockup", true), ("hang", true),
                             ("warning", false), ("rcu-stall", false)] {
            let messages = try CrashSignatureTests.console(name).split(whereSeparator: \.isNewline)
                .compactMap { ConsoleScanner.kernelMessage(in: String($0)) }
            #expect(messages.contains(where: ConsoleScanner.endsTheRun) == ends, "\(name)")
        }
    }

    @Test func crashedSeedIsTheFirstAfterTheFinishedBatches() throws {
        let scratch = try Scratch()
        func batch(_ name: String, _ seeds: [UInt64], _ outcome: BatchResult.Outcome) -> BatchResult {
            BatchResult(name: name, seeds: seeds, operations: 100, outcome: outcome, reason: nil, durationSeconds: 1,
                        lostEvents: 0, divergences: [])
        }
        var report = CheckReport(target: "vsock", profile: "vsock-dgram-v5", kernel: "6.1.0-50-amd64", system: "live kernel",
                                 startedAt: "2026-11-22T00:00:00Z", durationSeconds: 1, batches: [], probes: [])
        report.batches = [batch("vsock.vsock-dgram-v5.seeds-5-5", [5], .pass), batch("vsock.vsock-dgram-v5.seeds-6-6", [6], .pass)]
        try JSONReporter.render(report).write(toFile: scratch.path("clean.json"), atomically: true, encoding: .utf8)
        #expect(Series.crashedSeed(in: scratch.path("clean.json"), from: 5) == nil)
        report.batches.append(batch("vm.guest", [], .fail))
        try JSONReporter.render(report).write(toFile: scratch.path("crashed.json"), atomically: true, encoding: .utf8)
        #expect(Series.crashedSeed(in: scratch.path("crashed.json"), from: 5) == 7)
        report.batches = [batch("vm.guest", [], .fail)]
        try JSONReporter.render(report).write(toFile: scratch.path("first.json"), atomically: true, encoding: .utf8)
        #expect(Series.crashedSeed(in: scratch.path("first.json"), from: 5) == 5)
    }

    @Test func worseStatusWins() {
        #expect(Series.worse(0, 4) == 4)
        #expect(Series.worse(4, 1) == 1)
        #expect(Series.worse(1, 0) == 1)
        #expect(Series.worse(1, 2) == 2)
    }
}
