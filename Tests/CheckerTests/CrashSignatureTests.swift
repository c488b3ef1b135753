import Foundation
import Model
import Testing
@testable import checker

/// The crash signature parser on real kernel reports: each console in `Consoles/` was captured
/// in the test VM (Debian 6.1.176, TCG) by `scripts/crash-consoles/capture.sh`, which loads a
/// module that makes the kernel report one kind of bug from a function named after it; the
/// sanitizer kernel's consoles (`kasan-6.1-*`, `kcsan-6.1-*`, `lockdep-6.1-*`) were captured in
/// the test VM booting `checker kernel build`'s kernels with the sanitizers' own test modules;
/// the `*-syzkaller-N` ones are quoted from syzkaller's parser tests (see the test that reads them).
@Suite("crash signatures from real consoles")
struct CrashSignatureTests {
    typealias Finding = ConsoleScanner.Finding

    static let consoles = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Consoles")

    static func console(_ name: String) throws -> String {
        try String(contentsOf: consoles.appendingPathComponent(name + ".log"), encoding: .utf8)
    }

    static func signature(_ name: String) throws -> CrashSignature {
        let scan = ConsoleScanner.scan(try console(name))
        return try #require(scan.worst?.signature, "\(name): no signature in \(scan.findings.map(\.message))")
    }

    @Test("each kind of report gets its kind and the function that has the bug",
          arguments: [
              ("oops", "BUG: kernel NULL pointer dereference in crashkind_null_write", ["crashkind_null_write", "crashkind_init"]),
              ("gpf", "general protection fault in crashkind_noncanonical_write", ["crashkind_noncanonical_write", "crashkind_init"]),
              ("warning", "WARNING in crashkind_warn", ["crashkind_warn", "crashkind_init"]),
              ("bug", "kernel BUG in crashkind_bug", ["crashkind_bug", "crashkind_init"]),
              // RIP is in delay_tsc: a delay loop is where the CPU spins, not the code that is stuck.
              ("rcu-stall", "INFO: rcu detected stall in crashkind_spin", ["crashkind_spin", "crashkind_init"]),
              ("soft-lockup", "BUG: soft lockup in crashkind_spin", ["crashkind_spin", "crashkind_init"]),
              // __schedule, schedule, __mutex_lock: waiting, so the first frame that is not.
              ("hang-loglevel7", "INFO: task hung in crashkind_init", ["crashkind_init"]),
          ])
    func kinds(name: String, title: String, frames: [String]) throws {
        let signature = try Self.signature(name)
        #expect(signature.title == title)
        #expect(signature.frames == frames)
        #expect(!signature.truncated)
    }

    @Test("a hung task at the test VM's log level: the header without its stack is a truncated signature")
    func hangWithoutStack() throws {
        // At loglevel=5 sched_show_task() (KERN_INFO) prints nothing: no function to name.
        let signature = try Self.signature("hang")
        #expect(signature.title == "INFO: task hung")
        #expect(signature.truncated)
        #expect(signature.description.contains("report cut"))
    }

