import Foundation

/// One `checker vm` run: boots the VM, runs the checker inside, and turns what came back into
/// the reports.
///
/// The guest writes `summary.json`, `ktap.txt` and case files into the results folder (shared
/// read-write with the host); the host adds `console.log`, `stdout.txt`, `command.txt` and
/// `junit.xml`, prints the KTAP and the closing line, and returns the guest's exit status.
///
/// A guest whose kernel oopsed, panicked, warned or hung is a finding: the summary is completed
/// with a `vm.guest` batch — `fail` with the console excerpt for a kernel finding, `inconclusive`
/// for a guest killed at the timeout or one that wrote no summary — and the exit status is 1.
/// The guest's own files are kept as `summary.guest.json` and `ktap.guest.txt` when completed.
struct VMSession: Sendable {
    /// The stable name of the batch that reports on the guest itself.
    static let guestBatchName = "vm.guest"

    var vng: String
    var command: VngCommand
    var guestArguments: [String]
    var folder: String
    var timeoutSeconds: Int
    var echoConsole: Bool
    /// The name of the batch that reports on this guest: ``guestBatchName``, or one per guest of
    /// a pool (`vm.guest.shard-2`), so that merged shards keep them apart.
    var guestTestName: String = VMSession.guestBatchName
    /// How long the guest may go on after its kernel crashed (``VMRunner/crashGrace``); a crash
    /// reproduction's attempts stop sooner: their report is on the console within milliseconds.
    var crashGrace: Duration = VMRunner.crashGrace
    /// Set by a caller that may stop the VM before it ends (``ServingGuest``).
    var stopRequest: VMRunner.StopRequest?

    func file(_ name: String) -> String { URL(fileURLWithPath: folder).appendingPathComponent(name).path }

    /// Runs the VM, prints what came back; returns the exit status for the checker.
    func run() async throws -> Int32 {
        let conclusion = try conclude(try await boot())
        conclusion.say()
        return conclusion.status
    }

    /// Boots the VM and waits for it; the guest's files are in the folder afterwards.
    func boot() async throws -> VMRunner.Outcome {
        try (command.commandLine + "\n").write(toFile: file("command.txt"), atomically: true, encoding: .utf8)
        let accelerator = command.kvm ? "KVM" : "TCG"
        note("booting \(command.kernel) (\(accelerator), \(command.cpus) CPUs, \(command.memory)); results in \(folder)")
        do {
            return try await VMRunner.run(vng: vng, arguments: command.arguments, timeout: .seconds(timeoutSeconds),
                                          consolePath: file("console.log"), stdoutPath: file("stdout.txt"),
                                          echo: echoConsole, crashGrace: crashGrace, stopRequest: stopRequest)
        } catch let problem as UsageProblem {
            throw problem
        } catch {
            throw UsageProblem("cannot run \(vng): \(error); check the virtme-ng install (bash scripts/setup.sh)")
        }
    }

    /// What the host makes of a finished VM: the exit status, what to print on stdout (the
    /// guest's output or the KTAP and the closing line) and on stderr, and the report written
    /// (nil when the guest's command writes none, or refused its arguments).
    struct Conclusion: Equatable, Sendable {
        var status: Int32
        var stdout: String
        var stderr: [String]
        var report: CheckReport? = nil

