import Foundation
import Testing
@testable import checker

/// `--shard I/N` and `checker merge`: N jobs cover the batches exactly once, and their reports
/// merge into the report of the whole run.
@Suite("shards and merge")
struct MergeTests {
    @Test("I/N parses; anything else does not", arguments: [("1/1", true), ("2/4", true), ("4/4", true), ("0/4", false),
                                                            ("5/4", false), ("1/0", false), ("a/b", false), ("1", false), ("1/2/3", false)])
    func parsing(text: String, valid: Bool) {
        #expect((Shard(argument: text) != nil) == valid)
    }

    @Test("the shards of N cover every batch exactly once, for every N", arguments: 1...7)
    func partition(count: Int) {
        let batches = Array(0..<23)
        let shares = (1...count).map { Shard(index: $0, count: count).share(of: batches) }
        #expect(shares.flatMap { $0 }.sorted() == batches)
        #expect(shares.map(\.count).max()! - shares.map(\.count).min()! <= 1)
    }

    static func report(shard: String?, seeds: [[UInt64]], outcome: BatchResult.Outcome = .pass) -> CheckReport {
        var report = CheckReport(target: "vsock", profile: "mainline", kernel: "6.1.0-50-amd64", system: "live kernel",
                                 startedAt: "2026-11-22T05:00:00Z", durationSeconds: 10)
        report.shard = shard
        report.operationCounts = ["socket": 3]
        report.batches = seeds.map { batch in
            BatchResult(name: "vsock.mainline.seeds-\(batch.first!)-\(batch.last!)", seeds: batch, operations: 5,
                        outcome: outcome, reason: nil, durationSeconds: 1, lostEvents: 0, divergences: [])
        }
        return report
    }

    @Test("two shards merge into the whole run, in seed order")
    func whole() throws {
        let merged = try Merge.merge([Self.report(shard: "2/2", seeds: [[11, 12]]),
                                      Self.report(shard: "1/2", seeds: [[1, 2], [21, 22]])])
        #expect(merged.batches.map(\.name) == ["vsock.mainline.seeds-1-2", "vsock.mainline.seeds-11-12", "vsock.mainline.seeds-21-22"])
        #expect(merged.operationCounts == ["socket": 6])
        #expect(merged.exitStatus == .pass)
    }

    @Test("a missing or repeated shard fails the merged report")
    func incomplete() throws {
        let missing = try Merge.merge([Self.report(shard: "1/3", seeds: [[1]]), Self.report(shard: "3/3", seeds: [[3]])])
        #expect(missing.batches.last?.name == "merge.shards")
        #expect(missing.batches.last?.reason?.contains("shard 2/3 missing") == true)
        #expect(missing.exitStatus == .divergence)
        let twice = try Merge.merge([Self.report(shard: "1/2", seeds: [[1]]), Self.report(shard: "1/2", seeds: [[1]]),
                                     Self.report(shard: "2/2", seeds: [[2]])])
        #expect(twice.batches.last?.reason?.contains("given twice") == true)
    }

    @Test("reports of different targets or profiles are refused")
    func mismatch() {
        var other = Self.report(shard: nil, seeds: [[1]])
        other.profile = "vsock-dgram-v5"
        #expect(throws: UsageProblem.self) { try Merge.merge([Self.report(shard: nil, seeds: [[2]]), other]) }
    }

    @Test("the command: merges folders, writes the three reports, exit status of the whole")
    func command() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("checker-merge-\(UUID().uuidString)").path
        var failing = Self.report(shard: "2/2", seeds: [[2]], outcome: .fail)
        let caseFile = try CheckerProcess.temporaryFile("{\"format\":\"checker-case/1\"}\n", name: "seed2-socket-result.jsonl")
        failing.batches[0].divergences = [DivergenceReport(
            seed: 2, signature: "result mismatch at socket", step: 1, operation: "socket", expected: "fd", observed: "ENODEV",
            evidence: [], minimal: ["socket"], caseFile: caseFile, shrinkExecutions: 1, reproduced: "3/3")]
        for (index, report) in [Self.report(shard: "1/2", seeds: [[1]]), failing].enumerated() {
            let folder = "\(base)/shard-\(index + 1)/20261122T050000Z"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try JSONReporter.render(report).write(toFile: folder + "/summary.json", atomically: true, encoding: .utf8)
        }
        let output = try CheckerProcess.run(["merge", "\(base)/shard-1", "\(base)/shard-2", "--results", "\(base)/merged"])
        #expect(output.status == 1)
        #expect(output.stdout.contains("not ok 2 vsock.mainline.seeds-2-2"))
        for file in ["summary.json", "ktap.txt", "junit.xml"] {
            #expect(FileManager.default.fileExists(atPath: "\(base)/merged/\(file)"), "\(file)")
        }
        let stored = try CheckerProcess.run(["merge", "\(base)/shard-1", "\(base)/shard-2", "--results", "\(base)/merged-2",
                                             "--store", "\(base)/store"])
        #expect(stored.status == 1)
        #expect(FileManager.default.fileExists(atPath: "\(base)/merged-2/cases/seed2-socket-result.jsonl"))
        #expect(FailureStore("\(base)/store").cases(target: "vsock", profile: "mainline").count == 1)
        let again = try CheckerProcess.run(["merge", "\(base)/shard-1", "--results", "\(base)/merged"])
        #expect(again.status == 2, "an existing summary is never overwritten")
    }
}
