import ArgumentParser
import Foundation
import Generators

/// `checker series --patches DIR [--upto N]`: builds the vsock modules of a patch series applied
/// to a Debian base kernel and checks them in the test VM.
struct Series: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply a patch series to a Debian kernel, rebuild its vsock modules, and check them in the test VM.",
        discussion: """
            Fetches the base's linux-source, linux-headers and linux-kbuild packages into the cache \
            (apt-get download: the machine's packages are not touched), applies the series with \
            patch -p1 (fuzz 2), replaces each rejected hunk with the adaptation named \
            <patch number>-<file>-hunk<N>.diff from --adaptations, builds net/vmw_vsock and \
            vhost_vsock out of tree with module BTF, and caches the build by the base and the \
            contents of the series. Then boots the base kernel in the test VM ('checker vm') and \
            runs 'checker run --modules <the build>' with the profile. \
            With --jobs N, N test VMs run at once, each a shard of the seeds, and their reports are \
            merged (as 'checker vm --jobs N' does). \
            Exit status: that of the run (0 pass, 1 divergence or inconclusive, 4 skip); 2 for bad \
            input (a hunk without adaptation names patch, file and hunk); 1 when the series does not build.
            With --kernel-build FLAVOUR the series is applied to the whole tree instead, and a \
            sanitizer kernel of it is built ('checker kernel build', cached the same way) and booted; \
            its own vsock modules are the ones the run loads.
            Example: checker series --patches ../shared/patches/vsock-dgram-v5 --upto 3
            Example: checker series --patches ../shared/patches/vsock-dgram-v5 --seeds 100 --jobs 2 --keep-going
            Example: checker series --patches ../shared/patches/vsock-dgram-v5 --kernel-build kcsan-lockdep
            """
    )

    @Option(help: ArgumentHelp("The Debian kernel version the series is applied to.", valueName: "version"))
    var base: String = "6.1.176-1"

    @Option(help: ArgumentHelp("The folder of the series' .patch files (git format-patch output).", valueName: "dir"))
    var patches: String

    @Option(help: ArgumentHelp("Apply only the first N patches.", valueName: "N"))
    var upto: Int?

    @Option(help: ArgumentHelp("The folder of adaptations for hunks that do not apply to the base (default: the project's series/<patches folder name>/<base>, if there is one).",
                               valueName: "dir"))
    var adaptations: String?

    @Option(help: ArgumentHelp("A patch of your own applied after the series, exactly (e.g. a mutant from series/vsock-dgram-v5/mutants, or a finding's candidate fix); repeat it to apply several, in order.",
                               valueName: "file"))
    var mutant: [String] = []

    @Option(help: "The semantics profile (default: vsock-dgram-v5-03 for --upto 3 or 4, vsock-dgram-v5 otherwise).")
    var profile: String?

    @Option(help: "The first seed.")
    var seed: UInt64 = 1

    @Option(help: "How many seeds to run.")
    var seeds: Int = 10

    @Option(help: "Operations per seed.")
    var ops: Int = 100

    @Option(help: ArgumentHelp("Where fetched packages and builds are kept.", valueName: "dir"))
    var cache: String = CheckerCache.defaultPath

    @Option(help: ArgumentHelp("The folder under which each VM run gets a new timestamped folder.", valueName: "dir"))
    var results: String = VMResultsFolder.defaultBase

    @Option(help: ArgumentHelp("Kill the VM after this many seconds.", valueName: "seconds"))
    var timeout: Int = 3600

    @Flag(help: "Build (or find in the cache) and print the modules folder; do not boot the VM.")
    var buildOnly = false

    @Option(help: ArgumentHelp("Apply the series to the whole tree and build and boot a sanitizer kernel of it (checker kernel build) instead of rebuilding the vsock modules for the stock kernel: kasan, kcsan, lockdep, kasan-lockdep, kcsan-lockdep.",
                               valueName: "flavour"))
    var kernelBuild: String?

    @Flag(help: "Echo the guest console to stderr as it arrives.")
    var showConsole = false

    @Flag(help: "Stop after the first seed that diverges (mutation runs: detected is enough).")
    var stopAtFirstDivergence = false

    @Option(help: ArgumentHelp("Cap on executions while shrinking one divergence (passed to run; each is a live run in the guest).",
                               valueName: "n"))
    var shrinkExecutions: Int?

    @Option(help: ArgumentHelp("Cap on the time spent shrinking one divergence (passed to run).", valueName: "seconds"))
    var shrinkSeconds: Int?

    @Flag(help: ArgumentHelp("When a seed crashes the guest kernel, report it and go on from the next seed in a new VM (long runs).",
                             discussion: """
                                 With --jobs N, each guest runs one seed per test; the seeds a crashed guest left \
                                 unrun (every Nth after the crashed one) run in a new round of the pool, split \
                                 over up to N guests, until none is left. Each round prints its merged report.
                                 """))
    var keepGoing = false

    @Flag(inversion: .prefixedNo,
          help: ArgumentHelp("With --keep-going: reproduce each new crash (by signature) in a fresh test VM, shrink it, run the minimal case 3 more times in fresh test VMs, and keep it in the failure store.",
                             discussion: "Shrink attempts share a test VM until one crashes it (a crash reboots); the shrink is capped by --crash-shrink-seconds. The store's crash cases of the profile run first on every series run, each reported still crashing or fixed."))
    var crashRepro = true

    @Option(help: ArgumentHelp("Cap on the time spent shrinking one crash (finding 2 of docs/vsock-dgram-v5.md took 521 s under TCG).", valueName: "seconds"))
    var crashShrinkSeconds: Int = 1200

    @Option(help: ArgumentHelp("Run N test VMs at once, each a shard of the seeds, and merge their reports (as checker vm --jobs N).",
                               valueName: "N"))
    var jobs: Int = 1

    func validate() throws {
        guard seeds > 0, ops > 0, timeout > 0 else { throw UsageProblem("--seeds, --ops and --timeout must be positive") }
        if let shrinkSeconds, shrinkSeconds <= 0 {
            throw UsageProblem("--shrink-seconds must be a positive number of seconds, not \(shrinkSeconds)")
        }
        if let shrinkExecutions, shrinkExecutions <= 0 {
            throw UsageProblem("--shrink-executions must be a positive number of runs, not \(shrinkExecutions)")
        }
        guard jobs > 0 else { throw UsageProblem("--jobs must be a positive number of test VMs, not \(jobs)") }
        guard crashShrinkSeconds > 0 else {
            throw UsageProblem("--crash-shrink-seconds must be a positive number of seconds, not \(crashShrinkSeconds); --no-crash-repro turns crash reproduction off")
        }
        if let kernelBuild, KernelFlavour(name: kernelBuild) == nil {
            throw UsageProblem("--kernel-build \(kernelBuild) is not a kernel flavour; give one of: \(KernelFlavour.names.joined(separator: ", "))")
        }
        for file in mutant where !FileManager.default.isReadableFile(atPath: file) {
            throw UsageProblem("--mutant \(file) cannot be read; give the path of a patch file")
        }
        if let adaptations {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: adaptations, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw UsageProblem("--adaptations \(adaptations) is not a folder; give the folder of <patch>-<file>-hunk<N>.diff files")
            }
        }
    }

    func run() throws {
        let series = try PatchSeries(folder: patches, upTo: upto)
        let profileName = profile ?? ((upto.map { $0 < 5 } ?? false) ? "vsock-dgram-v5-03" : "vsock-dgram-v5")
        _ = try TargetOptions.parse(["--profile", profileName]).vsockProfile()
        let kernel = try DebianBaseKernel.resolve(base)
        let adaptationFolder = adaptations ?? Self.bundledAdaptations(series: series.folder, base: base)
        let build = SeriesBuild(base: kernel, series: series, adaptations: adaptationFolder,
                                mutants: mutant.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                                cache: URL(fileURLWithPath: cache).standardizedFileURL.path)
        let built: SeriesBuild.Built
        let image: String
        do {
            if let flavour = kernelBuild.flatMap(KernelFlavour.init(name:)) {
                // The whole tree patched and built with the sanitizers; its vsock modules are the
                // series' (the run loads them as it loads a module build's).
                let whole = try KernelBuild(base: kernel, flavour: flavour,
                                            series: .init(series: series, adaptations: adaptationFolder, mutants: build.mutants),
                                            cache: build.cache, jobs: ProcessInfo.processInfo.activeProcessorCount).build { say($0) }
                say((whole.reused ? "reusing " : "built ") + "the \(flavour) kernel \(whole.release) of the patched tree: \(whole.image)")
                image = whole.image
                built = SeriesBuild.Built(folder: whole.folder, modules: whole.vsockModules, report: whole.report, reused: whole.reused)
            } else {
                image = try kernel.ensureImage(cache: build.cache) { say($0) }
                built = try build.build { say($0) }
            }
        } catch let failure as SeriesFailure {
            FileHandle.standardError.write(Data("checker: \(failure.message)\n".utf8))
            throw ExitCode(ExitStatus.divergence.rawValue)
        } catch let failure as KernelBuildFailure {
            FileHandle.standardError.write(Data("checker: \(failure.message)\n".utf8))
            throw ExitCode(ExitStatus.divergence.rawValue)
        }
        say((built.reused ? "reusing " : "built ") + "\(built.modules) (\(series.patches.count) patches on Debian \(base)"
            + (adaptationFolder.map { ", adaptations from \($0)" } ?? "") + ")")
        for line in built.report { say("  " + line) }
        if buildOnly {
            print(built.modules)
            return
        }
        let runArguments = ["run", "--profile", profileName, "--modules", built.modules, "--ops", String(ops)]
            + (stopAtFirstDivergence ? ["--stop-at-first-divergence"] : [])
            + (shrinkExecutions.map { ["--shrink-executions", String($0)] } ?? [])
            + (shrinkSeconds.map { ["--shrink-seconds", String($0)] } ?? [])
        let vm = try VM.parse(["--kernel", image, "--results", results, "--timeout", String(timeout)]
                              + (showConsole ? ["--show-console"] : []) + ["--"] + runArguments)
        let accelerator = try VM.blocking { try await vm.chooseAccelerator() }
        // Crash attempts replay one case: a guest that hangs is killed after 5 minutes.
        let attemptVM = try VM.parse(["--kernel", image, "--results", results, "--timeout", "300", "--", "replay"])
        let crashFollowUp: CrashFollowUp = { signature, guest, folder, seed in
            self.reproduceCrash(signature, guest: guest, guestFolder: folder, seed: seed, vm: attemptVM, accelerator: accelerator,
                                profile: profileName, modules: built.modules)
        }
        var crashes = CrashLedger()
        defer { sayCrashes(crashes) }
        // The store's crash cases first, each in a guest of its own: a bug they still hit is
        // known before a seed hits it again.
        var worst = try replayStoredCrashes(vm: attemptVM, accelerator: accelerator, profile: profileName,
                                            modules: built.modules, into: &crashes)
        if jobs > 1 {
            worst = Self.worse(worst, try keepGoing
                ? runPoolRounds(vm, runArguments, accelerator: accelerator, crashes: &crashes, crashFollowUp: crashFollowUp)
                : runPool(vm, runArguments, accelerator: accelerator))
        } else {
            worst = Self.worse(worst, try runOneVMAtATime(vm, runArguments, accelerator: accelerator, crashes: &crashes,
                                                          crashFollowUp: crashFollowUp))
        }
        if worst != 0 { throw ExitCode(worst) }
    }

    /// The failure store's crash cases of the profile, replayed on the series' modules before
    /// its seeds (``StoredCrashes``): their report (`<results>/stored-crashes/`) and its status;
    /// 0 and nothing printed when there are none.
    private func replayStoredCrashes(vm: VM, accelerator: AcceleratorChoice, profile: String, modules: String,
                                     into crashes: inout CrashLedger) throws -> Int32 {
        guard let root = FailureStore.defaultPath else { return 0 }
        let stored = StoredCrashes(store: FailureStore(root), profile: profile)
        let found = stored.cases()
        guard !found.cases.isEmpty || !found.unreadable.isEmpty else { return 0 }
        let base = URL(fileURLWithPath: results).standardizedFileURL
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        let folder = try VMResultsFolder.createUnused(base.appendingPathComponent("stored-crashes").path)
        say("the failure store \(root) keeps crash cases of \(profile): each runs first, in test VMs of their own")
        let reproduction = try CrashReproduction(vm: vm, accelerator: accelerator, profile: profile, modules: modules, work: folder)
        guard let outcome = try stored.replay(found, using: reproduction, note: { self.say("  " + $0) }) else { return 0 }
        for (signature, path) in outcome.stillCrashing { crashes.know(signature, storedCase: path) }
        let report = crashReport([outcome.batch], profile: profile, seconds: outcome.batch.durationSeconds)
        return try write(report, to: folder)
    }

    /// A report of crash tests (not a guest's run): the kernel and system they ran on.
    private func crashReport(_ batches: [BatchResult], profile: String, seconds: Double) -> CheckReport {
        let kernel = (try? DebianBaseKernel.resolve(base))?.kernel.release ?? base
        return CheckReport(target: CheckTarget.vsock.rawValue, profile: profile, kernel: kernel,
                           system: "test VMs (virtme-ng), the series' modules",
                           startedAt: ISO8601DateFormatter().string(from: Date(timeIntervalSinceNow: -seconds)),
                           durationSeconds: seconds, batches: batches)
    }

    /// Prints `report`'s KTAP and closing line, writes summary.json, ktap.txt and junit.xml into
    /// `folder`; its exit status.
    private func write(_ report: CheckReport, to folder: String) throws -> Int32 {
        let ktap = KTAPReporter.render(report)
        let output = URL(fileURLWithPath: folder)
        try JSONReporter.render(report).write(to: output.appendingPathComponent("summary.json"), atomically: true, encoding: .utf8)
        try ktap.write(to: output.appendingPathComponent("ktap.txt"), atomically: true, encoding: .utf8)
        try JUnitReporter.render(report).write(to: output.appendingPathComponent("junit.xml"), atomically: true, encoding: .utf8)
        print(ktap + report.closingLine)
        fflush(nil)   // every C stream: stdout before the notes on stderr
        say("reports in \(folder) (summary.json, ktap.txt, junit.xml)")
        return report.exitStatus.rawValue
    }

    /// One VM for the seeds; with --keep-going, a new one from the seed after each crash.
    private func runOneVMAtATime(_ vm: VM, _ runArguments: [String], accelerator: AcceleratorChoice,
                                 crashes: inout CrashLedger, crashFollowUp: CrashFollowUp) throws -> Int32 {
        var next = seed
        let end = seed + UInt64(seeds)
        var worst: Int32 = 0
        while next < end {
            let arguments = runArguments + ["--seed", String(next), "--seeds", String(end - next)]
                + (keepGoing ? ["--batch", "1"] : [])
            let session = try vm.prepare(accelerator: accelerator, arguments: arguments)
            let status = try VM.wait(for: session)
            try vm.bringStoreHome(from: [session.folder])
            worst = Self.worse(worst, status)
            guard keepGoing, let summary = Self.summary(at: session.file("summary.json")),
                  let crashed = Self.crashedSeed(in: summary, from: next) else { break }
            let guest = summary.crashedGuest
            let signature = guest?.crashSignature
            let sighting = signature.map { crashes.record($0, seed: crashed) }
            say("seed \(crashed) crashed the guest kernel (reported above"
                + (signature.map { "; " + CrashLedger.describe($0, sighting!) } ?? "") + ")")
            if let signature, let guest, sighting == .new { worst = Self.worse(worst, crashFollowUp(signature, guest, session.folder, crashed)) }
            say("going on from seed \(crashed + 1) in a new VM")
            next = crashed + 1
        }
        return worst
    }

    /// --jobs N: one pool, guest i running shard i/N of the seeds; a crash is reported, its
    /// shard's later seeds are not run.
    private func runPool(_ vm: VM, _ runArguments: [String], accelerator: AcceleratorChoice) throws -> Int32 {
        let arguments = runArguments + ["--seed", String(seed), "--seeds", String(seeds)]
        let pool = try vm.preparePool(VMPool.shardJobs(arguments, count: jobs), accelerator: accelerator)
        say("\(jobs) test VMs at once, VM i running shard i/\(jobs); merged results in \(pool.folder)")
        let outcome = try VM.blocking { try await pool.run(note: VM.printError) }
        outcome.conclusion.say()
        try vm.bringStoreHome(from: pool.sessions.map(\.folder))
        return outcome.conclusion.status
    }

    /// --jobs N --keep-going: rounds of the pool. Each guest runs a share of the seeds one per
    /// test (``SeedProgression``); the seeds a crashed guest left unrun make the next round.
    private func runPoolRounds(_ vm: VM, _ runArguments: [String], accelerator: AcceleratorChoice,
                               crashes: inout CrashLedger, crashFollowUp: CrashFollowUp) throws -> Int32 {
        var shares = SeedProgression.split(from: seed, to: seed + UInt64(seeds), into: jobs)
        var worst: Int32 = 0
        var round = 1
        while !shares.isEmpty {
            let poolJobs = shares.enumerated().map { index, share in
                VMPool.Job(name: "shard-\(index + 1)", arguments: runArguments + share.arguments, shard: nil)
            }
            let pool = try vm.preparePool(poolJobs, accelerator: accelerator)
            say("round \(round): \(shares.count) test VMs at once (" + zip(poolJobs, shares).map { "\($0.name): \($1)" }
                .joined(separator: "; ") + "); merged results in \(pool.folder)")
            let outcome = try VM.blocking { try await pool.run(note: VM.printError) }
            outcome.conclusion.say()
            try vm.bringStoreHome(from: pool.sessions.map(\.folder))
            worst = Self.worse(worst, outcome.conclusion.status)
            var leftovers: [SeedProgression] = []
            for (job, (share, (guest, session))) in zip(poolJobs, zip(shares, zip(outcome.guests, pool.sessions))) {
                guard let report = guest.report, let crashed = Self.crashedSeed(in: report, of: share) else { continue }
                let rest = share.after(crashed)
                let crashedGuest = report.crashedGuest
                let signature = crashedGuest?.crashSignature
                let sighting = signature.map { crashes.record($0, seed: crashed) }
                say("seed \(crashed) crashed the guest kernel of \(job.name) (reported above as vm.guest.\(job.name)"
                    + (signature.map { "; " + CrashLedger.describe($0, sighting!) } ?? "") + ")"
                    + (rest.map { "; its \($0) go on in the next round" } ?? ""))
                if let signature, let crashedGuest, sighting == .new {
                    worst = Self.worse(worst, crashFollowUp(signature, crashedGuest, session.folder, crashed))
                }
                if let rest { leftovers.append(rest) }
            }
            shares = SeedProgression.nextRound(leftovers, guests: jobs)
            round += 1
        }
        return worst
    }

    /// The seed a crashed guest of a pool round was on, or nil when it did not crash (a guest
    /// test that failed: an oops, panic, BUG or WARNING; a timeout is inconclusive, not a crash).
    static func crashedSeed(in report: CheckReport, of share: SeedProgression) -> UInt64? {
        let isGuestTest = { (batch: BatchResult) in batch.name.hasPrefix(VMSession.guestBatchName) }
        guard report.batches.contains(where: { isGuestTest($0) && $0.outcome == .fail }) else { return nil }
        return share.crashedSeed(finished: report.batches.filter { !isGuestTest($0) }.flatMap(\.seeds))
    }

    /// What happens after a new bug crashed a guest: its signature, the guest's test (the console
    /// excerpt), the guest's folder, the seed; the exit status of what it reported (0: nothing).
    typealias CrashFollowUp = (CrashSignature, BatchResult, String, UInt64) -> Int32

    /// A new crash, with --keep-going: reproduced in test VMs from the crashed guest's journal,
    /// shrunk, and its minimal case run 3 more times in fresh guests (``CrashReproduction``); the
    /// cases and the crash's report go to `<results>/crashes/seed<N>/`, and the minimal case to
    /// the failure store, to be run first next time (``StoredCrashes``).
    private func reproduceCrash(_ signature: CrashSignature, guest: BatchResult, guestFolder: String, seed: UInt64, vm: VM,
                                accelerator: AcceleratorChoice, profile: String, modules: String) -> Int32 {
        guard keepGoing, crashRepro else { return 0 }
        guard let original = CrashReproduction.journaled(in: guestFolder) else {
            say("seed \(seed): the crashed guest left no journal of its operations (\(guestFolder)/\(ExecutionJournal.fileName)); not reproduced")
            return 0
        }
        do {
            // A folder of its own: an earlier run's crash of the same seed stays as it was.
            let crashes = URL(fileURLWithPath: results).standardizedFileURL.appendingPathComponent("crashes")
            try FileManager.default.createDirectory(at: crashes, withIntermediateDirectories: true)
            let work = try VMResultsFolder.createUnused(crashes.appendingPathComponent("seed\(seed)").path)
            let reproduction = try CrashReproduction(vm: vm, accelerator: accelerator, profile: profile, modules: modules, work: work)
            let originalCase = try reproduction.writeCase(original, name: "original.jsonl", seed: seed)
            say("seed \(seed): reproducing \(signature.title) in test VMs from its \(original.count) operations (\(originalCase)); "
                + "shrink capped at \(crashShrinkSeconds) s")
            let limits = ShrinkLimits(maxExecutions: 1_000, timeLimit: .seconds(crashShrinkSeconds), confirmations: 1)
            let outcome = try reproduction.reproduce(signature, original: original, limits: limits) { self.say("  seed \(seed): " + $0) }
            let minimalCase = try reproduction.writeCase(outcome.minimal, name: "minimal.jsonl", seed: seed,
                                                         crash: outcome.confirmed ? signature.title : nil)
            var lines = ["crash of seed \(seed): signature: \(signature)"]
            if outcome.confirmed {
                let cap = outcome.shrinkExit.map { $0 == .fixpoint ? "minimal for the shrink passes" : "STOPPED: \($0.rawValue) hit" } ?? ""
                lines.append("  minimal sequence (\(outcome.minimal.count) operations of \(original.count); \(outcome.shrinkAttempts) attempts in "
                             + String(format: "%.0f s", outcome.shrinkSeconds) + ", \(cap)); reproduced \(outcome.reproduced)/\(outcome.reruns) in fresh guests;"
                             + " \(outcome.attempts) attempts in all ran in \(outcome.guests) guests:")
                lines += outcome.minimal.enumerated().map { "    \($0.offset + 1) \($0.element)" }
            } else {
                lines.append("  NOT reproduced: the \(original.count) operations did not crash a fresh guest with the same bug (flaky, or a crash that needs what came before them)")
            }
            lines.append("  case: \(minimalCase)")
            lines.append("  replay: checker vm --kernel \(vm.kernel) -- replay \(minimalCase) --on live --modules \(modules)")
            if outcome.confirmed {
                // The C reproducer, run alone in a fresh guest: the same bug, or it says what it did.
                let source = VsockReproducer(crash: signature, operations: outcome.minimal,
                                             title: "seed \(seed), \(signature.title), under profile \(profile)",
                                             replacements: Run.replacementFiles(modules)).source()
                let program = try reproduction.runProgram(source: source, name: "minimal.c")
                let verdict = program.problem
                    ?? (program.signature.map { $0.isSameBug(as: signature) ? "crashed a fresh guest with the same bug"
                                                    : "crashed a fresh guest with ANOTHER bug: \($0.title)" }
                        ?? "did NOT crash a fresh guest")
                lines.append("  reproducer: \(work)/minimal.c (cc -o repro minimal.c && ./repro, as root in the test VM): \(verdict)")
                if let root = FailureStore.defaultPath {
                    let stored = try FailureStore(root).save(content: Data(contentsOf: URL(fileURLWithPath: minimalCase)),
                                                             stem: "crash-seed\(seed)", target: CheckTarget.vsock.rawValue, profile: profile)
                    lines.append("  kept in the failure store: \(stored) (the next checker series of this profile runs it first)")
                }
            }
            for (index, (other, operations)) in outcome.otherBugs.enumerated() {
                let path = try reproduction.writeCase(operations, name: "other-bug-\(index + 1).jsonl", seed: seed)
                lines.append("  another bug a candidate hit: \(other) (case: \(path))")
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: work + "/report.txt", atomically: true, encoding: .utf8)
            for line in lines { say(line) }
            // The crash as a test of its own: KTAP, JUnit and JSON beside the cases.
            let consoleExcerpt = guest.diagnostics.drop { !$0.hasPrefix("console:") }
            let batch = BatchResult(
                name: "vsock.\(profile).crash.seed\(seed)", seeds: [seed], operations: outcome.minimal.count, outcome: .fail,
                reason: "kernel crash: \(signature.title); " + (outcome.confirmed
                    ? "minimal sequence \(outcome.minimal.count) operations, reproduced \(outcome.reproduced)/\(outcome.reruns) in fresh guests"
                    : "not reproduced in a fresh guest"),
                durationSeconds: outcome.shrinkSeconds, lostEvents: 0, divergences: [],
                diagnostics: lines.dropFirst().map { String($0.dropFirst(2)) } + consoleExcerpt, crashSignature: signature)
            return try write(crashReport([batch], profile: profile, seconds: outcome.shrinkSeconds), to: work)
        } catch {
            say("seed \(seed): crash reproduction stopped: \(error)")
            return ExitStatus.divergence.rawValue
        }
    }

    /// The closing list of the kernel bugs the run hit, one line each, deduplicated by signature.
    private func sayCrashes(_ crashes: CrashLedger) {
        guard !crashes.entries.isEmpty else { return }
        let total = crashes.entries.reduce(0) { $0 + $1.seeds.count }
        say("\(total) crash\(total == 1 ? "" : "es") of the guest kernel, \(crashes.entries.count) distinct by signature:")
        for line in crashes.summary { say("  signature: " + line) }
    }

    /// The more serious of two exit statuses: divergence (1) over skip (4) over pass (0); a
    /// usage error (2) or a signal's status wins.
    static func worse(_ a: Int32, _ b: Int32) -> Int32 {
        let rank: (Int32) -> Int = { $0 == 0 ? 0 : $0 == ExitStatus.skip.rawValue ? 1 : $0 == ExitStatus.divergence.rawValue ? 2 : 3 }
        return rank(b) > rank(a) ? b : a
    }

    /// With one seed per batch, the seed a crashed guest was running: the first one after the
    /// batches it finished. nil when the guest did not crash.
    static func crashedSeed(in summaryFile: String, from first: UInt64) -> UInt64? {
        summary(at: summaryFile).flatMap { crashedSeed(in: $0, from: first) }
    }

    static func crashedSeed(in summary: CheckReport, from first: UInt64) -> UInt64? {
        guard let guest = summary.batches.first(where: { $0.name == "vm.guest" }), guest.outcome == .fail else { return nil }
        let finished = summary.batches.filter { $0.name != "vm.guest" }.flatMap(\.seeds)
        return (finished.max().map { $0 + 1 }) ?? first
    }

    /// A guest's summary.json, decoded; nil when it is missing or unreadable.
    static func summary(at file: String) -> CheckReport? {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return try? JSONReporter.decode(text)
    }

    private func say(_ line: String) {
        FileHandle.standardError.write(Data("checker series: \(line)\n".utf8))
    }

    /// The project's adaptations for a series it knows: `series/<patches folder name>/<base>/` in
    /// the checkout the running checker was built from (`.build/<config>/checker`), else in the
    /// current directory.
    static func bundledAdaptations(series folder: String, base: String) -> String? {
        var project = URL(fileURLWithPath: VM.executablePath()).deletingLastPathComponent()
        for _ in 0..<4 where !FileManager.default.fileExists(atPath: project.appendingPathComponent("Package.swift").path) {
            project = project.deletingLastPathComponent()
        }
        let relative = "series/\(URL(fileURLWithPath: folder).lastPathComponent)/\(base)"
        return [project.path, FileManager.default.currentDirectoryPath]
            .map { $0 + "/" + relative }
            .first { FileManager.default.fileExists(atPath: $0) }
    }
}