        /// Prints the stdout, then the notes on stderr. stdout is flushed first: redirected to
        /// the same file as stderr (`> log 2>&1`), a block-buffered stdout would otherwise be cut
        /// at a buffer boundary by the notes, splitting a line a script reads (CI's
        /// `# == CASE` headers of `replay --all` were cut that way).
        func say() {
            print(stdout, terminator: "")
            fflush(nil)   // every C stream; stdout is the one print() buffers
            for line in stderr { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
    }

    /// Reads what the guest left, writes the reports, and picks the exit status.
    func conclude(_ outcome: VMRunner.Outcome) throws -> Conclusion {
        let console = (try? String(contentsOfFile: file("console.log"), encoding: .utf8)) ?? ""
        let scan = ConsoleScanner.scan(console)
        let reporting = VngCommand.writesResults(guestArguments)
        var summary: CheckReport?
        var summaryProblem: String?
        if reporting {
            if let text = try? String(contentsOfFile: file("summary.json"), encoding: .utf8) {
                do { summary = try JSONReporter.decode(text) } catch { summaryProblem = "summary.json is unreadable: \(error)" }
            } else {
                summaryProblem = "the guest wrote no summary.json"
            }
        }
        // A fixed-size record: the line, then spaces (ProgressFile).
        let progress = (try? String(contentsOfFile: file("progress.txt"), encoding: .utf8))?
            .split(whereSeparator: \.isNewline).last.map { $0.trimmingCharacters(in: .whitespaces) }
        let status = Self.guestStatus(outcome.ending)
        let describe = { (ending: VMRunner.Ending) in Self.describe(ending, grace: crashGrace) }
        let guestUsageError = outcome.ending == .exited(ExitStatus.usage.rawValue) && scan.worst == nil

        var conclusion = Conclusion(status: status, stdout: "", stderr: [])
        if !reporting || guestUsageError {
            conclusion.stdout = stdoutText()
        }
        if guestUsageError {
            // The checker in the guest refused its arguments: its one line is on the console.
            conclusion.stderr = console.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("checker:") }.map(String.init)
            return conclusion
        }

        var batch = Self.guestBatch(name: guestTestName, scan: scan, ending: outcome.ending, timeoutSeconds: timeoutSeconds,
                                    summaryProblem: reporting ? summaryProblem : nil, progress: progress,
                                    consoleTail: Self.tail(console, lines: 20), seconds: outcome.seconds)
        var report = summary
        if var crashed = batch, crashed.crashSignature != nil, let operations = CrashReproduction.journaled(in: folder) {
            // The operations that led to the crash, as a case file the user can replay.
            let journal = file(ExecutionJournal.fileName)
            let modules = VngCommand.option("--modules", in: guestArguments).map { " --modules \($0)" } ?? ""
            crashed.diagnostics.insert(contentsOf: [
                "case: \(journal) (the \(operations.count) operations up to the crash, the crashing one last)",
                "replay: checker vm --kernel \(command.kernel) -- replay \(journal) --on live\(modules)",
            ], at: 0)
            batch = crashed
        } else if var crashed = batch, crashed.crashSignature != nil,
                  FileManager.default.fileExists(atPath: file(ExecutionJournal.parallelFileName)) {
            // A parallel run's: the case whose run crashed the kernel (its threads' interleaving
            // is the kernel's, so a replay may need several runs).
            let journal = file(ExecutionJournal.parallelFileName)
            let modules = VngCommand.option("--modules", in: guestArguments).map { " --modules \($0)" } ?? ""
            crashed.diagnostics.insert(contentsOf: [
                "case: \(journal) (the parallel case that was running when the kernel crashed)",
                "replay: checker vm --kernel \(command.kernel) -- replay \(journal) --on live --repeats 5\(modules)",
            ], at: 0)
            batch = crashed
        }
        if let batch {
            if summary != nil {
                try? FileManager.default.copyItem(atPath: file("summary.json"), toPath: file("summary.guest.json"))
                try? FileManager.default.copyItem(atPath: file("ktap.txt"), toPath: file("ktap.guest.txt"))
            }
            var completed = summary ?? skeleton(seconds: outcome.seconds)
            completed.batches.append(batch)
            report = completed
        }
        let took = String(format: "%.1f", outcome.seconds)
        guard let report else {
            conclusion.stderr.append("checker vm: guest \(describe(outcome.ending)) after \(took) s; console in \(file("console.log"))")
            return conclusion
        }
        let ktap: String
        if batch == nil, let guestKTAP = try? String(contentsOfFile: file("ktap.txt"), encoding: .utf8) {
            ktap = guestKTAP
        } else {
            ktap = KTAPReporter.render(report)
            try ktap.write(toFile: file("ktap.txt"), atomically: true, encoding: .utf8)
            try JSONReporter.render(report).write(toFile: file("summary.json"), atomically: true, encoding: .utf8)
        }
        try JUnitReporter.render(report).write(toFile: file("junit.xml"), atomically: true, encoding: .utf8)
        conclusion.report = report
        conclusion.stdout += ktap + (ktap.hasSuffix("\n") ? "" : "\n") + report.closingLine + "\n"
        if case .interrupted = outcome.ending {
            conclusion.status = status
        } else {
            conclusion.status = batch == nil ? status : report.exitStatus.rawValue
        }
        conclusion.stderr.append("checker vm: guest \(describe(outcome.ending)) after \(took) s; "
                                 + "reports in \(folder) (summary.json, ktap.txt, junit.xml, console.log)")
        return conclusion
    }

