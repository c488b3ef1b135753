import Foundation
import Testing
@testable import checker

/// `checker vm --jobs N -- run …`: which guest runs which shard, and how their results merge,
/// including a guest whose kernel crashed. The guests are fakes that write what a guest would
/// (summary.json, console.log) and end as vng would: no VM is booted.
@Suite("checker vm --jobs: the VM pool")
struct VMPoolTests {
    static func scratch() throws -> String {
        try VMResultsFolder.create(under: FileManager.default.temporaryDirectory
            .appendingPathComponent("checker-pool-\(UUID().uuidString)").path)
    }

    static func template(folder: String) -> VMSession {
        VMSession(vng: "/usr/bin/false",
                  command: VngCommand(kernel: "/boot/vmlinuz-6.1.0-50-amd64", memory: "2G", cpus: 1, kvm: false,
                                      qemuOptions: [], resultsFolder: folder, guestCommand: []),
                  guestArguments: [], folder: folder, timeoutSeconds: 600, echoConsole: false)
    }

    static func pool(_ count: Int, arguments: [String] = ["run", "--profile", "mainline", "--seeds", "4", "--batch", "1"])
        throws -> VMPool {
        let folder = try scratch()
        return try VMPool(folder: folder, jobs: VMPool.shardJobs(arguments, count: count), template: template(folder: folder),
                          checker: "/work/main/.build/debug/checker")
    }

    /// What `run --shard I/N` writes for these one-seed batches.
    static func shardReport(_ shard: String, seeds: [UInt64], outcome: BatchResult.Outcome = .pass) -> CheckReport {
        var report = CheckReport(target: "vsock", profile: "mainline", kernel: "6.1.0-50-amd64", system: "live kernel",
                                 startedAt: "2026-12-01T10:00:00Z", durationSeconds: 30)
        report.shard = shard
        report.batches = seeds.map { seed in
            BatchResult(name: "vsock.mainline.seeds-\(seed)-\(seed)", seeds: [seed], operations: 100, outcome: outcome,
                        reason: nil, durationSeconds: 10, lostEvents: 0, divergences: [])
        }
        return report
    }

    /// A guest as vng leaves it: the guest's summary (if it wrote one), the console, how it ended.
    struct FakeGuest: Sendable {
        var summary: CheckReport?
        var console = ConsoleSamples.cleanBoot
        var ending = VMRunner.Ending.exited(0)

        func boot(_ session: VMSession) throws -> VMRunner.Outcome {
            if let summary {
                try JSONReporter.render(summary).write(toFile: session.file("summary.json"), atomically: true, encoding: .utf8)
                try KTAPReporter.render(summary).write(toFile: session.file("ktap.txt"), atomically: true, encoding: .utf8)
            }
            try console.write(toFile: session.file("console.log"), atomically: true, encoding: .utf8)
            try "".write(toFile: session.file("stdout.txt"), atomically: true, encoding: .utf8)
            return VMRunner.Outcome(ending: ending, seconds: 40)
        }
    }

    /// Runs the pool with one fake per guest, in job order; the notes it printed.
    static func run(_ pool: VMPool, _ guests: [FakeGuest]) async throws -> (VMPool.Outcome, [String]) {
        let notes = Notes()
        let outcome = try await pool.run(boot: { session in
            let index = pool.sessions.firstIndex { $0.folder == session.folder }!
            return try guests[index].boot(session)
        }, note: { notes.add($0) })
        return (outcome, notes.lines)
    }

