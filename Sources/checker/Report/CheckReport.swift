import Foundation

/// What one check found, in the shape every reporter reads: KTAP inside the VM, JUnit and JSON on
/// the host. The run command fills it; `checker vm` reads it back from `summary.json` and may
/// complete it with a `vm.guest` batch when the guest oopsed, panicked or hung.
///
/// Outcome and exit status (kselftest's codes, see `ExitStatus`):
/// - any batch `fail` → exit 1;
/// - otherwise any batch `inconclusive` → exit 1 as well. kselftest has no "inconclusive": a run
///   whose probes lost events or could not tell is not a pass, so it fails the run. Every report
///   still says `inconclusive` (KTAP: a `# inconclusive:` line before `not ok`, counted as
///   `error` in `# Totals:`; JUnit: `<error>`; JSON: `"outcome": "inconclusive"`), so a dashboard
///   can tell it from a divergence;
/// - otherwise every batch `skip` (or no batch at all) → exit 4 (KSFT_SKIP);
/// - otherwise → exit 0.
struct CheckReport: Codable, Equatable, Sendable {
    /// The behaviour under check, e.g. `vsock`.
    var target: String
    /// The semantics profile the model stated, e.g. `mainline`.
    var profile: String
    /// `uname -r` of the kernel under check.
    var kernel: String
    /// What ran the operations, e.g. `live kernel`.
    var system: String
    /// When the run started, ISO 8601.
    var startedAt: String
    var durationSeconds: Double
    var batches: [BatchResult]
    var probes: [ProbeReport]
    /// Operations run, by kind (`load`, `sendto`, …), shrinking and reproductions included.
    var operationCounts: [String: Int]? = nil
    /// Operations run, by kind and result class (`recv → datagram`, `sendto → ENODEV`).
    var outcomeCounts: [String: Int]? = nil
    /// `I/N` when this run was one shard of a run split across N jobs (`--shard`).
    var shard: String? = nil
    /// The counts a dashboard wants, filled in when the summary is written (``Totals``).
    var totals: Totals? = nil

    init(target: String, profile: String, kernel: String, system: String, startedAt: String,
         durationSeconds: Double, batches: [BatchResult] = [], probes: [ProbeReport] = []) {
        self.target = target
        self.profile = profile
        self.kernel = kernel
        self.system = system
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.batches = batches
        self.probes = probes
    }
}

/// One reported test: a batch of seeds, under one stable name (e.g. `vsock.mainline.seeds-1-10`).
struct BatchResult: Codable, Equatable, Sendable {
    enum Outcome: String, Codable, Sendable, CaseIterable {
        case pass, fail, inconclusive, skip
    }

    var name: String
    var seeds: [UInt64]
    var operations: Int
    var outcome: Outcome
    /// Why the batch is not a plain pass (skip, inconclusive or fail without a divergence).
    var reason: String?
    var durationSeconds: Double
    /// Probe events the ring buffer dropped; a batch that lost events cannot pass.
    var lostEvents: UInt64
    var divergences: [DivergenceReport]
    /// Further diagnostic lines (e.g. the console excerpt of a guest that oopsed), printed as
    /// KTAP `# ` lines and in the JUnit failure text.
    var diagnostics: [String] = []
    /// What identifies the kernel bug a guest hit (``CrashSignature``): on the `vm.guest` test
    /// of a guest whose kernel oopsed, warned, stalled or hung.
    var crashSignature: CrashSignature? = nil

    init(name: String, seeds: [UInt64], operations: Int, outcome: Outcome, reason: String?,
         durationSeconds: Double, lostEvents: UInt64, divergences: [DivergenceReport],
         diagnostics: [String] = [], crashSignature: CrashSignature? = nil) {
        self.name = name
        self.seeds = seeds
        self.operations = operations
        self.outcome = outcome
        self.reason = reason
        self.durationSeconds = durationSeconds
        self.lostEvents = lostEvents
        self.divergences = divergences
        self.diagnostics = diagnostics
        self.crashSignature = crashSignature
    }

    private enum CodingKeys: String, CodingKey {
        case name, seeds, operations, outcome, reason, durationSeconds, lostEvents, divergences, diagnostics, crashSignature
    }

