import Foundation
import Generators
import Model

/// A kernel crash, reproduced, shrunk and run again in fresh test VMs, as syzkaller's syz-repro
/// does: the crashed guest's journal (``ExecutionJournal``) holds the operations that led to the
/// crash; each attempt replays a case live in a test VM (`checker replay --serve … --on live
/// --past-divergences --journal …`: a divergence on the way does not stop it) and counts when its
/// kernel crashes with the same bug (``CrashSignature/isSameBug(as:)``). A crash with another
/// signature is a second bug: kept and reported as its own finding, never shrunk into.
///
/// Attempts share a guest until one crashes it (``ServingGuest``): a boot costs 12-20 s under
/// TCG, a candidate that does not crash only its own run. The confirmation of the original
/// sequence and the reruns of the minimal one run in fresh guests. The shrink is capped in time
/// and says when the cap was hit.
final class CrashReproduction {
    /// What one attempt did.
    struct Attempt {
        /// The bug the guest's kernel hit, or nil when it did not crash.
        var signature: CrashSignature?
        /// The operations that ran, up to the crashing one (the journal), or all of them.
        var ran: [VsockOperation]
        /// The guest's results folder (console.log, the journal).
        var folder: String
        /// Which of its guest's cases it was (1: the guest's first, a fresh kernel).
        var caseInGuest: Int
        /// The guest ended during the attempt: its kernel crashed, or the attempt ran past
        /// ``CrashReproduction/attemptBound`` (a hang; with a signature when the console showed it).
        var guestEnded: Bool
    }

    /// What came of a crash.
    struct Outcome {
        var signature: CrashSignature
        /// The operations that led to the crash in the run that found it.
        var original: [VsockOperation]
        /// Whether the original sequence crashed a fresh guest with the same bug.
        var confirmed: Bool
        var minimal: [VsockOperation]
        var shrinkAttempts: Int
        var shrinkExit: ShrinkExitReason?
        var shrinkSeconds: Double
        /// Fresh-guest runs of the minimal case that crashed with the same bug, of `reruns`.
        var reproduced: Int
        var reruns: Int
        /// Other bugs candidates hit on the way.
        var otherBugs: [(CrashSignature, [VsockOperation])]
        /// Attempts in all, and the guests booted for them.
        var attempts: Int
        var guests: Int
    }

    /// How long an attempt's guest goes on after its kernel crashed: the report is on the
    /// console by then (the checker's runs wait 30 s, for what the guest still writes).
    static let crashGrace: Duration = .seconds(4)
    /// How long one attempt may run in its guest before the VM is killed: long enough for a
    /// hung task to be reported (30-60 s after it blocked: the checker sets the test VM's
    /// `hung_task_timeout_secs` to 30; the report stops the VM) and for a long case under TCG.
    static let attemptBound: Duration = .seconds(240)

    let vm: VM
    let accelerator: AcceleratorChoice
    let profile: String
    /// The rebuilt modules the guest loads (`--modules`), as the crashing run did.
    let modules: String?
    /// Where the reproduction's case files and C program go (the attempts' cases go to their
    /// guest's queue).
    let work: String
    private(set) var attempts = 0
    /// Guests booted for attempts.
    private(set) var guests = 0
    /// The guest that takes the next attempt, while it serves.
    private var guest: ServingGuest?