    final class Notes: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func add(_ line: String) { lock.withLock { stored.append(line) } }
        var lines: [String] { lock.withLock { stored } }
    }

    static func merged(_ pool: VMPool) throws -> CheckReport {
        try JSONReporter.decode(String(contentsOfFile: pool.folder + "/summary.json", encoding: .utf8))
    }

    @Test("--jobs N: guest i runs the arguments with --shard i/N, right after the subcommand")
    func splitting() {
        let jobs = VMPool.shardJobs(["run", "--profile", "mainline", "--seed", "1", "--seeds", "20"], count: 3)
        #expect(jobs.map(\.name) == ["shard-1", "shard-2", "shard-3"])
        #expect(jobs.map(\.arguments) == [
            ["run", "--shard", "1/3", "--profile", "mainline", "--seed", "1", "--seeds", "20"],
            ["run", "--shard", "2/3", "--profile", "mainline", "--seed", "1", "--seeds", "20"],
            ["run", "--shard", "3/3", "--profile", "mainline", "--seed", "1", "--seeds", "20"],
        ])
        #expect(jobs.map(\.shard) == [Shard(index: 1, count: 3), Shard(index: 2, count: 3), Shard(index: 3, count: 3)])
    }

    @Test("golden: each guest's vng command, results folder and guest test are its own")
    func guestCommands() throws {
        let pool = try Self.pool(2)
        let second = pool.sessions[1]
        #expect(second.folder == pool.folder + "/shard-2")
        #expect(FileManager.default.fileExists(atPath: second.folder))
        #expect(second.guestTestName == "vm.guest.shard-2")
        #expect(second.command.arguments == [
            "-r", "/boot/vmlinuz-6.1.0-50-amd64", "--disable-kvm", "--memory", "2G", "--cpus", "1",
            "--force-9p", "--rwdir=\(pool.folder)/shard-2", "--verbose", "--append=loglevel=5",
            "--append=rcupdate.rcu_expedited=1", "--append=modprobe.blacklist=" + VngCommand.coldplugDrivers.joined(separator: ","),
            "--exec", "/work/main/.build/debug/checker run --results \(pool.folder)/shard-2 --shard 2/2 --profile mainline --seeds 4 --batch 1",
        ])
    }

    @Test("golden: a pool under KVM boots every guest under KVM")
    func kvmGuests() throws {
        let folder = try Self.scratch()
        var template = Self.template(folder: folder)
        template.command.kvm = true
        let pool = try VMPool(folder: folder, jobs: VMPool.shardJobs(["run"], count: 2), template: template, checker: "/c")
        #expect(pool.sessions.allSatisfy { !$0.command.arguments.contains("--disable-kvm") })
        #expect(Array(pool.sessions[0].command.arguments.prefix(6)) == ["-r", "/boot/vmlinuz-6.1.0-50-amd64", "--memory", "2G", "--cpus", "1"])
    }

    @Test("two clean guests merge into the whole run: one report, KTAP and closing line, its status")
    func cleanMerge() async throws {
        let pool = try Self.pool(2)
        let (outcome, notes) = try await Self.run(pool, [
            FakeGuest(summary: Self.shardReport("1/2", seeds: [1, 3])),
            FakeGuest(summary: Self.shardReport("2/2", seeds: [2, 4])),
        ])
        let merged = try Self.merged(pool)
        #expect(merged.batches.map(\.name) == (1...4).map { "vsock.mainline.seeds-\($0)-\($0)" })
        #expect(outcome.conclusion.status == 0)
        #expect(outcome.conclusion.stdout == KTAPReporter.render(merged) + "4 passed, 0 failed\n")
        #expect(try String(contentsOfFile: pool.folder + "/ktap.txt", encoding: .utf8) == KTAPReporter.render(merged))
        #expect(FileManager.default.fileExists(atPath: pool.folder + "/junit.xml"))
        #expect(notes.count == 2 && notes.allSatisfy { $0.hasPrefix("checker vm: guest exited with status 0") })
        #expect(outcome.conclusion.stderr.first?.hasPrefix("checker vm: 2 guests ended after") == true)
    }

    @Test("a guest whose kernel crashed: its finished batches kept, the crash reported under its own name, the others merged")
    func crashedGuest() async throws {
        let pool = try Self.pool(2)
        let (outcome, _) = try await Self.run(pool, [
            FakeGuest(summary: Self.shardReport("1/2", seeds: [1, 3])),
            FakeGuest(summary: Self.shardReport("2/2", seeds: [2]), console: ConsoleSamples.nullDereference,
                      ending: .stoppedAfterCrash),
        ])
        let merged = try Self.merged(pool)
        #expect(merged.batches.map(\.name) == ["vsock.mainline.seeds-1-1", "vsock.mainline.seeds-2-2",
                                               "vsock.mainline.seeds-3-3", "vm.guest.shard-2"])
        let crash = try #require(merged.batches.last)
        #expect(crash.outcome == .fail)
        #expect(crash.reason?.hasPrefix("oops in the guest kernel: BUG: kernel NULL pointer dereference") == true)
        #expect(outcome.conclusion.status == 1)
        #expect(outcome.conclusion.stdout.contains("\nnot ok 4 vm.guest.shard-2\n"))
        #expect(outcome.conclusion.stdout.hasSuffix("3 passed, 1 failed\n"))
        // The guest's own folder holds its completed report, as a single VM's would.
        let guest = try JSONReporter.decode(String(contentsOfFile: pool.sessions[1].file("summary.json"), encoding: .utf8))
        #expect(guest.batches.map(\.name) == ["vsock.mainline.seeds-2-2", "vm.guest.shard-2"])
    }

    @Test("every guest crashed, one before writing anything: the names stay unique, no shard counts as missing")
    func allCrashed() async throws {
        let pool = try Self.pool(2)
        let (outcome, _) = try await Self.run(pool, [
            FakeGuest(summary: Self.shardReport("1/2", seeds: [1]), console: ConsoleSamples.panic, ending: .exited(255)),
            FakeGuest(summary: nil, console: ConsoleSamples.nullDereference, ending: .stoppedAfterCrash),
        ])
        let merged = try Self.merged(pool)
        #expect(merged.batches.map(\.name) == ["vsock.mainline.seeds-1-1", "vm.guest.shard-1", "vm.guest.shard-2"])
        #expect(!merged.batches.contains { $0.name == "merge.shards" })
        #expect(outcome.conclusion.status == 1)
    }

    @Test("a guest killed at the timeout is inconclusive, and so is the merged run")
    func timedOutGuest() async throws {
        let pool = try Self.pool(2)
        let (outcome, _) = try await Self.run(pool, [
            FakeGuest(summary: Self.shardReport("1/2", seeds: [1, 3])),
            FakeGuest(summary: Self.shardReport("2/2", seeds: [2]), ending: .timedOut),
        ])
        #expect(try Self.merged(pool).batches.last?.outcome == .inconclusive)
        #expect(outcome.conclusion.status == 1)
    }

    @Test("guests that refused their arguments: their one line, once, and status 2")
    func refusedArguments() async throws {
        let pool = try Self.pool(2)
        let refusal = "checker: unknown profile 'v9' for target vsock; use one of: mainline, vsock-dgram-v5, vsock-dgram-v5-03"
        let refused = FakeGuest(summary: nil, console: "[    1.000000] booting\n" + refusal + "\n", ending: .exited(2))
        let (outcome, notes) = try await Self.run(pool, [refused, refused])
        #expect(outcome.conclusion.status == 2)
        #expect(outcome.conclusion.stderr == [refusal])
        #expect(notes.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: pool.folder + "/summary.json"))
    }

    @Test("an interrupted pool exits with the signal's status, its reports still merged")
    func interrupted() async throws {
        let pool = try Self.pool(2)
        let (outcome, _) = try await Self.run(pool, [
            FakeGuest(summary: Self.shardReport("1/2", seeds: [1]), ending: .interrupted(2)),
            FakeGuest(summary: Self.shardReport("2/2", seeds: [2]), ending: .interrupted(2)),
        ])
        #expect(outcome.conclusion.status == 130)
        #expect(FileManager.default.fileExists(atPath: pool.folder + "/summary.json"))
    }

    @Test("the failure store: the first guest gets the host's, every guest's new cases come home, none twice")
    func storeRoundTrip() throws {
        let base = try Self.scratch()
        let home = base + "/home-store"
        let old = try CheckerProcess.temporaryFile("{\"old\":1}\n", name: "seed7-socket-result.jsonl")
        try FailureStore(home).save(old, target: "vsock", profile: "mainline")
        let guests = [base + "/shard-1", base + "/shard-2", base + "/shard-3"]
        for guest in guests { try FileManager.default.createDirectory(atPath: guest, withIntermediateDirectories: true) }
        try PoolStore.carry(from: home, toFirstGuest: guests[0])
        #expect(FailureStore(guests[0] + "/store").cases(target: "vsock", profile: "mainline").count == 1)
        #expect(!FileManager.default.fileExists(atPath: guests[1] + "/store"))

        // Guest 1 found the old case fixed; guests 2 and 3 each found the same new case, 3 another.
        let first = FailureStore(guests[0] + "/store")
        try first.markFixed(first.cases(target: "vsock", profile: "mainline")[0])
        let new = try CheckerProcess.temporaryFile("{\"new\":1}\n", name: "seed2-sendto-errno.jsonl")
        let other = try CheckerProcess.temporaryFile("{\"new\":2}\n", name: "seed3-close-refcount.jsonl")
        try FailureStore(guests[1] + "/store").save(new, target: "vsock", profile: "mainline")
        try FailureStore(guests[2] + "/store").save(new, target: "vsock", profile: "mainline")
        try FailureStore(guests[2] + "/store").save(other, target: "vsock", profile: "vsock-dgram-v5")

        try PoolStore.bringHome(guestFolders: guests, to: home)
        let host = FailureStore(home)
        #expect(host.cases(target: "vsock", profile: "mainline").map { URL(fileURLWithPath: $0).lastPathComponent }
                == ["seed2-sendto-errno.jsonl"])
        #expect(host.cases(target: "vsock", profile: "vsock-dgram-v5").count == 1)
        #expect(FileManager.default.fileExists(atPath: home + "/vsock/mainline/fixed/seed7-socket-result.jsonl"))
    }

    @Test("usage errors: --jobs only for run, never with a guest --shard, a positive count", arguments: [
        (["vm", "--jobs", "2", "--", "explain", "--ops", "3"],
         "checker: --jobs splits a 'run' into shards, one per guest, and cannot split 'explain'; drop --jobs, or give -- run ... (see 'checker help')"),
        (["vm", "--jobs", "2", "--", "run", "--shard", "1/2"],
         "checker: --jobs 2 gives guest i the shard i/2 itself; drop the guest's --shard (or drop --jobs to run one shard of a CI split) (see 'checker help')"),
        (["vm", "--jobs", "0", "--", "run"], "checker: --jobs must be a positive number of guests, not 0 (see 'checker help')"),
        (["series", "--patches", "/tmp", "--jobs", "0"],
         "checker: --jobs must be a positive number of test VMs, not 0 (see 'checker help')"),
        (["vm", "--kvm", "--accel", "tcg", "--", "run"],
         "checker: --kvm (the old spelling of --accel kvm) contradicts --accel tcg; give one of them (see 'checker help')"),
    ])
    func usageErrors(arguments: [String], message: String) throws {
        let output = try CheckerProcess.run(arguments)
        #expect(output.status == 2)
        #expect(output.stderr == message + "\n")
        #expect(output.stdout.isEmpty)
    }
}

