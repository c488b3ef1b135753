import Foundation
import Generators
import Model

extension Run {
    /// Mainline's SNP guest_memfd hooks: cut from the sev.c of `--source` (a tree or a Debian
    /// version, fetched once), with `--patch` applied first if given, compiled against the gmem
    /// shim and run against a simulated RMP; the model `snp-gmem` judges every call.
    func runSNPGmem() throws {
        let profile = TargetOptions.snpGmemProfile
        guard let source else {
            throw UsageProblem("--profile \(profile) needs --source TREE|VERSION, the kernel whose sev.c to check (e.g. --source 6.12.111)")
        }
        _ = try requireBackend(["harness"], for: "snp")
        let output = try results.map(ResultsDirectory.init(creating:))
        let started = Date()
        let resolved = try GmemSource.resolve(source, patch: patch) { FileHandle.standardError.write(Data("checker: \($0)\n".utf8)) }
        // The tree's (and the patch's) code runs in a sandboxed child process, never in the checker.
        let harness = try SandboxedHarness(gmem: try GmemHarnessSystem.compile(resolved), callBound: .seconds(callTimeout))
        try harness.reset()
        FileHandle.standardError.write(Data("checker: the kernel code runs in a child process: \(harness.sandbox ?? "no sandbox report")\n".utf8))
        let hunt = DivergenceHunt(model: GmemModel(), generator: GmemOperationGenerator(maximumOrder: maxFolioOrder), operations: generation.ops,
                                  swarm: !generation.noSwarm, limits: limits(), reproductions: reproductions)
        var report = CheckReport(target: "snp", profile: profile, kernel: "none (user space)", system: harness.name,
                                 startedAt: ISO8601DateFormatter().string(from: started), durationSeconds: 0)
        if let stored = storedCases(hunt.model, profile: profile, on: harness) { report.batches.append(stored) }
        try batches(hunt, prefix: "snp.\(profile)", profile: profile, system: harness.name, output: output)
            .run(on: harness, into: &report, started: started)
        try report.finish(started: started, output: output)
    }
}
