import Foundation
import Generators
import Model

/// `checker bench --live`: the checker's speed against the running kernel, next to a plain C
/// program that issues the same operations (the physical limit), measured in one run.
struct LiveBench {
    let seeds: Int
    let operations: Int

    func run() throws {
        let system = try LiveVsockSystem(transports: VsockOperationGenerator().modules)
        let runner = Runner(model: VsockModel(profile: .mainline), generator: VsockOperationGenerator())
        let clock = ContinuousClock()
        var sequences: [[VsockOperation]] = []
        var checked = 0
        let start = clock.now
        for seed in 1...UInt64(seeds) {
            let run = try runner.run(RunConfiguration(seed: seed, operations: operations), against: system)
            sequences.append(run.execution.operations)
            checked += run.execution.steps.count
        }
        try system.reset()
        let checkerSeconds = (clock.now - start) / .seconds(1)
        let checkerRate = Double(checked) / checkerSeconds
        print("checker: \(checked) operations checked in \(String(format: "%.2f", checkerSeconds)) s: \(Int(checkerRate)) operations/s (generation, model, syscalls, probes, refcounts)")

        let program = VsockCProgram(sequences: sequences, modulePaths: try system.modulePaths())
        let cRate = try compileAndRun(program.source(timed: 1))
        print("plain C, same operations: \(Int(cRate)) operations/s")
        print("ratio checker / C: \(String(format: "%.2f", checkerRate / cRate)) (goal ≥ 0.5)")

        let overhead = try system.probeOverhead(iterations: 4000)
        let perEvent = overhead.eventsPerCall > 0 ? (overhead.withProbes - overhead.withoutProbes) / overhead.eventsPerCall : 0
        print("probe overhead: sendto \(Int(overhead.withProbes)) ns with probes, \(Int(overhead.withoutProbes)) ns without; "
              + "\(String(format: "%.1f", overhead.eventsPerCall)) events per call: \(Int(perEvent)) ns per event")
    }

    /// Compiles the C source with `cc -O2` in a scratch folder and returns its operations/s.
    private func compileAndRun(_ source: String) throws -> Double {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("checker-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("sequence.c")
        try source.write(to: file, atomically: true, encoding: .utf8)
        let binary = folder.appendingPathComponent("sequence").path
        _ = try Tools.output("cc", ["-O2", "-o", binary, file.path])
        let output = try Tools.output(binary, [])
        guard let rate = output.split(separator: " ").dropLast().last.flatMap({ Double($0) }) else {
            throw SystemError.unreliable("the C program printed no rate: \(output)")
        }
        return rate
    }
}
