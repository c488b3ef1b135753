import Foundation
import Generators
import Model

/// The failure store's crash cases of a vsock profile (cases whose header names the kernel bug
/// they crash the kernel with, kept by a crash reproduction), run again before `checker series`
/// runs its seeds, in test VMs of their own (a crash ends only its guest; the guest's `run` leaves
/// these cases alone). One reported test, `vsock.<profile>.stored-crashes`: it fails when a case
/// still crashes the kernel (with the bug, known from then on), passes when none does (each
/// moved to `fixed/`, as a divergence case that no longer diverges is), and is absent when the
/// store holds no crash case of the profile.
struct StoredCrashes {
    struct Stored {
        var path: String
        /// The title of the bug it crashed the kernel with when it was kept.
        var crash: String
        var operations: [VsockOperation]
    }

    /// What the replays came to.
    struct Outcome {
        var batch: BatchResult
        /// The cases that still crash the kernel with their bug, and that bug as it showed now.
        var stillCrashing: [(signature: CrashSignature, path: String)]
    }

    let store: FailureStore
    let profile: String

    /// The profile's crash cases, oldest name first; a file that cannot be read is named in
    /// `unreadable`.
    func cases() -> (cases: [Stored], unreadable: [String]) {
        var cases: [Stored] = []
        var unreadable: [String] = []
        for path in store.cases(target: CheckTarget.vsock.rawValue, profile: profile) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let header = try? CaseFile<VsockOperation, VsockObservation>.header(of: text) else {
                unreadable.append(path)
                continue
            }
            guard let crash = header.crash else { continue }
            guard let caseFile = try? CaseFile<VsockOperation, VsockObservation>(decoding: text) else {
                unreadable.append(path)
                continue
            }
            cases.append(Stored(path: path, crash: crash, operations: caseFile.steps.map(\.op)))
        }
        return (cases, unreadable)
    }

    /// Replays each crash case live through `reproduction`'s guests. A case that does not crash a
    /// guest that ran other cases before it runs again in a fresh one before it is called fixed:
    /// a crash may need a fresh kernel. Nil when the store holds no crash case of the profile.
    /// `found`: what ``cases()`` returned.
    func replay(_ found: (cases: [Stored], unreadable: [String]), using reproduction: CrashReproduction,
                note: (String) -> Void) throws -> Outcome? {
        let (stored, unreadable) = found
        guard !stored.isEmpty || !unreadable.isEmpty else { return nil }
        let started = Date()
        var outcome = Outcome(batch: BatchResult(name: "vsock.\(profile).stored-crashes", seeds: [], operations: 0, outcome: .pass,
                                                 reason: nil, durationSeconds: 0, lostEvents: 0, divergences: []),
                              stillCrashing: [])
        var reasons: [String] = []
        for path in unreadable {
            outcome.batch.outcome = .inconclusive
            reasons.append("\(path) cannot be read as a vsock case; fix or remove it")
        }
        defer { reproduction.shutDown() }
        for one in stored {
            let name = URL(fileURLWithPath: one.path).lastPathComponent
            var attempt = try reproduction.attempt(one.operations)
            if attempt.signature == nil, attempt.caseInGuest > 1 {
                attempt = try reproduction.attempt(one.operations, freshGuest: true)
            }
            outcome.batch.operations += attempt.ran.count
            if attempt.signature == nil, attempt.guestEnded {
                // Killed at the bound with nothing on the console: a hang, not a fix.
                if outcome.batch.outcome == .pass { outcome.batch.outcome = .inconclusive }
                note("\(name) did not finish within \(Int(CrashReproduction.attemptBound.seconds)) s; its guest was killed")
                reasons.append("\(name) did not finish within \(Int(CrashReproduction.attemptBound.seconds)) s (console: \(attempt.folder)/console.log)")
                continue
            }
            guard let hit = attempt.signature else {
                let moved = try store.markFixed(one.path)
                note("\(name) no longer crashes the kernel (\(one.crash)): fixed, moved to \(moved)")
                reasons.append("fixed: \(name) no longer crashes the kernel (moved to \(moved))")
                continue
            }
            outcome.batch.outcome = .fail
            outcome.batch.crashSignature = outcome.batch.crashSignature ?? hit
            if hit.title == one.crash {
                outcome.stillCrashing.append((hit, one.path))
                note("\(name) still crashes the kernel: \(hit)")
                reasons.append("\(name) still crashes the kernel: \(hit.title)")
            } else {
                note("\(name) crashes the kernel with ANOTHER bug: \(hit) (kept as \(one.crash))")
                reasons.append("\(name) crashes the kernel with another bug: \(hit.title) (kept as \(one.crash))")
            }
            outcome.batch.diagnostics += ["\(name): signature: \(hit)", "  case: \(one.path)",
                                          "  console: \(attempt.folder)/console.log"]
        }
        outcome.batch.reason = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
        outcome.batch.durationSeconds = Date().timeIntervalSince(started)
        return outcome
    }
}