    /// The batch that reports on the guest itself, or nil when the guest ran and reported cleanly.
    static func guestBatch(name: String = guestBatchName, scan: ConsoleScanner.Scan, ending: VMRunner.Ending, timeoutSeconds: Int,
                           summaryProblem: String?, progress: String?, consoleTail: [String],
                           seconds: Double) -> BatchResult? {
        let timedOut = ending == .timedOut
        let stopped = ending == .stopped
        var interrupted: Int32?
        if case let .interrupted(signal) = ending { interrupted = signal }
        guard scan.worst != nil || timedOut || stopped || interrupted != nil || summaryProblem != nil else { return nil }
        var reasons: [String] = []
        var diagnostics: [String] = []
        let outcome: BatchResult.Outcome
        if let worst = scan.worst {
            outcome = .fail
            reasons.append("\(worst.kind.rawValue) in the guest kernel: \(worst.message)")
            let others = scan.findings.count - 1
            if others > 0 { reasons.append("\(others) more kernel finding\(others == 1 ? "" : "s") in console.log") }
            diagnostics += ["console:"] + worst.excerpt.map { "  " + $0 }
        } else {
            outcome = .inconclusive
        }
        if timedOut {
            reasons.append("the guest did not finish within \(timeoutSeconds) s; the VM was killed")
        } else if stopped {
            reasons.append("the guest's case did not finish within its bound; the VM was killed")
        } else if let interrupted {
            reasons.append("interrupted by signal \(interrupted); the VM was stopped")
        } else if let summaryProblem, scan.worst == nil {
            reasons.append("\(summaryProblem) (\(describe(ending)))")
            diagnostics += ["last console lines:"] + consoleTail.map { "  " + $0 }
        }
        if let step = scan.lastStep {
            reasons.append("last operation: step \(step.number): \(step.operation)")
        } else if let progress, !progress.isEmpty {
            reasons.append("last operation: \(progress)")
        }
        return BatchResult(name: name, seeds: [], operations: 0, outcome: outcome,
                           reason: reasons.joined(separator: "; "), durationSeconds: seconds, lostEvents: 0,
                           divergences: [], diagnostics: diagnostics, crashSignature: scan.worst?.signature)
    }

    /// The exit status to pass on for how vng ended.
    static func guestStatus(_ ending: VMRunner.Ending) -> Int32 {
        switch ending {
        case let .exited(code): return code
        case let .signaled(signal): return 128 + signal
        case .timedOut, .stoppedAfterCrash, .stopped: return ExitStatus.divergence.rawValue
        case let .interrupted(signal): return 128 + signal
        }
    }

    static func describe(_ ending: VMRunner.Ending, grace: Duration = VMRunner.crashGrace) -> String {
        switch ending {
        case let .exited(code): return "exited with status \(code)"
        case let .signaled(signal): return "vng was killed by signal \(signal)"
        case .timedOut: return "timed out"
        case .stoppedAfterCrash: return "was stopped \(Int(grace.seconds)) s after its kernel crashed"
        case .stopped: return "was stopped by the checker (its case ran past its bound)"
        case let .interrupted(signal): return "was stopped: the checker got signal \(signal)"
        }
    }

    static func tail(_ text: String, lines count: Int) -> [String] {
        text.split(whereSeparator: \.isNewline).suffix(count).map(String.init)
    }

    /// A report for a guest that wrote none: what the host knows.
    func skeleton(seconds: Double) -> CheckReport {
        let base = URL(fileURLWithPath: command.kernel).lastPathComponent
        let kernel = base.hasPrefix("vmlinuz-") ? String(base.dropFirst("vmlinuz-".count)) : base
        let started = ISO8601DateFormatter().string(from: Date(timeIntervalSinceNow: -seconds))
        // The guest's --target and --profile, or the checker's defaults for them.
        let given = ["--target", "--profile"].flatMap { name in
            VngCommand.option(name, in: guestArguments).map { [name, $0] } ?? []
        }
        let options = try? TargetOptions.parse(given)
        return CheckReport(target: options?.target ?? "unknown", profile: options?.profile ?? "unknown",
                           kernel: kernel, system: "test VM (virtme-ng, \(command.kvm ? "KVM" : "TCG"))",
                           startedAt: started, durationSeconds: seconds)
    }

    private func stdoutText() -> String {
        (try? String(contentsOfFile: file("stdout.txt"), encoding: .utf8)) ?? ""
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("checker vm: \(text)\n".utf8))
    }
}
