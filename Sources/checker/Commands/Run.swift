import ArgumentParser
import Foundation
import Generators
import Model

/// `checker run`: the live check, in the kernel the checker runs on.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a kernel behaviour against its model: generate, run, shrink, report.",
        discussion: """
            --target vsock (live): generated syscalls and module loads, transport callbacks \
            observed through eBPF kprobes and /sys/module/*/refcnt; it loads and unloads vsock \
            modules, so it runs only as root inside the test VM ('checker vm -- run ...') unless \
            --allow-host is given. --target snp (harness): the functions an SNP patch adds \
            (--patch, default the v8 48/56 seed), compiled in user space against a simulated RMP \
            and restricted memfd. --target memory-attributes (live): KVM_SET_MEMORY_ATTRIBUTES on \
            a VM created through /dev/kvm. Every divergence is shrunk to a minimal case. Prints \
            KTAP; with --results, writes summary.json, ktap.txt and case files there. \
            Exit status: 0 pass, 1 divergence or inconclusive, 2 usage error, 4 skip.
            """
    )

    @OptionGroup var targetOptions: TargetOptions
    @OptionGroup var generation: GenerationOptions
    @OptionGroup var parallelOptions: ParallelOptions

    @Option(help: "How many seeds to run, from --seed on.")
    var seeds: Int = 1

    @Option(help: "Seeds per reported test (one KTAP line each).")
    var batch: Int = 10

    @Option(help: ArgumentHelp("Run only share I of N of the batches (1-based), for N CI jobs; 'checker merge' combines their results.",
                               valueName: "I/N"))
    var shard: Shard?

    @Option(help: "The system under test: live (the running kernel; vsock, memory-attributes) or harness (the patch's own code in user space; snp).")
    var backend: String?

    @Option(help: ArgumentHelp("The SNP patch whose functions the harness compiles (default: the v8 48/56 seed); with --source, a patch applied to that tree's sev.c first.", valueName: "file"))
    var patch: String?

    @Option(help: ArgumentHelp("How long one call into a patch's code may take before it is reported as a hang (--target snp).",
                               valueName: "seconds"))
    var callTimeout: Int = 10

    @Option(help: ArgumentHelp("--profile snp-gmem: the kernel tree, or the Debian version of linux-source (6.12.111, 6.12.111-1~deb12u1), whose arch/x86/kvm/svm/sev.c guest_memfd hooks the harness compiles.",
                               valueName: "tree|version"))
    var source: String?

    @Option(help: ArgumentHelp("--profile snp-gmem: the largest folio order drawn (0: only what 6.12's guest_memfd allocates; 9, 10, 11: the large-folio world).",
                               valueName: "order"))
    var maxFolioOrder: Int = GmemOperationGenerator.orders.last!

    @Flag(help: "Run outside the test VM: load and unload modules on this machine.")
    var allowHost = false

    @Option(help: "A directory for summary.json, ktap.txt and case files (created; never overwritten).")
    var results: String?

    @Option(help: "Runs a shrink candidate must reproduce in a row to be adopted.")
    var confirmations: Int = 2

    @Option(help: "Cap on executions while shrinking one divergence.")
    var shrinkExecutions: Int = 400

    @Option(help: ArgumentHelp("Cap on the time spent shrinking one divergence; a shrink that hits it says so.",
                               valueName: "seconds"))
    var shrinkSeconds: Int = 300

    @Option(help: "Runs of the minimal case before it is reported.")
    var reproductions: Int = 3

    @Flag(help: "Stop after the first seed that diverges (mutation runs: detected is enough).")
    var stopAtFirstDivergence = false

    @Option(help: ArgumentHelp("A folder of rebuilt modules (<name>.ko) loaded instead of the kernel's own, e.g. the one 'checker series' builds.",
                               valueName: "dir"))
    var modules: String?

    @Option(help: ArgumentHelp("The failure store: shrunk cases are kept here and run again first next time (default: ~/.cache/checker/failures, or $CHECKER_FAILURE_STORE; 'none' turns it off).",
                               valueName: "dir"))
    var store: String?

    @Option(help: ArgumentHelp("Load a module with modprobe first, e.g. kvm_amd for --target memory-attributes in the test VM (repeatable).",
                               valueName: "name"))
    var loadModule: [String] = []

    func validate() throws {
        try Modprobe.validate(loadModule)
        guard seeds > 0, batch > 0, confirmations > 0, shrinkExecutions > 0, shrinkSeconds > 0, reproductions > 0, callTimeout > 0 else {
            throw UsageProblem("--seeds, --batch, --confirmations, --shrink-executions, --shrink-seconds, --reproductions and --call-timeout must be positive")
        }
        guard GmemOperationGenerator.orders.contains(maxFolioOrder) else {
            throw UsageProblem("--max-folio-order \(maxFolioOrder) is not a folio order the generator draws; use one of "
                               + GmemOperationGenerator.orders.map(String.init).joined(separator: ", "))
        }
        if let modules {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: modules)) ?? []
            guard files.contains(where: { $0.hasSuffix(".ko") }) else {
                throw UsageProblem("--modules \(modules) holds no .ko files; give the folder of rebuilt modules (checker series --build-only prints it)")
            }
        }
    }

    func run() throws {
        let target = try targetOptions.checkedTarget()
        if parallelOptions.parallel && target != .vsock {
            throw UsageProblem("--parallel is for --target vsock (the live kernel's sockets and modules); drop it for \(targetOptions.target)")
        }
        for name in loadModule {
            FileHandle.standardError.write(Data("checker: \(Modprobe.load(name))\n".utf8))
        }
        switch target {
        case .vsock: try runVsock()
        case .snp: try runSNP()
        case .memoryAttributes: try runMemoryAttributes()
        }
    }

    /// The failure store this run uses. In the test VM: the copy `checker vm` put in the results
    /// folder (the guest's own filesystem does not outlive it).
    var failureStore: FailureStore? {
        if store == "none" { return nil }
        if let store { return FailureStore(store) }
        if GuestEnvironment.isTestVM {
            return results.map { FailureStore($0 + "/store") }
        }
        return FailureStore.defaultPath.map(FailureStore.init)
    }

    /// The stored cases of this target and profile, run first (nil: none stored). Of a sharded
    /// run, only shard 1 runs them: N shards (CI jobs, `checker vm --jobs N`) run them once.
    func storedCases<Model: ReferenceModel>(_ model: Model, profile: String,
                                                    on system: some EvidencedSystem<Model>) -> BatchResult? {
        guard shard.map({ $0.index == 1 }) ?? true else { return nil }
        return failureStore.flatMap { StoredCases(store: $0, target: targetOptions.target, profile: profile, model: model).replay(on: system) }
    }

    var allSeeds: [UInt64] { (0..<UInt64(seeds)).map { generation.seed + $0 } }

    func limits() -> ShrinkLimits {
        ShrinkLimits(maxExecutions: shrinkExecutions, timeLimit: .seconds(shrinkSeconds), confirmations: confirmations)
    }

    func batches<G: OperationGenerator>(_ hunt: DivergenceHunt<G>, prefix: String, profile: String, system: String,
                                                output: ResultsDirectory?) -> SeedBatches<G> {
        SeedBatches(hunt: hunt, namePrefix: prefix, seeds: allSeeds, batchSize: batch,
                    stopAtFirstDivergence: stopAtFirstDivergence, shard: shard, output: output, caseTarget: targetOptions.target,
                    caseProfile: profile, caseSystem: system, store: failureStore)
    }

    func requireBackend(_ known: [String], for target: String) throws -> String {
        let chosen = backend ?? known[0]
        guard known.contains(chosen) else {
            throw UsageProblem("unknown backend '\(chosen)' for target \(target); use " + known.map { "--backend \($0)" }.joined(separator: " or "))
        }
        return chosen
    }

    /// The vsock transport fallback: real syscalls and module loads, observed by kprobes.
    private func runVsock() throws {
        let profile = try targetOptions.vsockProfile()
        _ = try requireBackend(["live"], for: "vsock")
        guard geteuid() == 0 else {
            throw UsageProblem("not root: the live check loads vsock modules and attaches eBPF probes; run it as root in the test VM ('checker vm -- run ...')")
        }
        guard GuestEnvironment.isTestVM || allowHost else {
            throw UsageProblem("refusing to load and unload vsock modules outside the test VM; use 'checker vm -- run ...' or pass --allow-host")
        }
        let output = try results.map(ResultsDirectory.init(creating:))
        let started = Date()
        if parallelOptions.parallel { return try runVsockParallel(profile, output: output, started: started) }
        let hunt = DivergenceHunt(model: VsockModel(profile: profile), generator: VsockOperationGenerator(),
                                  operations: generation.ops, swarm: !generation.noSwarm, limits: limits(),
                                  reproductions: reproductions)
        let systemName = "live kernel" + (modules.map { " with modules from \($0)" } ?? "")
        var report = CheckReport(target: "vsock", profile: profile.name, kernel: GuestEnvironment.kernelRelease,
                                 system: systemName, startedAt: ISO8601DateFormatter().string(from: started),
                                 durationSeconds: 0, batches: [], probes: [])
        var seedBatches = batches(hunt, prefix: "vsock.\(profile.name)", profile: profile.name,
                                  system: "live kernel \(GuestEnvironment.kernelRelease)", output: output)
        let replacements = modules.map(Self.replacementFiles) ?? [:]
        seedBatches.reproducer = { finding in
            VsockReproducer(minimal: finding.minimal, mismatch: finding.signature.mismatch, expected: finding.expected,
                            title: "seed \(finding.seed), \(finding.signature) under profile \(profile.name)",
                            replacements: replacements).source()
        }
        let system: LiveVsockSystem
        do {
            system = try LiveVsockSystem(transports: VsockOperationGenerator().modules, replacements: modules)
        } catch let error as SystemError {
            seedBatches.skipped("\(error)", into: &report)
            return try report.finish(started: started, output: output)
        }
        var progress = output.map { ProgressFile(path: $0.file("progress.txt")) }
        system.willExecute = { progress?.record($0.description) }
        system.journal = output.map {
            ExecutionJournal(path: $0.file(ExecutionJournal.fileName),
                             header: .init(target: "vsock", profile: profile.name, system: systemName))
        }
        if let stored = storedCases(hunt.model, profile: profile.name, on: system) { report.batches.append(stored) }
        try seedBatches.run(on: system, into: &report, started: started) {
            $0.operationCounts = operationCounts(system)
            $0.outcomeCounts = system.outcomes
        }
        try finishLive(&report, system: system, started: started, output: output)
    }

    /// A live vsock run's end, sequential or parallel: the probes, what ran, where the time went
    /// (on stderr, as stdout is KTAP, and in timing.txt, as a guest's stderr reaches the host
    /// through its serial console, which can drop lines), then the reports.
    func finishLive(_ report: inout CheckReport, system: LiveVsockSystem, started: Date, output: ResultsDirectory?) throws {
        report.probes = system.probeStatuses.values.sorted { $0.function < $1.function }.map(ProbeReport.init)
        report.operationCounts = operationCounts(system)
        report.outcomeCounts = system.outcomes
        let timing = system.ledger.lines()
        for line in timing { FileHandle.standardError.write(Data(("checker: time " + line + "\n").utf8)) }
        try output?.write(timing.joined(separator: "\n") + "\n", to: "timing.txt")
        try report.finish(started: started, output: output)
    }

    /// `<name>.ko` files of a `--modules` folder, by module name.
    static func replacementFiles(_ folder: String) -> [String: String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return Dictionary(uniqueKeysWithValues: files.filter { $0.hasSuffix(".ko") }.map {
            (String($0.dropLast(3)), URL(fileURLWithPath: folder).appendingPathComponent($0).path)
        })
    }

    /// Operations run so far, by kind (resets and shrinking included).
    private func operationCounts(_ system: LiveVsockSystem) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: VsockOperationKind.allCases.compactMap { kind in
            system.ledger[kind.rawValue].map { (kind.rawValue, $0.count) }
        })
    }

    /// SNP memory attribute updates: the patch's own functions, compiled against the shim.
    func runSNP() throws {
        let profile = try targetOptions.snpProfile()
        if profile == TargetOptions.snpGmemProfile { return try runSNPGmem() }
        if let source {
            throw UsageProblem("--source \(source) is for --profile \(TargetOptions.snpGmemProfile) (mainline's guest_memfd hooks); profile \(profile) checks a patch's functions, give it --patch alone")
        }
        _ = try requireBackend(["harness"], for: "snp")
        // The patch's code runs in a sandboxed child process, never in the checker's own.
        let harness = try SandboxedHarness(snpV8: try SNPHarnessSystem.build(patch: try SNPHarnessSystem.patchPath(patch)),
                                           callBound: .seconds(callTimeout))
        try runHarness(harness, model: SNPModel(), generator: SNPOperationGenerator(), profile: profile)
    }

    /// A check of C code in the harness's sandboxed child (snp-v8, snp-gmem): says what the
    /// sandbox applied, runs the stored cases first, then the seeds.
    func runHarness<Generator: OperationGenerator>(_ harness: SandboxedHarness<Generator.Model>, model: Generator.Model,
                                                   generator: Generator, profile: String) throws {
        let output = try results.map(ResultsDirectory.init(creating:))
        let started = Date()
        try harness.reset()
        FileHandle.standardError.write(Data("checker: the code under check runs in a child process: \(harness.sandbox ?? "no sandbox report")\n".utf8))
        let hunt = DivergenceHunt(model: model, generator: generator, operations: generation.ops,
                                  swarm: !generation.noSwarm, limits: limits(), reproductions: reproductions)
        var report = CheckReport(target: "snp", profile: profile, kernel: "none (user space)", system: harness.name,
                                 startedAt: ISO8601DateFormatter().string(from: started), durationSeconds: 0)
        if let stored = storedCases(hunt.model, profile: profile, on: harness) { report.batches.append(stored) }
        try batches(hunt, prefix: "snp.\(profile)", profile: profile, system: harness.name, output: output)
            .run(on: harness, into: &report, started: started)
        try report.finish(started: started, output: output)
    }

    /// The KVM_SET_MEMORY_ATTRIBUTES validation front, against the real ioctl.
    private func runMemoryAttributes() throws {
        let profile = try targetOptions.memoryAttributesProfile()
        _ = try requireBackend(["live"], for: "memory-attributes")
        let output = try results.map(ResultsDirectory.init(creating:))
        let started = Date()
        let hunt = DivergenceHunt(model: MemoryAttributesModel(), generator: MemoryAttributesOperationGenerator(),
                                  operations: generation.ops, swarm: !generation.noSwarm, limits: limits(),
                                  reproductions: reproductions)
        var report = CheckReport(target: "memory-attributes", profile: profile, kernel: GuestEnvironment.kernelRelease,
                                 system: "live kernel (/dev/kvm)", startedAt: ISO8601DateFormatter().string(from: started),
                                 durationSeconds: 0)
        let seedBatches = batches(hunt, prefix: "memory-attributes.\(profile)", profile: profile,
                                  system: "live kernel \(GuestEnvironment.kernelRelease)", output: output)
        do {
            let system = try LiveMemoryAttributesSystem()
            if let stored = storedCases(hunt.model, profile: profile, on: system) { report.batches.append(stored) }
            try seedBatches.run(on: system, into: &report, started: started)
        } catch let error as SystemError {
            seedBatches.skipped("\(error)", into: &report)
        }
        try report.finish(started: started, output: output)
    }
}
