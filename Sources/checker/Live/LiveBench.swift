import Foundation
import Generators
import Model

/// `checker bench --live`: the checker's speed against the running kernel, next to a plain C
/// program that issues the same operations (the physical limit), measured in one run.
struct LiveBench {
    let seeds: Int
    let operations: Int

    func run() throws {
        var system: LiveVsockSystem? = try LiveVsockSystem(transports: VsockOperationGenerator().modules)
        let runner = Runner(model: VsockModel(profile: .mainline), generator: VsockOperationGenerator())
        let clock = ContinuousClock()
        var sequences: [[VsockOperation]] = []
        var checked = 0
        var checkerFailures: [String: Int] = [:]
        let start = clock.now
        for seed in 1...UInt64(seeds) {
            let run = try runner.run(RunConfiguration(seed: seed, operations: operations), against: system!)
            sequences.append(run.execution.operations)
            checked += run.execution.steps.count
            for step in run.execution.steps where !step.observation.result.isSuccess {
                checkerFailures[step.operation.kindName, default: 0] += 1
            }
        }
        try system!.reset()
        let checkerSeconds = (clock.now - start) / .seconds(1)
        let checkerRate = Double(checked) / checkerSeconds
        let ledger = system!.ledger
        let program = VsockCProgram(sequences: sequences, modulePaths: try system!.modulePaths())
        // The same C program with the checker's probes in place: a kprobe event on a module
        // function is armed at every load of that module and disarmed at every unload, whoever
        // loads it, and a core probe traps every sendto (the BPF programs report nothing of
        // another process). Its rate is what any checker observing through these probes could reach.
        let probedRate = try compileAndRun(program.source(timed: 1)).rate
        // Every probe off before the plain C program runs.
        system = nil
        print("checker: \(checked) operations checked in \(String(format: "%.2f", checkerSeconds)) s: \(Int(checkerRate)) operations/s (generation, model, syscalls, probes, refcounts)")

        let cRate = try compileAndRun(program.source(timed: 1)).rate
        print("plain C, same operations, no probes: \(Int(cRate)) operations/s")
        print("ratio checker / C: \(String(format: "%.2f", checkerRate / cRate)) (goal ≥ 0.5)")
        print("plain C with the checker's probes in place (the kernel's cost of observing): \(Int(probedRate)) operations/s, "
              + "\(String(format: "%.2f", probedRate / cRate)) of plain C; the checker runs at \(String(format: "%.2f", checkerRate / probedRate)) of it")
        var hasty = program
        hasty.resetWaits = false
        let hastyRate = try compileAndRun(hasty.source(timed: 1)).rate
        let hastyRun = try compileAndRun(hasty.source(breakdown: true))
        print("plain C whose reset does not wait for lingering references (the baseline before Dec 2026): "
              + "\(Int(hastyRate)) operations/s, ratio \(String(format: "%.2f", checkerRate / hastyRate)); not the same operations: "
              + "\(hastyRun.failures["load", default: 0]) of \(hastyRun.kinds["load"]?.count ?? 0) loads failed there, "
              + "\(checkerFailures["load", default: 0]) in the checker's run")

        // Where the time goes, beside the ratio: a second C run times each operation by kind.
        let cRun = try compileAndRun(program.source(breakdown: true))
        for line in Self.breakdown(checker: ledger, checkerFailures: checkerFailures, c: cRun.kinds, cFailures: cRun.failures) {
            print(line)
        }

        let overhead = try LiveVsockSystem(transports: VsockOperationGenerator().modules).probeOverhead(iterations: 4000)
        let perEvent = overhead.eventsPerCall > 0 ? (overhead.withProbes - overhead.withoutProbes) / overhead.eventsPerCall : 0
        print("probe overhead: sendto \(Int(overhead.withProbes)) ns with probes, \(Int(overhead.withoutProbes)) ns without; "
              + "\(String(format: "%.1f", overhead.eventsPerCall)) events per call: \(Int(perEvent)) ns per event")
    }

    /// The operation kinds side by side (checker and C, milliseconds per operation, failed calls,
    /// and the checker's extra time), then the checker's phases inside and between them.
    static func breakdown(checker ledger: TimeLedger, checkerFailures: [String: Int],
                          c: [String: TimeLedger.Entry], cFailures: [String: Int]) -> [String] {
        var lines = ["where the time goes, per operation kind (C: a second run timing each operation):",
                     "  kind          count  failed (checker/C)  checker ms each   C ms each   checker extra total ms"]
        let kinds = VsockCProgram.breakdownKinds
        let rows = kinds.compactMap { kind -> (String, TimeLedger.Entry, TimeLedger.Entry?)? in
            ledger[kind].map { (kind, $0, c[kind]) }
        }
        for (kind, mine, theirs) in rows.sorted(by: { $0.1.time > $1.1.time }) {
            let cEach = theirs?.millisecondsEach ?? 0
            let extra = mine.milliseconds - cEach * Double(mine.count)
            let failed = kind == "reset" ? "" : "\(checkerFailures[kind, default: 0])/\(cFailures[kind, default: 0])"
            lines.append("  " + kind.padding(toLength: 12, withPad: " ", startingAt: 0)
                         + String(format: "%7d", mine.count) + failed.leftPadded(to: 20)
                         + String(format: "%17.2f %11.2f %24.1f", mine.millisecondsEach, cEach, extra))
        }
        lines.append("the checker's phases (inside the operations above, resets between seeds, set-up once):")
        let phases = TimeLedger(entries: ledger.entries.filter { !kinds.contains($0.key) || $0.key == "reset" })
        lines += phases.lines(prefix: "  ")
        return lines
    }

    /// Compiles the C source with `cc -O2` in a scratch folder, runs it, and reads its rate line
    /// or its breakdown lines (`kind count failed nanoseconds`).
    private func compileAndRun(_ source: String) throws -> (rate: Double, kinds: [String: TimeLedger.Entry], failures: [String: Int]) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("checker-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("sequence.c")
        try source.write(to: file, atomically: true, encoding: .utf8)
        let binary = folder.appendingPathComponent("sequence").path
        _ = try Tools.output("cc", ["-O2", "-o", binary, file.path])
        let output = try Tools.output(binary, [])
        var kinds: [String: TimeLedger.Entry] = [:]
        var failures: [String: Int] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 4, let count = Int(fields[1]), let failed = Int(fields[2]), let nanoseconds = Int64(fields[3]) {
                kinds[String(fields[0])] = TimeLedger.Entry(count: count, time: .nanoseconds(nanoseconds))
                failures[String(fields[0])] = failed
            }
        }
        if !kinds.isEmpty { return (0, kinds, failures) }
        guard let rate = output.split(separator: " ").dropLast().last.flatMap({ Double($0) }) else {
            throw SystemError.unreliable("the C program printed no rate: \(output)")
        }
        return (rate, [:], [:])
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
