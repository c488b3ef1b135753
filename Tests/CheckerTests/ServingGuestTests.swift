import Foundation
import Testing
@testable import checker

/// The host's side of a test VM that serves cases (crash reproduction's attempts), against a
/// stand-in for vng that plays the guest: it answers the queue's cases, and for a case that
/// says so prints a real oops (captured in the test VM) and stops answering, hangs, or exits.
@Suite("serving guest")
struct ServingGuestTests {
    static func scratch() throws -> String {
        try VMResultsFolder.create(under: FileManager.default.temporaryDirectory
            .appendingPathComponent("checker-serving-\(UUID().uuidString)").path)
    }

    /// A guest whose cases are answered by a shell script standing in for vng.
    static func guest(bound backstop: Duration = .seconds(120)) throws -> ServingGuest {
        let folder = try scratch()
        let queue = ServingGuest.queueFolder(in: folder)
        let oops = CrashSignatureTests.consoles.appendingPathComponent("oops.log").path
        let script = folder + "/vng"
        try """
            #!/bin/sh
            q=\(queue)
            n=1
            while :; do
              while [ ! -f $q/case-$n.jsonl ]; do
                [ -f $q/stop ] && exit 0
                sleep 0.02
              done
              grep -q crash $q/case-$n.jsonl && { cat \(oops) >&2; exec sleep 600; }
              grep -q hang $q/case-$n.jsonl && exec sleep 600
              grep -q quit $q/case-$n.jsonl && exit 3
              status=0; grep -q diverge $q/case-$n.jsonl && status=1
              echo $status > $q/case-$n.done.partial; mv $q/case-$n.done.partial $q/case-$n.done
              n=$((n+1))
            done

            """.write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        var session = VMSession(
            vng: script,
            command: VngCommand(kernel: "/boot/vmlinuz-6.1.0-50-amd64", memory: "2G", cpus: 2, kvm: false,
                                qemuOptions: [], resultsFolder: folder, guestCommand: ["/c", "replay"]),
            guestArguments: ["replay", "--serve", queue, "--on", "live"], folder: folder, timeoutSeconds: 60, echoConsole: false)
        session.crashGrace = .seconds(1)
        return try ServingGuest(session, queueFolder: queue, backstop: backstop)
    }

    /// Runs `body` on a thread of its own: a guest's VM runs on the concurrency pool, which
    /// the tests' polling must not hold (on 2 cores it has 2 threads).
    static func offThePool(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            Thread { done.resume(with: Result { try body() }) }.start()
        }
    }

    @Test("cases that do not crash share one guest; a crash ends it, with the bug its console names",
          .timeLimit(.minutes(1)))
    func servesUntilCrash() async throws { try await Self.offThePool {
        let guest = try Self.guest()
        guard case let .finished(first) = try guest.replay("plain", within: .seconds(30)) else {
            Issue.record("the first case did not finish")
            return
        }
        #expect(first == CaseQueue.Answer(status: 0, last: false))
        guard case let .finished(second) = try guest.replay("diverge", within: .seconds(30)) else {
            Issue.record("the second case did not finish")
            return
        }
        #expect(second.status == 1)
        #expect(guest.isServing)
        guard case let .ended(conclusion) = try guest.replay("crash", within: .seconds(30)) else {
            Issue.record("the crash did not end the guest")
            return
        }
        #expect(guest.served == 3)
        #expect(!guest.isServing)
        #expect(conclusion.report?.crashSignature?.title == "BUG: kernel NULL pointer dereference in crashkind_null_write")
    } }

    @Test("a case past its bound: the VM is killed and says so; no bug is made up", .timeLimit(.minutes(1)))
    func hangIsKilledAtTheBound() async throws { try await Self.offThePool {
        let guest = try Self.guest()
        guard case let .ended(conclusion) = try guest.replay("hang", within: .seconds(1)) else {
            Issue.record("the hanging case did not end the guest")
            return
        }
        #expect(conclusion.report?.crashSignature == nil)
        let batch = try #require(conclusion.report?.batches.last)
        #expect(batch.outcome == .inconclusive)
        #expect(batch.reason?.contains("did not finish within its bound") == true)
    } }

    @Test("a guest that exits before it answered is the checker's problem, named with its console",
          .timeLimit(.minutes(1)))
    func exitWithoutAnswerIsAnError() async throws { try await Self.offThePool {
        let guest = try Self.guest()
        #expect(throws: ServingGuest.GuestProblem.self) { try guest.replay("quit", within: .seconds(30)) }
    } }

    @Test("shut down: the guest is told to stop and ends", .timeLimit(.minutes(1)))
    func shutDown() async throws { try await Self.offThePool {
        let guest = try Self.guest()
        _ = try guest.replay("plain", within: .seconds(30))
        guest.shutDown()
        #expect(!guest.isServing)
        #expect(FileManager.default.fileExists(atPath: guest.folder + "/queue/stop"))
    } }
}

@Suite("case queue")
struct CaseQueueTests {
    @Test("a case posted is found whole; the answer reads back with its last mark; stop ends the wait")
    func protocolFiles() throws {
        let folder = try ServingGuestTests.scratch()
        let queue = CaseQueue(folder: folder)
        #expect(queue.answer(1) == nil)
        try queue.post("{}\n", number: 1)
        #expect(queue.waitForCase(1, idle: .seconds(5)) == queue.casePath(1))
        #expect(try String(contentsOfFile: queue.casePath(1), encoding: .utf8) == "{}\n")
        #expect(!FileManager.default.fileExists(atPath: queue.casePath(1) + ".partial"))
        try queue.answer(1, .init(status: 1, last: false))
        #expect(queue.answer(1) == .init(status: 1, last: false))
        try queue.answer(2, .init(status: 0, last: true))
        #expect(queue.answer(2) == .init(status: 0, last: true))
        #expect(queue.waitForCase(2, idle: .milliseconds(100)) == nil)
        try queue.stop()
        #expect(queue.waitForCase(2, idle: .seconds(30)) == nil)
    }
}