    init(vm: VM, accelerator: AcceleratorChoice, profile: String, modules: String?, work: String) throws {
        self.vm = vm
        self.accelerator = accelerator
        self.profile = profile
        self.modules = modules
        self.work = work
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// The operations a crashed guest's journal holds (nil: no journal, or no operation in it).
    static func journaled(in folder: String) -> [VsockOperation]? {
        let path = URL(fileURLWithPath: folder).appendingPathComponent(ExecutionJournal.fileName).path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let caseFile = try? CaseFile<VsockOperation, VsockObservation>(decoding: text), !caseFile.steps.isEmpty else { return nil }
        return caseFile.steps.map(\.op)
    }

    /// The case file of `operations`, for the guest to replay and for the report.
    /// `crash`: the title of the bug it crashes the kernel with (a case for the failure store).
    func writeCase(_ operations: [VsockOperation], name: String, seed: UInt64? = nil, crash: String? = nil) throws -> String {
        let path = URL(fileURLWithPath: work).appendingPathComponent(name).path
        try caseText(operations, seed: seed, crash: crash).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The text of a case file of `operations` under the reproduction's profile and modules.
    private func caseText(_ operations: [VsockOperation], seed: UInt64? = nil, crash: String? = nil) throws -> String {
        let system = "live kernel" + (modules.map { " with modules from \($0)" } ?? "")
        return try CaseFile<VsockOperation, VsockObservation>(
            header: .init(target: "vsock", profile: profile, seed: seed, system: system, crash: crash),
            steps: operations.map { .init(op: $0) }).encoded()
    }

    /// `operations` replayed live: in the guest that served the last attempt, unless it crashed,
    /// or in a new one (always with `freshGuest`).
    func attempt(_ operations: [VsockOperation], freshGuest: Bool = false) throws -> Attempt {
        attempts += 1
        if freshGuest { shutDown() }
        let guest = try servingGuest()
        switch try guest.replay(try caseText(operations), within: Self.attemptBound) {
        case .finished:
            if !guest.isServing { self.guest = nil }
            return Attempt(signature: nil, ran: operations, folder: guest.folder, caseInGuest: guest.served, guestEnded: false)
        case let .ended(conclusion):
            self.guest = nil
            return Attempt(signature: conclusion.report?.crashSignature, ran: Self.journaled(in: guest.folder) ?? operations,
                           folder: guest.folder, caseInGuest: guest.served, guestEnded: true)
        }
    }

    /// The guest that serves attempts now, booting one when none does.
    private func servingGuest() throws -> ServingGuest {
        if let guest, guest.isServing { return guest }
        guests += 1
        var queue = ""
        var session = try vm.prepare(accelerator: accelerator) { folder in
            queue = ServingGuest.queueFolder(in: folder)
            return ["replay", "--serve", queue, "--on", "live", "--past-divergences",
                    "--journal", URL(fileURLWithPath: folder).appendingPathComponent(ExecutionJournal.fileName).path]
                + (self.modules.map { ["--modules", $0] } ?? [])
        }
        session.crashGrace = Self.crashGrace
        let guest = try ServingGuest(session, queueFolder: queue, backstop: .seconds(6 * 3600))
        self.guest = guest
        return guest
    }

    /// Stops the serving guest, if one runs.
    func shutDown() {
        guest?.shutDown()
        guest = nil
    }

    /// Boots a prepared guest to its end, stopping it soon after a crash; the bug its kernel
    /// hit, or nil.
    private func crashSignature(booting prepared: VMSession) throws -> CrashSignature? {
        var session = prepared
        session.crashGrace = Self.crashGrace
        let booting = session
        let outcome = try VM.blocking { try await booting.boot() }
        return try session.conclude(outcome).report?.crashSignature
    }

    /// A C reproducer of the crash, compiled here and run alone in a fresh guest (its console
    /// watched as the checker's is): the bug it crashed the guest with, nil when it did not
    /// crash; or the compiler's complaint.
    func runProgram(source: String, name: String) throws -> (signature: CrashSignature?, problem: String?) {
        let file = URL(fileURLWithPath: work).appendingPathComponent(name).path
        try source.write(toFile: file, atomically: true, encoding: .utf8)
        let binary = String(file.dropLast(2))
        let compiled = try Tools.run("cc", ["-O2", "-Wall", "-o", binary, file])
        guard compiled.succeeded else { return (nil, "cc \(file) failed: \(compiled.tail)") }
        let execVM = try VM.parse(["--kernel", vm.kernel, "--results", vm.results, "--timeout", String(vm.timeout), "--exec", binary])
        return (try crashSignature(booting: try execVM.prepare(accelerator: accelerator)), nil)
    }

    /// Confirms the crash of `original` in a fresh guest, shrinks it within `limits` (a candidate
    /// counts when it crashes with the same bug), and runs the minimal case `reruns` more times.
    func reproduce(_ signature: CrashSignature, original: [VsockOperation], limits: ShrinkLimits,
                   reruns: Int = 3, note: @escaping (String) -> Void) throws -> Outcome {
        var otherBugs: [(CrashSignature, [VsockOperation])] = []
        defer { shutDown() }
        func sameBug(_ attempt: Attempt) -> Bool {
            guard let hit = attempt.signature else { return false }
            if hit.isSameBug(as: signature) { return true }
            if !otherBugs.contains(where: { $0.0.isSameBug(as: hit) }) {
                otherBugs.append((hit, attempt.ran))
                note("another bug on the way (kept, not shrunk into): \(hit)")
            }
            return false
        }
        let first = try attempt(original, freshGuest: true)
        let confirmed = sameBug(first)
        note(confirmed ? "the \(original.count) operations crash a fresh guest with the same bug"
             : "the \(original.count) operations did not crash a fresh guest with the same bug"
                + (first.signature.map { " (it hit \($0.title))" } ?? ""))
        var minimal = confirmed ? first.ran : original
        var shrinkAttempts = 0
        var exit: ShrinkExitReason?
        let started = Date()
        if confirmed {
            let shrinker = Shrinker(initial: minimal, limits: limits, domain: VsockOperationGenerator().shrinkDomain,
                                    strategy: .fewExecutions) { candidate in
                shrinkAttempts += 1
                let result = try self.attempt(candidate)
                guard sameBug(result) else { return nil }
                note("shrink: \(result.ran.count) operations still crash (attempt \(shrinkAttempts), "
                     + (result.caseInGuest == 1 ? "a fresh guest)" : "case \(result.caseInGuest) of its guest)"))
                return result.ran
            }
            let result = try shrinker.shrink()
            minimal = result.minimal
            exit = result.exitReason
        }
        let seconds = Date().timeIntervalSince(started)
        var reproduced = 0
        if confirmed {
            for _ in 0..<reruns where sameBug(try attempt(minimal, freshGuest: true)) { reproduced += 1 }
        }
        return Outcome(signature: signature, original: original, confirmed: confirmed, minimal: minimal,
                       shrinkAttempts: shrinkAttempts, shrinkExit: exit, shrinkSeconds: seconds,
                       reproduced: reproduced, reruns: confirmed ? reruns : 0, otherBugs: otherBugs,
                       attempts: attempts, guests: guests)
    }
}

extension CheckReport {
    /// The test of a guest whose kernel crashed (`vm.guest`, failed, with a signature), if any.
    var crashedGuest: BatchResult? {
        batches.first { $0.name.hasPrefix(VMSession.guestBatchName) && $0.outcome == .fail && $0.crashSignature != nil }
    }

    /// The signature of the kernel bug a crashed guest's report names, if any.
    var crashSignature: CrashSignature? { crashedGuest?.crashSignature }
}
