import ArgumentParser
import Foundation
import Generators
import Model
import TestDoubles

/// `checker bench`: the engine's speed and finding power, measured in one run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure model steps per second and the executions needed to shrink planted mutants.",
        discussion: """
            Mutants are planted in a simulated kernel (Tests/Doubles), a test double that measures \
            the engine; it is not a kernel. Build in release mode for meaningful numbers: \
            swift build -c release && .build/release/checker bench
            """
    )

    /// What to measure.
    enum Part: String, ExpressibleByArgument, CaseIterable {
        case model, mutants
    }

    @Option(help: "Seconds to spend measuring model throughput.")
    var seconds: Double = 2

    @Option(help: "Measure only this part: model or mutants (default: both).")
    var part: Part?

    @Option(help: "With the mutants: runs per mutant for the detection rates (seeds 1…N); more for steadier rates.")
    var rateSeeds: Int = 200

    @Flag(help: "With the mutants: also list what the simulated runs did, operations by kind and result class.")
    var outcomes = false

    @Flag(help: "Measure against the running kernel instead (root, in the test VM): checker vs plain C, probe overhead.")
    var live = false

    @Option(help: "The behaviour: vsock (default: model and mutants) or snp (patch-logic harness operations/s and SNP model steps/s).")
    var target: String = "vsock"

    @Option(help: ArgumentHelp("With --target snp: the patch the harness compiles (default: the v8 48/56 seed).", valueName: "file"))
    var patch: String?

    @Option(help: "With --live: seeds and operations per seed.")
    var liveSeeds: Int = 10

    @Option(help: "With --live: operations per seed.")
    var liveOps: Int = 100

    func validate() throws {
        guard seconds > 0 else { throw UsageProblem("--seconds must be positive, not \(seconds)") }
        guard rateSeeds > 0 else { throw UsageProblem("--rate-seeds must be positive, not \(rateSeeds)") }
    }

    func run() throws {
        #if DEBUG
        print("# warning: debug build; numbers are far below release (swift build -c release)")
        #endif
        if target == "snp" {
            let build = try SNPHarnessSystem.build(patch: try SNPHarnessSystem.patchPath(patch))
            return try SNPBench(harness: try SNPHarnessSystem(build), sandboxed: try SandboxedHarness(snpV8: build), seconds: seconds).run()
        }
        guard target == "vsock" else { throw UsageProblem("unknown target '\(target)' for bench; use --target vsock or --target snp") }
        if live {
            guard geteuid() == 0, GuestEnvironment.isTestVM else {
                throw UsageProblem("bench --live loads vsock modules: run it as root in the test VM ('checker vm -- bench --live')")
            }
            return try LiveBench(seeds: liveSeeds, operations: liveOps).run()
        }
        if part != .mutants { try measureModel() }
        if part != .model { try measureMutants() }
    }

    /// Replays recorded (operation, observation) traces through `expect` + `judge`.
    private func measureModel() throws {
        let profile = VsockProfile.vsockDgramV5
        let model = VsockModel(profile: profile)
        let runner = Runner(model: model, generator: VsockOperationGenerator())
        let kernel = SimulatedVsockKernel(profile: profile)
        var traces: [[(VsockOperation, VsockObservation)]] = []
        for seed in UInt64(0)..<64 {
            let run = try runner.run(RunConfiguration(seed: seed, operations: 500), against: kernel)
            traces.append(run.execution.steps.map { ($0.operation, $0.observation) })
        }
        let measured = ModelThroughput(model: model, traces: traces).measure(seconds: seconds)
        let (steps, divergences, elapsed, rate) = (measured.steps, measured.divergences, measured.seconds, measured.rate)
        print("model: \(Int(rate)) steps/s on one core (\(steps) steps in \(String(format: "%.2f", elapsed)) s, "
              + "\(divergences) divergences); goal ≥ 1000000: ratio \(String(format: "%.2f", rate / 1_000_000))")
    }

    private func measureMutants() throws {
        print("mutant                      profile           signature                         runs  shrunk  minimal  executions-to-minimal  executions  detected")
        var toMinimal: [Int] = []
        var detectedRuns = 0
        for mutant in VsockMutant.allCases {
            let hunt = try MutantHunt(mutant: mutant, candidates: 1)
            let detected = try MutantHunt.detections(of: mutant, seeds: rateSeeds)
            detectedRuns += detected
            guard let found = hunt.result else {
                print("\(pad(mutant.rawValue, 28))\(pad(mutant.profile.name, 18))NOT FOUND in \(hunt.seedsTried) runs")
                continue
            }
            let minimal = mutant.minimalLengths[found.signature].map(String.init) ?? "?"
            toMinimal.append(found.shrink.executionsToMinimal)
            print(pad(mutant.rawValue, 28) + pad(mutant.profile.name, 18) + pad(found.signature.description, 34)
                  + pad("\(hunt.seedsTried)", 6) + pad("\(found.shrink.minimal.count)", 8) + pad(minimal, 9)
                  + pad("\(found.shrink.executionsToMinimal)", 23) + pad("\(found.shrink.executions)", 12)
                  + "\(detected)/\(rateSeeds)")
        }
        let sorted = toMinimal.sorted()
        let median = sorted.isEmpty ? 0 : sorted.count % 2 == 1 ? Double(sorted[sorted.count / 2])
            : Double(sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        print("mutants: \(toMinimal.count) of \(VsockMutant.allCases.count) found; median executions to minimal "
              + "\(median); goal ≤ 100: ratio \(String(format: "%.2f", median / 100))")
        let coverage = try DataPathCoverage(seeds: rateSeeds)
        print("data path (simulated kernel, no mutant, 60 operations): " + coverage.description)
        if outcomes {
            for (outcome, count) in coverage.outcomes.sorted(by: { $0.key < $1.key }) { print("  \(outcome): \(count)") }
        }
        print("detection: \(detectedRuns) of \(rateSeeds * VsockMutant.allCases.count) runs of 60 operations diverge "
              + "(seeds 1-\(rateSeeds) per mutant; \(String(format: "%.1f", 100 * Double(detectedRuns) / Double(rateSeeds * VsockMutant.allCases.count)))%)")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