/// `checker series --jobs N --keep-going`: shares of seeds a guest runs one per test, and what a
/// crashed guest leaves to the next round.
@Suite("checker series --jobs --keep-going: seed progressions")
struct SeedProgressionTests {
    @Test("a progression's run arguments select exactly its seeds (the Shard deal, one seed per batch)",
          arguments: [(1, 21, 1), (1, 21, 2), (2, 21, 2), (8, 101, 4), (5, 6, 3), (10, 40, 7)])
    func argumentsSelectSeeds(first: Int, end: Int, stride: Int) throws {
        let progression = SeedProgression(first: UInt64(first), end: UInt64(end), stride: stride)
        #expect(progression.arguments == ["--seed", "\(first)", "--seeds", "\(end - first)", "--batch", "1", "--shard", "1/\(stride)"])
        let batches = (UInt64(first)..<UInt64(end)).map { [$0] }
        let shard = try #require(Shard(argument: "1/\(stride)"))
        #expect(shard.share(of: batches).flatMap { $0 } == progression.seeds)
    }

    @Test("a range over N guests: the seeds --shard i/N gives, every seed once")
    func split() {
        let shares = SeedProgression.split(from: 1, to: 21, into: 2)
        #expect(shares.map(\.seeds) == [Array(stride(from: 1, to: 21, by: 2)), Array(stride(from: 2, to: 21, by: 2))])
        #expect(SeedProgression.split(from: 1, to: 3, into: 4).count == 2, "never an empty guest")
    }

