import ArgumentParser
import Foundation
import Generators
import Model

/// `checker run`: the live check, in the kernel the checker runs on.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the running kernel against the model: generate, run, shrink, report.",
        discussion: """
            Runs generated operation sequences as real syscalls and module loads, observes the \
            transport callbacks through eBPF kprobes and /sys/module/*/refcnt, and shrinks every \
            divergence to a minimal case. It loads and unloads vsock modules, so it runs only as \
            root inside the test VM ('checker vm -- run ...') unless --allow-host is given. \
            Prints KTAP; with --results, writes summary.json, ktap.txt and case files there. \
            Exit status: 0 pass, 1 divergence or inconclusive, 2 usage error, 4 skip.
            """
    )

    @OptionGroup var targetOptions: TargetOptions
    @OptionGroup var generation: GenerationOptions

    @Option(help: "How many seeds to run, from --seed on.")
    var seeds: Int = 1

    @Option(help: "Seeds per reported test (one KTAP line each).")
    var batch: Int = 10

    @Option(help: "The system under test: live (the running kernel).")
    var backend: String = "live"

    @Flag(help: "Run outside the test VM: load and unload modules on this machine.")
    var allowHost = false

    @Option(help: "A directory for summary.json, ktap.txt and case files (created; never overwritten).")
    var results: String?

    @Option(help: "Runs a shrink candidate must reproduce in a row to be adopted.")
    var confirmations: Int = 2

    @Option(help: "Cap on executions while shrinking one divergence.")
    var shrinkExecutions: Int = 400

    @Option(help: "Runs of the minimal case before it is reported.")
    var reproductions: Int = 3

    @Flag(help: "Stop after the first seed that diverges (mutation runs: detected is enough).")
    var stopAtFirstDivergence = false

    @Option(help: ArgumentHelp("A folder of rebuilt modules (<name>.ko) loaded instead of the kernel's own, e.g. the one 'checker series' builds.",
                               valueName: "dir"))
    var modules: String?

    func validate() throws {
        guard seeds > 0, batch > 0, confirmations > 0, shrinkExecutions > 0, reproductions > 0 else {
            throw UsageProblem("--seeds, --batch, --confirmations, --shrink-executions and --reproductions must be positive")
        }
        if let modules {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: modules)) ?? []
            guard files.contains(where: { $0.hasSuffix(".ko") }) else {
                throw UsageProblem("--modules \(modules) holds no .ko files; give the folder of rebuilt modules (checker series --build-only prints it)")
            }
        }
    }

    func run() throws {
        let profile = try targetOptions.vsockProfile()
        guard backend == "live" else { throw UsageProblem("unknown backend '\(backend)'; use --backend live") }
        guard geteuid() == 0 else {
            throw UsageProblem("not root: the live check loads vsock modules and attaches eBPF probes; run it as root in the test VM ('checker vm -- run ...')")
        }
        guard GuestEnvironment.isTestVM || allowHost else {
            throw UsageProblem("refusing to load and unload vsock modules outside the test VM; use 'checker vm -- run ...' or pass --allow-host")
        }
        let output = try results.map(ResultsDirectory.init(creating:))
        let started = Date()
        let hunt = DivergenceHunt(model: VsockModel(profile: profile), generator: VsockOperationGenerator(),
                                  operations: generation.ops, swarm: !generation.noSwarm,
                                  limits: ShrinkLimits(maxExecutions: shrinkExecutions, confirmations: confirmations),
                                  reproductions: reproductions)
        var report = CheckReport(target: "vsock", profile: profile.name, kernel: GuestEnvironment.kernelRelease,
                                 system: "live kernel" + (modules.map { " with modules from \($0)" } ?? ""), startedAt: ISO8601DateFormatter().string(from: started),
                                 durationSeconds: 0, batches: [], probes: [])
        let allSeeds = (0..<UInt64(seeds)).map { generation.seed + $0 }
        let batches = stride(from: 0, to: allSeeds.count, by: batch).map { Array(allSeeds[$0..<min($0 + batch, allSeeds.count)]) }
        let system: LiveVsockSystem
        do {
            system = try LiveVsockSystem(transports: VsockOperationGenerator().modules, replacements: modules)
        } catch let error as SystemError {
            for seedBatch in batches {
                report.batches.append(BatchResult(name: batchName(profile, seedBatch), seeds: seedBatch, operations: 0,
                                                  outcome: .skip, reason: "\(error)", durationSeconds: 0,
                                                  lostEvents: 0, divergences: []))
            }
            return try finish(report, started: started, output: output)
        }
        var progress = output.map { ProgressFile(path: $0.file("progress.txt")) }
        system.willExecute = { progress?.record($0.description) }
        var stopped = false
        for seedBatch in batches where !stopped {
            let batchStart = Date()
            var result = BatchResult(name: batchName(profile, seedBatch), seeds: seedBatch, operations: 0, outcome: .pass,
                                     reason: nil, durationSeconds: 0, lostEvents: 0, divergences: [])
            var reasons: [String] = []
            var seedsRun: [UInt64] = []
            for seed in seedBatch where !stopped {
                seedsRun.append(seed)
                switch hunt.run(seed: seed, on: system) {
                case let .passed(operations):
                    result.operations += operations
                case let .diverged(finding, operations):
                    result.operations += operations
                    result.outcome = .fail
                    let caseFile = try output.map { try $0.writeCase(finding, profile: profile) }
                    result.divergences.append(DivergenceReport(finding, caseFile: caseFile))
                    stopped = stopAtFirstDivergence
                case let .inconclusive(reason, operations):
                    result.operations += operations
                    if result.outcome != .fail { result.outcome = .inconclusive }
                    reasons.append("seed \(seed): \(reason)")
                case let .skipped(reason):
                    if result.outcome == .pass { result.outcome = .skip }
                    reasons.append("seed \(seed): \(reason)")
                }
            }
            if seedsRun.count < seedBatch.count {
                result.seeds = seedsRun
                reasons.append("stopped at the first divergence: seeds \(seedsRun.last! + 1)-\(seedBatch.last!) not run")
            }
            result.reason = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
            result.durationSeconds = Date().timeIntervalSince(batchStart)
            report.batches.append(result)
            // The batches so far, on disk: a guest kernel that crashes later (the checker dies
            // with it) does not take the finished batches' results along.
            if let output {
                var partial = report
                partial.durationSeconds = Date().timeIntervalSince(started)
                partial.operationCounts = operationCounts(system)
                try output.write(JSONReporter.render(partial), to: "summary.json")
            }
        }
        report.probes = system.probeStatuses.values.sorted { $0.function < $1.function }.map(ProbeReport.init)
        report.operationCounts = operationCounts(system)
        // Where the time went, on stderr: stdout is KTAP.
        for (kind, entry) in system.timings.sorted(by: { $0.value.time > $1.value.time }) {
            let milliseconds = Double(entry.time.components.seconds) * 1000 + Double(entry.time.components.attoseconds) / 1e15
            FileHandle.standardError.write(Data("checker: time \(kind): \(entry.count) in \(Int(milliseconds)) ms (\(String(format: "%.1f", milliseconds / Double(entry.count))) ms each)\n".utf8))
        }
        try finish(report, started: started, output: output)
    }

    /// Operations run so far, by kind (resets and shrinking included).
    private func operationCounts(_ system: LiveVsockSystem) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: VsockOperationKind.allCases.compactMap { kind in
            system.timings[kind.rawValue].map { (kind.rawValue, $0.count) }
        })
    }

    private func batchName(_ profile: VsockProfile, _ seeds: [UInt64]) -> String {
        "vsock.\(profile.name).seeds-\(seeds.first!)-\(seeds.last!)"
    }

    /// Prints KTAP and the closing line, writes the files, exits with the kselftest status.
    private func finish(_ partial: CheckReport, started: Date, output: ResultsDirectory?) throws {
        var report = partial
        report.durationSeconds = Date().timeIntervalSince(started)
        let ktap = KTAPReporter.render(report)
        print(ktap, terminator: "")
        if let output {
            try output.write(JSONReporter.render(report), to: "summary.json")
            try output.write(ktap, to: "ktap.txt")
        }
        print(report.closingLine)
        let status = report.exitStatus
        if status != .pass { throw status.exitCode }
    }
}