    /// `diagnostics` and `crashSignature` may be absent (summaries written before they existed).
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        seeds = try container.decode([UInt64].self, forKey: .seeds)
        operations = try container.decode(Int.self, forKey: .operations)
        outcome = try container.decode(Outcome.self, forKey: .outcome)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        durationSeconds = try container.decode(Double.self, forKey: .durationSeconds)
        lostEvents = try container.decode(UInt64.self, forKey: .lostEvents)
        divergences = try container.decode([DivergenceReport].self, forKey: .divergences)
        diagnostics = try container.decodeIfPresent([String].self, forKey: .diagnostics) ?? []
        crashSignature = try container.decodeIfPresent(CrashSignature.self, forKey: .crashSignature)
    }
}

/// A divergence, shrunk: what the model allowed, what the kernel did, and how to replay it.
struct DivergenceReport: Codable, Equatable, Sendable {
    var seed: UInt64
    /// Operation kind and mismatch kind, held fixed while shrinking.
    var signature: String
    /// The divergent step (1-based) of the minimal sequence.
    var step: Int
    var operation: String
    var expected: String
    var observed: String
    /// Observations backing the verdict (probe events, refcounts).
    var evidence: [String]
    /// The minimal sequence, one operation per line.
    var minimal: [String]
    /// The case file holding the minimal sequence, if one was written.
    var caseFile: String?
    var shrinkExecutions: Int
    /// How often the minimal case reproduced, e.g. `3/3`.
    var reproduced: String
    /// A standalone C program that reproduces the divergence, if the target has them (vsock).
    var reproducer: String? = nil
}

/// Whether a probe attached, and through which mechanism (fentry, kprobe, …).
struct ProbeReport: Codable, Equatable, Sendable {
    var function: String
    var mechanism: String
    var attached: Bool
    var reason: String?
}

extension DivergenceReport {
    /// Reproduced on some re-runs of the minimal case but not all (`2/3`), or on none (`0/3`: seen
    /// once, in the run that found it): a flaky reproducer. `0/0` is a case not re-run (not shrunk).
    var isFlaky: Bool {
        let parts = reproduced.split(separator: "/").compactMap { Int($0) }
        return parts.count == 2 && parts[0] < parts[1]
    }
}

extension CheckReport {
    func count(_ outcome: BatchResult.Outcome) -> Int { batches.count(where: { $0.outcome == outcome }) }

    var passed: Int { count(.pass) }
    var failed: Int { count(.fail) }
    var inconclusive: Int { count(.inconclusive) }
    var skipped: Int { count(.skip) }
    var operations: Int { batches.reduce(0) { $0 + $1.operations } }
    var divergences: Int { batches.reduce(0) { $0 + $1.divergences.count } }

    /// kselftest's exit status for this report; see the type's documentation.
    var exitStatus: ExitStatus {
        if failed > 0 || inconclusive > 0 { return .divergence }
        if skipped == batches.count { return .skip }
        return .pass
    }

    /// The plain closing line CI reads: `N passed, N failed` (`, N skipped` when any were).
    /// Inconclusive batches count as failed here, as they do in the exit status.
    var closingLine: String {
        var line = "\(passed) passed, \(failed + inconclusive) failed"
        if skipped > 0 { line += ", \(skipped) skipped" }
        return line
    }

    /// The command that replays a divergence's case file against the model.
    func replayCommand(for divergence: DivergenceReport) -> String? {
        divergence.caseFile.map { "checker replay \(ShellQuoting.quote($0)) --profile \(ShellQuoting.quote(profile))" }
    }
}

/// Quoting for a POSIX shell: words made only of safe characters stay as they are.
enum ShellQuoting {
    static func quote(_ word: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")
        if !word.isEmpty, word.allSatisfy({ safe.contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func join(_ words: [String]) -> String { words.map(quote).joined(separator: " ") }
}

/// The counts of a report, in `summary.json`: what CI dashboards plot.
struct Totals: Codable, Equatable, Sendable {
    var tests: Int
    var passed: Int
    var failed: Int
    var inconclusive: Int
    var skipped: Int
    var operations: Int
    var divergences: Int
    var lostEvents: UInt64
    var durationSeconds: Double

    init(_ report: CheckReport) {
        tests = report.batches.count
        passed = report.passed
        failed = report.failed
        inconclusive = report.inconclusive
        skipped = report.skipped
        operations = report.operations
        divergences = report.divergences
        lostEvents = report.batches.reduce(0) { $0 + $1.lostEvents }
        durationSeconds = report.durationSeconds
    }
}
