import ArgumentParser
import Foundation
import Model
import Probes

/// `checker trace --target snp`: records what the running kernel does for SNP while a workload
/// runs, and judges the trace.
struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Trace the running kernel's SNP memory decisions while a workload runs, and judge them.",
        discussion: """
            Passive: attaches eBPF probes (fentry/fexit, else kprobe/kretprobe) to the SNP policy \
            functions (sev_update_mem_attr of the v8 series; sev_gmem_prepare and sev_gmem_invalidate \
            on mainline), the RMP helpers (rmp_make_private, rmp_make_shared, psmash) and \
            kvm_arch_post_set_memory_attributes, runs the workload command given after -- (or waits \
            --duration seconds), detaches and judges the events with the SNP trace checker. Every \
            process is observed. Prints KTAP: one test per probe (SKIP when the function is absent or \
            never fired) and trace.snp. trace.snp passes only when at least one call was checked on a \
            host with SNP enabled; lost events make it inconclusive. Must run as root. \
            Exit status: 0 pass, 1 divergence or inconclusive, 2 usage error, 4 skip.
            Example: checker trace --target snp --load-module kvm_amd -- qemu-system-x86_64 ...
            """
    )

    @Option(help: "The behaviour to trace: snp.")
    var target: String = "snp"

    @Option(help: ArgumentHelp("Trace this long without a workload; with one, stop the workload after this long.",
                               valueName: "seconds"))
    var duration: Double?

    @Option(help: "A directory for summary.json and ktap.txt (created; never overwritten).")
    var results: String?

    @Option(help: ArgumentHelp("Load a module with modprobe before attaching, e.g. kvm_amd (repeatable).",
                               valueName: "name"))
    var loadModule: [String] = []

    @Flag(help: "Tracing began before the guest existed: a page the trace never saw assigned is taken as shared (otherwise such pages are reported as not checked).")
    var fromGuestStart = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The workload command, after --.", valueName: "workload"))
    var workload: [String] = []

    /// The test that judges the trace.
    static let traceTestName = "trace.snp"
    /// Where kvm_amd says whether SNP is on (`Y`/`N`; 6.12 arch/x86/kvm/svm/sev.c:54).
    static let snpParameterPath = "/sys/module/kvm_amd/parameters/sev_snp"

    func validate() throws {
        guard target == "snp" else { throw UsageProblem("unknown target '\(target)' for trace; use --target snp") }
        if let duration, !(duration > 0) || !duration.isFinite {
            throw UsageProblem("--duration must be a positive number of seconds, not \(duration)")
        }
        guard duration != nil || !workload.isEmpty else {
            throw UsageProblem("give a workload command after -- or --duration SECONDS")
        }
        try Modprobe.validate(loadModule)
    }

    func run() throws {
        guard geteuid() == 0 else {
            throw UsageProblem("not root: trace attaches eBPF probes to the kernel; run it as root (in the test VM: checker vm -- trace ...)")
        }
        let output = try results.map(ResultsDirectory.init(creating:))
        let started = Date()
        var notes: [String] = []
        for name in loadModule {
            notes.append(Modprobe.load(name))
        }
        notes.append("/dev/kvm: " + (FileManager.default.fileExists(atPath: "/dev/kvm") ? "present" : "absent"))
        var report = CheckReport(target: "snp", profile: "trace", kernel: GuestEnvironment.kernelRelease,
                                 system: "live kernel, passive trace", startedAt: ISO8601DateFormatter().string(from: started),
                                 durationSeconds: 0)
        let recorder: SNPTraceRecorder
        do {
            recorder = try SNPTraceRecorder()
        } catch {
            let reason = "the SNP probes could not be loaded: \(error)"
            report.batches = SNPProbeTable.entries.map { Self.skipped("probe.\($0.function.name)", reason) }
            report.batches.append(Self.skipped(Self.traceTestName, "no SNP probe attached: \(reason)", diagnostics: notes))
            return try report.finish(started: started, output: output, status: Self.exitStatus)
        }
        let probes = recorder.attach()
        var trace: SNPTraceRecorder.Trace
        if probes.allSatisfy({ !$0.status.isAttached }) {
            notes.append("workload not run: no probe attached")
            trace = recorder.finish()
        } else {
            notes += try runWorkload(collecting: recorder)
            trace = recorder.finish()
        }
        report.probes = trace.probes.map(\.report)
        report.batches = trace.probes.map(Self.probeBatch)
        let snpParameter = try? String(contentsOfFile: Self.snpParameterPath, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        report.batches.append(Self.judge(trace, snpEnabled: snpParameter.map { $0 == "Y" || $0 == "1" },
                                         assumeSharedAtStart: fromGuestStart,
                                         notes: notes, seconds: Date().timeIntervalSince(started)))
        try report.finish(started: started, output: output, status: Self.exitStatus)
    }

    /// Runs the workload (its output goes to stderr: stdout is KTAP), or waits --duration,
    /// draining the ring buffer every 100 ms. Returns diagnostic lines.
    private func runWorkload(collecting recorder: SNPTraceRecorder) throws -> [String] {
        let tick: useconds_t = 100_000
        guard !workload.isEmpty else {
            let end = Date().addingTimeInterval(duration ?? 0)
            while Date() < end {
                recorder.collect()
                usleep(tick)
            }
            return ["no workload: traced for \(duration ?? 0) s"]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = workload
        process.standardOutput = FileHandle.standardError
        process.standardError = FileHandle.standardError
        do {
            try process.run()
        } catch {
            throw UsageProblem("cannot run the workload \(workload[0]): \(error.localizedDescription); give a command after --")
        }
        let deadline = duration.map { Date().addingTimeInterval($0) }
        var stopped = false
        while process.isRunning {
            recorder.collect()
            if let deadline, Date() >= deadline, !stopped {
                process.terminate()
                stopped = true
            }
            usleep(tick)
        }
        process.waitUntilExit()
        let command = ShellQuoting.join(workload)
        if stopped { return ["workload: \(command) stopped after --duration \(duration ?? 0) s"] }
        let how = process.terminationReason == .uncaughtSignal ? "was killed by signal" : "exited with status"
        return ["workload: \(command) \(how) \(process.terminationStatus)"]
    }

    // MARK: - Verdicts

    static func skipped(_ name: String, _ reason: String, diagnostics: [String] = []) -> BatchResult {
        BatchResult(name: name, seeds: [], operations: 0, outcome: .skip, reason: reason, durationSeconds: 0,
                    lostEvents: 0, divergences: [], diagnostics: diagnostics)
    }

    /// `probe.<function>`: ok when attached and fired, SKIP when absent or silent.
    static func probeBatch(_ probe: SNPTraceRecorder.Probe) -> BatchResult {
        let name = "probe.\(probe.function.name)"
        guard let hooks = probe.function.hooks(for: probe.status.mechanism) else {
            guard case let .unavailable(reason) = probe.status.mechanism else { return skipped(name, "unavailable") }
            return skipped(name, reason)
        }
        guard probe.events > 0 else { return skipped(name, "attached, never fired during the workload") }
        return BatchResult(name: name, seeds: [], operations: probe.events, outcome: .pass, reason: nil,
                           durationSeconds: 0, lostEvents: 0, divergences: [],
                           diagnostics: ["\(hooks): \(probe.events) event\(probe.events == 1 ? "" : "s")"])
    }

    /// `trace.snp`: the trace checker's verdict, honest about what could not be judged.
    ///
    /// - no probe attached → skip; lost or undecodable events → inconclusive;
    /// - no policy function or RMP helper fired → skip ("no SNP activity observed");
    /// - divergences → fail;
    /// - SNP off in kvm_amd (`sev_snp=N`) → skip: the policy calls seen returned early, there
    ///   was no SNP work to judge;
    /// - no checked call → skip; otherwise pass.
    static func judge(_ trace: SNPTraceRecorder.Trace, snpEnabled: Bool?, assumeSharedAtStart: Bool = false,
                      notes: [String], seconds: Double) -> BatchResult {
        var result = BatchResult(name: traceTestName, seeds: [], operations: trace.events.count, outcome: .skip,
                                 reason: nil, durationSeconds: seconds, lostEvents: trace.lostEvents,
                                 divergences: [], diagnostics: notes)
        let attached = trace.probes.filter(\.status.isAttached)
        guard !attached.isEmpty else {
            // Name the reason of a mainline RMP helper (vmlinux) first: the likeliest to exist.
            let order = trace.probes.filter { $0.entry.module == nil } + trace.probes.filter { $0.entry.module != nil }
            let reasons = order.compactMap { probe -> String? in
                if case let .unavailable(reason) = probe.status.mechanism { return "\(probe.function.name): \(reason)" }
                return nil
            }
            result.reason = "no SNP probe attached (all \(trace.probes.count) unavailable, see the probe.* tests); "
                + (reasons.first ?? "no probe in the table")
            return result
        }
        result.diagnostics.append("\(trace.events.count) events from \(attached.count) attached probes")
        for event in trace.events.prefix(20) { result.diagnostics.append("event: \(event)") }
        if trace.events.count > 20 { result.diagnostics.append("event: … \(trace.events.count - 20) more") }
        if trace.lostEvents > 0 {
            result.outcome = .inconclusive
            let problems = trace.decodeProblems.isEmpty ? "" : ": " + trace.decodeProblems.joined(separator: "; ")
            result.reason = "\(trace.lostEvents == .max ? "an unknown number of" : String(trace.lostEvents)) probe events lost or undecodable\(problems)"
            return result
        }
        let activity = trace.probes.filter { $0.entry.isSNPActivity && $0.events > 0 }
        guard !activity.isEmpty else {
            result.reason = "no SNP activity observed (no SNP hardware / no SNP guest ran)"
            return result
        }
        let report = SNPTraceChecker.check(trace.events, assumeSharedAtStart: assumeSharedAtStart)
        result.diagnostics.append("checked calls: \(report.checkedCalls)")
        for item in report.notChecked { result.diagnostics.append("not checked: \(item)") }
        if !report.divergences.isEmpty {
            result.outcome = .fail
            for divergence in report.divergences { result.diagnostics.append("divergence: \(divergence)") }
            result.reason = "\(report.divergences.count) divergence\(report.divergences.count == 1 ? "" : "s") from the SNP model: \(report.divergences[0])"
            return result
        }
        let calls = activity.map { probe in
            // Entry and return are two events of one call.
            let count = probe.function.reportsEntry && probe.function.reportsReturn ? (probe.events + 1) / 2 : probe.events
            return "\(probe.function.name): \(count) call\(count == 1 ? "" : "s")"
        }.joined(separator: ", ")
        if snpEnabled == false {
            result.reason = "no SNP activity observed (no SNP hardware / no SNP guest ran): kvm_amd has sev_snp=N, "
                + "so the calls seen (\(calls)) returned without RMP work, and the snp-gmem rules had nothing to judge "
                + "(without host SNP, sev_gmem_invalidate returns at once: 6.12 sev.c:5026)"
            return result
        }
        guard report.checkedCalls > 0 else {
            result.reason = "no call could be checked (\(calls)): " + (report.notChecked.first ?? "no complete policy call")
            return result
        }
        result.outcome = .pass
        return result
    }

    /// The exit status of a trace: any fail or inconclusive → 1; otherwise 0 only when
    /// trace.snp passed (probes that fired are not a pass of the trace); otherwise 4.
    static func exitStatus(_ report: CheckReport) -> ExitStatus {
        if report.failed > 0 || report.inconclusive > 0 { return .divergence }
        let trace = report.batches.first { $0.name == traceTestName }
        return trace?.outcome == .pass ? .pass : .skip
    }
}