    @Test("a report cut mid-way keeps its kind and says it was cut; cut after the RIP line it is whole")
    func truncatedReport() throws {
        let lines = try Self.console("oops").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.firstIndex { $0.contains("BUG: kernel NULL pointer dereference") })
        // The guest died four lines into the report: no RIP, no call trace.
        let cut = ConsoleScanner.scan(lines[...(header + 3)].joined(separator: "\n"))
        let signature = try #require(cut.worst?.signature)
        #expect(signature.title == "BUG: kernel NULL pointer dereference")
        #expect(signature.truncated)
        // Cut right after the RIP line: the title is the same as the whole report's.
        let rip = try #require(lines.firstIndex { $0.contains("RIP: 0010:") })
        let atRIP = try #require(ConsoleScanner.scan(lines[...rip].joined(separator: "\n")).worst?.signature)
        #expect(atRIP.title == "BUG: kernel NULL pointer dereference in crashkind_null_write")
        #expect(atRIP.isSameBug(as: try Self.signature("oops")))
    }

    @Test("the same bug in two runs has one signature; different bugs have different ones")
    func identity() throws {
        let oops = try Self.signature("oops"), gpf = try Self.signature("gpf")
        #expect(!oops.isSameBug(as: gpf))
        // The repeated stall reports of one run are one bug.
        let stalls = ConsoleScanner.scan(try Self.console("rcu-stall")).findings.compactMap(\.signature)
        #expect(stalls.count >= 2)
        #expect(stalls.allSatisfy { $0.isSameBug(as: stalls[0]) })
    }

    @Test("the series' two crashes (findings 1 and 2), captured with their C reproducers on the v5 modules")
    func vsockFindings() throws {
        // Finding 1: a call through a wild pointer (RIP 0x1); every frame is questionable.
        let wild = try Self.signature("vsock-wild-call")
        #expect(wild.title == "BUG: kernel NULL pointer dereference in virtio_transport_dgram_enqueue")
        #expect(wild.frames == ["virtio_transport_dgram_enqueue", "vsock_dgram_sendmsg", "__sock_sendmsg"])
        // Finding 2: RIP 0 (a NULL function pointer) called from the receive path.
        let recv = try Self.signature("vsock-recvfrom-null")
        #expect(recv.title == "BUG: kernel NULL pointer dereference in vsock_dgram_recvmsg")
        #expect(recv.frames == ["vsock_dgram_recvmsg", "__sys_recvfrom"])
        #expect(!wild.isSameBug(as: recv))
    }

    @Test("finding 7's lockdep assertion, captured on the KASAN + lockdep kernel with the series' modules")
    func vsockLockdepAssertion() throws {
        // lockdep_assert_held(&vsock_register_mutex) in vsock_use_local_transport(), inlined
        // into the lookup that vsock_dgram_sendmsg() calls without the mutex.
        let assertion = try Self.signature("vsock-lockdep-assert")
        #expect(assertion.title == "WARNING in vsock_connectible_lookup_transport")
        #expect(assertion.frames.prefix(2) == ["vsock_connectible_lookup_transport", "vsock_dgram_sendmsg"])
    }

    @Test("frame names: offsets, compiler suffixes and modules dropped; syscall prefixes stripped in titles")
    func names() {
        #expect(ConsoleText.functionName("crashkind_spin.constprop.0+0x1c/0x34 [crashkind]") == "crashkind_spin")
        #expect(ConsoleText.functionName("0x58") == nil)
        #expect(ConsoleText.functionName("? 0xffffffffc06a8000") == nil)
        #expect(GenericFrames.strippingSyscallPrefix("__x64_sys_sendto") == "sendto")
        #expect(GenericFrames.strippingSyscallPrefix("__sys_recvfrom") == "recvfrom")
        #expect(ConsoleText.message(of: "checker: progress[   77.000001] BUG: unable to handle page fault") == "BUG: unable to handle page fault")
        #expect(ConsoleText.message(of: "<4>[   12.000000] general protection fault") == "general protection fault")
    }

    /// Sanitizer and lockdep reports quoted from syzkaller's parser tests
    /// (github:google/syzkaller, pkg/report/testdata/linux/report/<N> at commit 1e72964b0111),
    /// each with the title syzkaller's parser gives it (the file's TITLE line).
    @Test("KASAN, KCSAN and lockdep reports from syzkaller's test data get syzkaller's titles",
          arguments: [
              // 6.15: the header names __list_add_valid_or_report, a list helper; the caller is the bug.
              ("kasan-syzkaller-740", "KASAN: slab-use-after-free Read in chrdev_open", Finding.Kind.kasan),
              // 5.3 with printk caller ids (`[    C4]`); names printed without offsets.
              ("kcsan-syzkaller-427", "KCSAN: data-race in find_next_bit / rcu_report_exp_cpu_mult", .kcsan),
              ("kcsan-syzkaller-449", "KCSAN: data-race in netlink_recvmsg / netlink_recvmsg", .kcsan),
              // The lock being taken (`at: [<…>] do_ip_setsockopt.isra.12+0x1d9/0x3210`).
              ("lockdep-circular-syzkaller-185", "possible deadlock in do_ip_setsockopt", .lockdep),
              // Recursive locking names the lock site as printed, a lock helper included.
              ("lockdep-recursive-syzkaller-234", "possible deadlock in rtnl_lock", .lockdep),
              // The RCU machinery and the allocator complain for their caller.
              ("lockdep-rcu-syzkaller-202", "WARNING: suspicious RCU usage in rds_tcp_conn_alloc", .lockdep),
          ])
    func syzkallerSanitizerReports(name: String, title: String, kind: ConsoleScanner.Finding.Kind) throws {
        // The first report is the one titled (449 ends in the panic panic_on_warn makes of it,
        // 202 goes on to a sleeping-in-atomic BUG).
        let scan = ConsoleScanner.scan(try Self.console(name))
        let first = try #require(scan.findings.first)
        #expect(ConsoleScanner.kind(of: first.message) == kind)
        #expect(first.signature?.title == title)
        #expect(first.signature?.truncated == false)
    }

    /// Reports from the sanitizer kernel (6.1.176-checker-kasan-lockdep, test VM, TCG), made by
    /// the kernel's own tests (scripts/crash-consoles/sanitizer-capture.sh), each file one report
    /// cut from the console from its opening `=====` line to its end (KASAN's closing `=====`,
    /// lockdep's `</TASK>`). Titles by syzkaller's rules for each kind (pkg/report/linux.go),
    /// worked out by hand.
    /// - KASAN: `modprobe kasan_test`, KASAN's own KUnit suite (77 reports).
    /// - lockdep: the boot-time locking self-test with debug_locks_verbose=1.
    @Test("KASAN's and lockdep's reports from the 6.1 sanitizer kernel get syzkaller's titles",
          arguments: [
              ("kasan-6.1-uaf", "KASAN: use-after-free Read in ksize_uaf", Finding.Kind.kasan),
              ("kasan-6.1-uaf-pagealloc", "KASAN: use-after-free Read in pagealloc_uaf", .kasan),
              // Most of KASAN's test functions are named after the allocator (kmalloc_…,
              // kmem_cache_…), and the allocator rule skips them as syzkaller's does (its report
              // test 338, the older test_kasan's kmalloc_oob_right, is titled `… in
              // do_one_initcall`): here KUnit's runner is what is left.
              ("kasan-6.1-oob", "KASAN: slab-out-of-bounds Write in kunit_try_run_case", .kasan),
              // A double free is titled invalid-free.
              ("kasan-6.1-double-free", "KASAN: invalid-free in kunit_try_run_case", .kasan),
              // The first `at:` after "is trying to acquire lock", as printed.
              ("lockdep-6.1-recursive", "possible deadlock in dotest", .lockdep),
              // The lock being taken: `(&lock_A){+.+.}-{2:2}, at: ABBA_spin+0x48/0x60`.
              ("lockdep-6.1-circular", "possible deadlock in ABBA_spin", .lockdep),
              // The first frame of the stack that is not lockdep's or the spinlock's own.
              ("lockdep-6.1-inconsistent", "inconsistent lock state in irqsafe1_hard_spin_12", .lockdep),
              // The lock whose state changed: `at: irqsafe4_hard_spin_123+0x10f/0x170`.
              ("lockdep-6.1-irq-inversion", "possible deadlock in irqsafe4_hard_spin_123", .lockdep),
              // The stack under "… which became HARDIRQ-irq-safe at:".
              ("lockdep-6.1-safe-unsafe", "possible deadlock in irqsafe4_hard_spin_231", .lockdep),
              // The `[<address>] f+0x…` line under "is trying to release lock (&lock_A) at:".
              ("lockdep-6.1-bad-unlock", "WARNING: bad unlock balance in dotest", .lockdep),
              ("lockdep-6.1-held-lock-freed", "WARNING: held lock freed in init_held_spin", .lockdep),
          ])
    func sanitizerKernelReports(name: String, title: String, kind: Finding.Kind) throws {
        let scan = ConsoleScanner.scan(try Self.console(name))
        // One finding: the stacks of most come more than 40 lines after the header.
        #expect(scan.findings.map(\.kind) == [kind])
        #expect(scan.findings.first?.signature?.title == title)
        #expect(scan.findings.first?.signature?.truncated == false)
        // The excerpt ends where the report does, when the report fits in it.
        if let excerpt = scan.findings.first?.excerpt, excerpt.count < ConsoleScanner.excerptLimit {
            #expect(excerpt.last?.contains(kind == .kasan ? "=====" : "</TASK>") == true)
        }
    }

    @Test("KASAN without its access line is a cut report; a bad free names the function that freed")
    func kasanVariants() throws {
        let cut = try #require(CrashSignature.parse([
            "[ 1.0] BUG: KASAN: use-after-free in vsock_dgram_recvmsg+0x1a2/0x2b0 [vsock]",
        ]))
        #expect(cut.title == "KASAN: use-after-free in vsock_dgram_recvmsg")
        #expect(cut.truncated)
        let free = try #require(CrashSignature.parse([
            "[ 1.0] BUG: KASAN: double-free in kfree+0x7c/0x120",
            "[ 1.0] Free of addr ffff888012345678 by task checker/312",
            "[ 1.0] Call Trace:",
            "[ 1.0]  <TASK>",
            "[ 1.0]  dump_stack_lvl+0x44/0x5c",
            "[ 1.0]  kasan_report_invalid_free+0x80/0x90",
            "[ 1.0]  kfree+0x7c/0x120",
            "[ 1.0]  vsock_release+0x20/0x40 [vsock]",
        ]))
        #expect(free.title == "KASAN: invalid-free in vsock_release")
    }

    @Test("the vm.guest test carries the signature: a `# signature:` KTAP line, in the JSON and the JUnit text")
    func reported() throws {
        let scan = ConsoleScanner.scan(try Self.console("gpf"))
        let batch = try #require(VMSession.guestBatch(scan: scan, ending: .stoppedAfterCrash, timeoutSeconds: 60, summaryProblem: nil,
                                                      progress: "step 4: sendto(s0, len=16, cid=1 port=1024)", consoleTail: [], seconds: 40))
        var report = CheckReport(target: "vsock", profile: "vsock-dgram-v5", kernel: "6.1.0-50-amd64", system: "test VM",
                                 startedAt: "2026-12-02T21:00:00Z", durationSeconds: 40)
        report.batches = [batch]
        let ktap = KTAPReporter.render(report)
        #expect(ktap.contains("# signature: general protection fault in crashkind_noncanonical_write (crashkind_noncanonical_write ← crashkind_init)\n"))
        let decoded = try JSONReporter.decode(JSONReporter.render(report))
        #expect(decoded.batches[0].crashSignature == batch.crashSignature)
        #expect(JUnitReporter.render(report).contains("signature: general protection fault in crashkind_noncanonical_write"))
    }

    @Test("a long run's crashes, deduplicated: the same bug again names its first seed")
    func ledger() throws {
        var ledger = CrashLedger()
        let oops = try Self.signature("oops"), gpf = try Self.signature("gpf")
        #expect(ledger.record(oops, seed: 52) == .new)
        #expect(ledger.record(gpf, seed: 58) == .new)
        #expect(ledger.record(oops, seed: 62) == .again(firstSeed: 52))
        #expect(CrashLedger.describe(oops, .again(firstSeed: 52)) == "the bug of seed 52 again: BUG: kernel NULL pointer dereference in crashkind_null_write")
        #expect(ledger.summary.count == 2)
        #expect(ledger.summary[0].hasSuffix("2 crashes, seeds 52, 62"))
    }

    @Test("a bug whose stored case still crashes is known before any seed hits it: no second reproduction")
    func ledgerKnowsStoredCrashes() throws {
        var ledger = CrashLedger()
        let oops = try Self.signature("oops"), gpf = try Self.signature("gpf")
        ledger.know(oops, storedCase: "store/vsock/p/crash-1.jsonl")
        #expect(ledger.summary.isEmpty)
        #expect(ledger.record(oops, seed: 7) == .stored(case: "store/vsock/p/crash-1.jsonl"))
        #expect(ledger.record(gpf, seed: 8) == .new)
        #expect(ledger.record(oops, seed: 9) == .again(firstSeed: 7))
        #expect(ledger.summary[0].hasSuffix("2 crashes, seeds 7, 9 (known: store/vsock/p/crash-1.jsonl)"))
    }
}

