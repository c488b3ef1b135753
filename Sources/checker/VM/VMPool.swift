import Foundation

/// Several test VMs at once, each running one job of a `checker run`, their reports merged into
/// one: a local, syzkaller-style VM pool (`checker vm --jobs N -- run …`).
///
/// - `--jobs N` makes N jobs: guest i runs `run … --shard i/N`, the round-robin split CI jobs use
///   (``Shard``), so the guests cover every batch exactly once and each batch keeps its name.
/// - All guests start at once, each with the run's `--cpus` and `--memory`, each in its own
///   folder under the run's (`<results>/<timestamp>/shard-i/`: its console.log, summary.json,
///   ktap.txt, junit.xml and cases).
/// - A guest whose kernel crashes, hangs or times out is concluded as a single VM would be (the
///   batches it finished are kept, its `vm.guest` test reports the crash), under a name of its
///   own (`vm.guest.shard-i`); the other guests go on.
/// - When all have ended, their reports are merged as `checker merge` does (``Merge/write``)
///   into the run's folder: summary.json, ktap.txt, junit.xml and cases/. A shard that is
///   missing from the merge fails it (`merge.shards`): the report never passes on partial work.
struct VMPool: Sendable {
    /// One guest's work.
    struct Job: Equatable, Sendable {
        /// The guest's folder under the run's folder, and the suffix of its `vm.guest` test.
        var name: String
        /// The checker arguments the guest runs.
        var arguments: [String]
        /// The share of a split this job runs, checked when merging; nil for jobs that are not
        /// the shards of one split (the leftover seeds of a keep-going round, ``SeedProgression``).
        var shard: Shard?
    }

    /// How one guest is booted and waited for: vng, or a fake in tests.
    typealias Boot = @Sendable (VMSession) async throws -> VMRunner.Outcome

    /// The pool's verdict: the merged one (status, KTAP and closing line, notes) and each guest's.
    struct Outcome: Sendable {
        var conclusion: VMSession.Conclusion
        var guests: [VMSession.Conclusion]
    }

    /// The run's folder: the merged reports, and one subfolder per guest.
    let folder: String
    let jobs: [Job]
    let sessions: [VMSession]

    /// `--jobs N`: guest i runs the arguments with `--shard i/N` right after the subcommand.
    static func shardJobs(_ arguments: [String], count: Int) -> [Job] {
        (1...count).map { index in
            let shard = Shard(index: index, count: count)
            return Job(name: "shard-\(index)", arguments: [arguments[0], "--shard", shard.description] + arguments.dropFirst(),
                       shard: shard)
        }
    }

    /// The guests: each a copy of `template` (kernel, memory, CPUs, accelerator, timeout) with a
    /// folder of its own (created here), its job's arguments and its own guest test name.
    init(folder: String, jobs: [Job], template: VMSession, checker: String) throws {
        self.folder = folder
        self.jobs = jobs
        sessions = try jobs.map { job in
            let guestFolder = URL(fileURLWithPath: folder).appendingPathComponent(job.name).path
            do {
                try FileManager.default.createDirectory(atPath: guestFolder, withIntermediateDirectories: false)
            } catch {
                throw UsageProblem("cannot create \(guestFolder): \(error.localizedDescription); give a writable --results directory")
            }
            var session = template
            session.folder = guestFolder
            session.guestArguments = job.arguments
            session.guestTestName = "\(VMSession.guestBatchName).\(job.name)"
            session.command.resultsFolder = guestFolder
            session.command.guestCommand = VngCommand.guestCommand(checker: checker, arguments: job.arguments,
                                                                   resultsFolder: guestFolder)
            return session
        }
    }

    /// Boots every guest at once, concludes each as it ends (its notes go to `note` then), and
    /// merges their reports into the run's folder.
    func run(boot: @escaping Boot = { try await $0.boot() },
             note: @escaping @Sendable (String) -> Void) async throws -> Outcome {
        let started = ContinuousClock.now
        let ended = try await withThrowingTaskGroup(of: (Int, VMRunner.Outcome, VMSession.Conclusion).self) { group in
            for (index, session) in sessions.enumerated() {
                group.addTask {
                    let outcome = try await boot(session)
                    let conclusion = try session.conclude(outcome)
                    // A guest that refused its arguments is said once, for all, in the verdict.
                    if conclusion.report != nil { conclusion.stderr.forEach(note) }
                    return (index, outcome, conclusion)
                }
            }
            var ended: [(VMRunner.Outcome, VMSession.Conclusion)?] = Array(repeating: nil, count: sessions.count)
            for try await (index, outcome, conclusion) in group { ended[index] = (outcome, conclusion) }
            return ended.compactMap { $0 }
        }
        let conclusion = try verdict(outcomes: ended.map(\.0), guests: ended.map(\.1),
                                     seconds: started.duration(to: .now).seconds)
        return Outcome(conclusion: conclusion, guests: ended.map(\.1))
    }

    /// The merged verdict of the guests' conclusions (in job order).
    func verdict(outcomes: [VMRunner.Outcome], guests: [VMSession.Conclusion], seconds: Double) throws -> VMSession.Conclusion {
        let refused = guests.filter { $0.report == nil }
        if let first = refused.first {
            let lines = refused.flatMap(\.stderr).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            return VMSession.Conclusion(status: first.status, stdout: first.stdout, stderr: lines)
        }
        let reports = zip(jobs, guests).map { job, guest in
            var report = guest.report!
            report.shard = job.shard?.description
            return report
        }
        let merged = try Merge.write(reports, into: try ResultsDirectory(creating: folder), store: nil)
        var status = merged.exitStatus.rawValue
        for outcome in outcomes {
            if case let .interrupted(signal) = outcome.ending { status = 128 + signal }
        }
        let ktap = KTAPReporter.render(merged)
        let took = String(format: "%.1f", seconds)
        let names = jobs.map(\.name)
        return VMSession.Conclusion(
            status: status, stdout: ktap + merged.closingLine + "\n",
            stderr: ["checker vm: \(guests.count) guests ended after \(took) s; merged reports in \(folder) "
                     + "(summary.json, ktap.txt, junit.xml, cases/; each guest's console.log in "
                     + (names.count > 2 ? "\(names[0])/ … \(names[names.count - 1])/" : names.map { $0 + "/" }.joined(separator: ", "))
                     + ")"],
            report: merged)
    }
}
