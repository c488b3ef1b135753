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
        let resolved = try GmemSource.resolve(source, patch: patch) { FileHandle.standardError.write(Data("checker: \($0)\n".utf8)) }
        // The tree's (and the patch's) code runs in a sandboxed child process, never in the checker.
        let harness = try SandboxedHarness(gmem: try GmemHarnessSystem.compile(resolved), callBound: .seconds(callTimeout))
        try runHarness(harness, model: GmemModel(), generator: GmemOperationGenerator(maximumOrder: maxFolioOrder), profile: profile)
    }
}