/// The journal a guest keeps of the execution under way: what a crashed guest leaves the host.
@Suite("execution journal")
struct ExecutionJournalTests {
    @Test("each execution starts the file again; the operations read back as a case, the last one the crashing one")
    func journal() throws {
        let folder = URL(fileURLWithPath: try CheckerProcess.temporaryFile("", name: "x")).deletingLastPathComponent().path
        let journal = ExecutionJournal(path: folder + "/" + ExecutionJournal.fileName,
                                       header: .init(target: "vsock", profile: "vsock-dgram-v5", system: "live kernel"))
        journal.begin()
        journal.record(.loadTransport(.vmci))
        journal.record(.socket(.dgram))
        journal.begin()   // the next seed, or a shrink candidate
        journal.record(.loadTransport(.loopback))
        journal.record(.socket(.dgram))
        journal.record(.recv(SocketRef(0), buffer: 16, source: true))
        #expect(CrashReproduction.journaled(in: folder) == [.loadTransport(.loopback), .socket(.dgram), .recv(SocketRef(0), buffer: 16, source: true)])
        journal.begin()
        #expect(CrashReproduction.journaled(in: folder) == nil)   // a header alone: nothing ran yet
    }
}

extension CrashSignatureTests {
    @Test("a KASAN report is one finding up to its closing line, however long its allocation and free stacks")
    func longReports() throws {
        let console = try Self.console("kasan-syzkaller-740")
        let scan = ConsoleScanner.scan(console)
        // Its Call Trace, RIP and the stacks below come more than 40 lines after the header.
        #expect(scan.findings.map(\.kind) == [.kasan])
        let lines = console.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("BUG: KASAN") })
        let end = try #require(ConsoleScanner.reportEnd(lines, from: header, kind: .kasan))
        #expect(lines[end].allSatisfy { $0 == "=" } && end > header + 40)
        #expect(ConsoleScanner.endsTheRun(lines[header]))
        #expect(!ConsoleScanner.endsTheRun("BUG: KCSAN: data-race in a / b"))
        #expect(!ConsoleScanner.endsTheRun("WARNING: possible circular locking dependency detected"))
    }
}