    @Test("a crash: the seed it was on, and the seeds after it go to the next round, split over the guests")
    func crashLeavesRest() throws {
        let share = SeedProgression(first: 2, end: 21, stride: 2)
        let crashed = try #require(share.crashedSeed(finished: [2, 4]))
        #expect(crashed == 6)
        let rest = try #require(share.after(crashed))
        #expect(rest.seeds == [8, 10, 12, 14, 16, 18, 20])
        let next = SeedProgression.nextRound([rest], guests: 2)
        #expect(next.map(\.seeds) == [[8, 12, 16, 20], [10, 14, 18]])
        #expect(SeedProgression(first: 20, end: 21, stride: 2).after(20) == nil)
        #expect(SeedProgression.nextRound([], guests: 2).isEmpty)
    }

    @Test("a pool guest crashed when its vm.guest test failed; a timeout is not a crash")
    func crashedSeedOfAReport() {
        let share = SeedProgression(first: 1, end: 11, stride: 2)
        var report = VMPoolTests.shardReport("1/2", seeds: [1, 3])
        #expect(Series.crashedSeed(in: report, of: share) == nil)
        report.batches.append(BatchResult(name: "vm.guest.shard-1", seeds: [], operations: 0, outcome: .fail, reason: "oops",
                                          durationSeconds: 1, lostEvents: 0, divergences: []))
        #expect(Series.crashedSeed(in: report, of: share) == 5)
        report.batches[report.batches.count - 1].outcome = .inconclusive
        #expect(Series.crashedSeed(in: report, of: share) == nil)
    }
}
