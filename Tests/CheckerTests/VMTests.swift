import Foundation
import Testing
@testable import checker

/// Console texts as the 6.1.176 guest prints them at loglevel=5 (the panic is a real capture of
/// `echo c > /proc/sysrq-trigger` under TCG, cut short).
enum ConsoleSamples {
    static let cleanBoot = """
        Probing EDD (edd=off to disable)... ok
        [    0.000000] Linux version 6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1
        [    0.000000] printk: bootconsole [earlyser0] enabled
        [    0.052000] tsc: Unable to calibrate against PIT
        [    1.362407] mtrr: your CPUs had inconsistent fixed MTRR settings
        [    7.532608] Unstable clock detected, switching default tracing clock to "global"
        KTAP version 1
        1..1
        # step 1: socket(dgram)
        # vsock.mainline.seeds-1-1: divergence at seed 1, step 1: socket(dgram) [socket/errno]
        #   observed: WARNING: this quotes a kernel marker but is the checker's own text
        #   evidence: BUG: also quoted
        not ok 1 vsock.mainline.seeds-1-1
        # Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0
        """

    static let panic = """
        # step 6: sendto(#1, cid 2, port 1024, len 1)
        # step 7: socket(dgram)
        [   58.500827] sysrq: Trigger a crash
        [   58.502261] Kernel panic - not syncing: sysrq triggered crash
        [   58.502808] CPU: 0 PID: 241 Comm: sh Not tainted 6.1.0-50-amd64 #1  Debian 6.1.176-1
        [   58.503220] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
        [   58.503809] Call Trace:
        [   58.505151]  <TASK>
        [   58.505573]  dump_stack_lvl+0x44/0x5c
        [   58.505857]  panic+0x118/0x2f4
        [   58.505857]  sysrq_handle_crash+0x16/0x20
        [   58.505857]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
        [   58.505857] RIP: 0033:0x7f0b33c51350
        [   58.505857]  </TASK>
        [   58.505857] Kernel Offset: 0x28600000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)
        """

    static let nullDereference = """
        # step 3: sendto(#1, cid 2, port 1024, len 1)
        [   42.123456] BUG: kernel NULL pointer dereference, address: 0000000000000008
        [   42.123789] #PF: supervisor read access in kernel mode
        [   42.124000] #PF: error_code(0x0000) - not-present page
        [   42.124100] PGD 0 P4D 0
        [   42.124200] Oops: 0000 [#1] PREEMPT SMP NOPTI
        [   42.124300] CPU: 1 PID: 312 Comm: checker Not tainted 6.1.0-50-amd64 #1  Debian 6.1.176-1
        [   42.124400] RIP: 0010:vsock_dgram_sendmsg+0x5a/0x2b0 [vsock]
        [   42.125000] Call Trace:
        [   42.125100]  <TASK>
        [   42.125200]  __sys_sendto+0x11e/0x190
        [   42.125300]  </TASK>
        [   42.125400] ---[ end trace 0000000000000000 ]---
        [   42.125500] note: checker[312] exited with irqs disabled
        """

    static let warning = """
        [   10.000000] ------------[ cut here ]------------
        [   10.000100] WARNING: CPU: 0 PID: 250 at net/vmw_vsock/af_vsock.c:1234 vsock_assign_transport+0x1a4/0x1b0 [vsock]
        [   10.000200] Modules linked in: vsock_loopback vmw_vsock_virtio_transport_common vsock
        [   10.000400] RIP: 0010:vsock_assign_transport+0x1a4/0x1b0 [vsock]
        [   10.000500] Call Trace:
        [   10.000600]  <TASK>
        [   10.000700]  vsock_dgram_connect+0x8c/0x100 [vsock]
        [   10.000800]  </TASK>
        [   10.000900] ---[ end trace 0000000000000000 ]---
        # step 9: close(#2)
        """

    static let softLockup = """
        [  300.100000] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [checker:312]
        """

    static let hungTask = """
        [  245.000000] INFO: task checker:312 blocked for more than 120 seconds.
        [  245.000100]       Not tainted 6.1.0-50-amd64 #1 Debian 6.1.176-1
        [  245.000300] Call Trace:
        """

    static let gpf = """
        <4>[   12.000000] general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI
        """

    /// The guest's stderr and the kernel console share a stream: a kernel line can start mid-line.
    static let interleaved = """
        checker: progress[   77.000001] BUG: unable to handle page fault for address: ffffffffc0a00000
        """
}

@Suite("checker vm: the vng command line")
struct VngCommandTests {
    static let folder = "/work/main/.checker-results/20261121T220301Z"

    @Test("golden: TCG, results folder writable, console kept, the checker run inside")
    func golden() {
        let command = VngCommand(
            kernel: "/boot/vmlinuz-6.1.0-50-amd64", memory: "2G", cpus: 2, kvm: false, qemuOptions: [],
            resultsFolder: Self.folder,
            guestCommand: VngCommand.guestCommand(checker: "/work/main/.build/debug/checker",
                                                  arguments: ["run", "--profile", "mainline", "--seeds", "20"],
                                                  resultsFolder: Self.folder))
        #expect(command.arguments == [
            "-r", "/boot/vmlinuz-6.1.0-50-amd64", "--disable-kvm", "--memory", "2G", "--cpus", "2",
            "--force-9p", "--rwdir=/work/main/.checker-results/20261121T220301Z", "--verbose", "--append=loglevel=5",
            "--append=rcupdate.rcu_expedited=1", "--append=modprobe.blacklist=" + VngCommand.coldplugDrivers.joined(separator: ","),
            "--exec", "/work/main/.build/debug/checker run --results /work/main/.checker-results/20261121T220301Z --profile mainline --seeds 20",
        ])
        #expect(command.commandLine == "vng -r /boot/vmlinuz-6.1.0-50-amd64 --disable-kvm --memory 2G --cpus 2 "
                + "--force-9p --rwdir=/work/main/.checker-results/20261121T220301Z --verbose --append=loglevel=5 "
                + "--append=rcupdate.rcu_expedited=1 --append=modprobe.blacklist=" + VngCommand.coldplugDrivers.joined(separator: ",") + " "
                + "--exec '/work/main/.build/debug/checker run --results /work/main/.checker-results/20261121T220301Z --profile mainline --seeds 20'")
    }

    @Test("golden: KVM asked for, QEMU options, guest arguments quoted for the guest's shell")
    func kvmAndQuoting() {
        let command = VngCommand(
            kernel: "/srv/bzImage", memory: "4G", cpus: 1, kvm: true, qemuOptions: ["-cpu EPYC"],
            resultsFolder: Self.folder,
            guestCommand: VngCommand.guestCommand(checker: "/opt/checker", arguments: ["replay", "my case.jsonl", "it's"],
                                                  resultsFolder: Self.folder))
        #expect(command.arguments == [
            "-r", "/srv/bzImage", "--memory", "4G", "--cpus", "1", "--qemu-opts=-cpu EPYC",
            "--force-9p", "--rwdir=/work/main/.checker-results/20261121T220301Z", "--verbose", "--append=loglevel=5",
            "--append=rcupdate.rcu_expedited=1", "--append=modprobe.blacklist=" + VngCommand.coldplugDrivers.joined(separator: ","),
            "--exec", #"/opt/checker replay 'my case.jsonl' 'it'\''s'"#,
        ])
    }

    @Test("replay --reproducer FILE: FILE's folder is writable in the guest too")
    func reproducerFolderWritable() throws {
        let vm = try VM.parse(["--", "replay", "case.jsonl", "--on", "live", "--reproducer", "/tmp/repro.c"])
        #expect(throws: (any Error).self) { try VM.parse(["--", "replay", "case.jsonl", "--on", "live", "--reproducer", "/nonexistent/r.c"]) }
        #expect(vm.reproducerFolder == "/tmp")
        #expect(try VM.parse(["--", "replay", "case.jsonl"]).reproducerFolder == nil)
        let command = VngCommand(kernel: "/k", memory: "1G", cpus: 1, kvm: false, qemuOptions: [], resultsFolder: Self.folder,
                                 writableFolders: ["/tmp/out"], guestCommand: ["true"])
        #expect(command.arguments.contains("--rwdir=/tmp/out"))
        #expect(command.arguments.firstIndex(of: "--rwdir=/tmp/out")! > command.arguments.firstIndex(of: "--force-9p")!)
    }

    @Test("--exec: a command of its own instead of the checker, run through the guest's shell")
    func execCommand() throws {
        #expect(try VM.parse(["--exec", "./probe-tests --filter Probes"]).exec == "./probe-tests --filter Probes")
        #expect(throws: (any Error).self) { try VM.parse(["--exec", "true", "--", "run"]) }
        #expect(throws: (any Error).self) { try VM.parse(["--exec", "true", "--jobs", "2"]) }
        #expect(throws: (any Error).self) { try VM.parse([]) }
        let command = VngCommand(kernel: "/k", memory: "1G", cpus: 1, kvm: false, qemuOptions: [], resultsFolder: Self.folder,
                                 guestCommand: ["sh", "-c", "/tmp/repro && echo done"])
        #expect(command.arguments.suffix(2) == ["--exec", "sh -c '/tmp/repro && echo done'"])
    }

    @Test("--results goes only to subcommands that write results, right after the subcommand")
    func resultsOnlyForRun() {
        #expect(VngCommand.guestCommand(checker: "/c", arguments: ["explain", "--ops", "3"], resultsFolder: "/r")
                == ["/c", "explain", "--ops", "3"])
        #expect(VngCommand.guestCommand(checker: "/c", arguments: ["run", "--seed", "4"], resultsFolder: "/r")
                == ["/c", "run", "--results", "/r", "--seed", "4"])
        // Before the workload after `--`, which is not the checker's.
        #expect(VngCommand.guestCommand(checker: "/c", arguments: ["trace", "--target", "snp", "--", "qemu", "-m", "4G"],
                                        resultsFolder: "/r")
                == ["/c", "trace", "--results", "/r", "--target", "snp", "--", "qemu", "-m", "4G"])
        #expect(VngCommand.writesResults(["--profile", "run"]) == false)
        // A live replay keeps its journal there, unless it names one; an offline one does not.
        #expect(VngCommand.guestCommand(checker: "/c", arguments: ["replay", "c.jsonl", "--on", "live"], resultsFolder: "/r")
                == ["/c", "replay", "c.jsonl", "--on", "live", "--journal", "/r/execution.jsonl"])
        #expect(VngCommand.guestCommand(checker: "/c", arguments: ["replay", "c.jsonl", "--on", "live", "--journal", "/j"], resultsFolder: "/r")
                == ["/c", "replay", "c.jsonl", "--on", "live", "--journal", "/j"])
        #expect(VngCommand.guestCommand(checker: "/c", arguments: ["replay", "c.jsonl"], resultsFolder: "/r") == ["/c", "replay", "c.jsonl"])
    }

    @Test("options of the guest's arguments")
    func options() {
        #expect(VngCommand.option("--profile", in: ["run", "--profile", "mainline"]) == "mainline")
        #expect(VngCommand.option("--profile", in: ["run", "--profile=vsock-dgram-v5"]) == "vsock-dgram-v5")
        #expect(VngCommand.option("--target", in: ["run"]) == nil)
    }

    @Test("results folders vng cannot share are refused")
    func rwdirProblems() {
        #expect(VngCommand.rwdirProblem("/work/main/.checker-results/x") == nil)
        #expect(VngCommand.rwdirProblem("/work/my results") != nil)
        #expect(VngCommand.rwdirProblem("/work/a=b") != nil)
        #expect(VngCommand.rwdirProblem("relative") != nil)
    }

    @Test("memory sizes")
    func memory() {
        #expect(VM.isMemorySize("2G") && VM.isMemorySize("512M") && VM.isMemorySize("2048"))
        #expect(!VM.isMemorySize("G") && !VM.isMemorySize("two") && !VM.isMemorySize("0") && !VM.isMemorySize("-1G"))
    }
}

@Suite("checker vm: console scanning")
struct ConsoleScannerTests {
    @Test("a clean boot and the checker's own output are no finding, whatever it quotes")
    func clean() {
        let scan = ConsoleScanner.scan(ConsoleSamples.cleanBoot)
        #expect(scan.findings.isEmpty)
        #expect(scan.worst == nil)
        #expect(scan.lastStep == .init(number: 1, operation: "socket(dgram)"))
    }

    @Test("a panic: one finding, its trace as excerpt, the last operation")
    func panic() throws {
        let scan = ConsoleScanner.scan(ConsoleSamples.panic)
        #expect(scan.findings.count == 1)
        let worst = try #require(scan.worst)
        #expect(worst.kind == .panic)
        #expect(worst.message == "Kernel panic - not syncing: sysrq triggered crash")
        #expect(worst.excerpt.first == "[   58.502261] Kernel panic - not syncing: sysrq triggered crash")
        #expect(worst.excerpt.last?.contains("Kernel Offset:") == true)
        #expect(worst.excerpt.count == 12)
        #expect(scan.lastStep == .init(number: 7, operation: "socket(dgram)"))
    }

    @Test("BUG then Oops is one oops under the BUG's message")
    func nullDereference() throws {
        let scan = ConsoleScanner.scan(ConsoleSamples.nullDereference)
        #expect(scan.findings.count == 1)
        let worst = try #require(scan.worst)
        #expect(worst.kind == .oops)
        #expect(worst.message == "BUG: kernel NULL pointer dereference, address: 0000000000000008")
        #expect(worst.excerpt.last == "[   42.125400] ---[ end trace 0000000000000000 ]---")
        #expect(scan.lastStep?.number == 3)
    }

    @Test("a WARNING with its trace")
    func warning() throws {
        let scan = ConsoleScanner.scan(ConsoleSamples.warning)
        let worst = try #require(scan.worst)
        #expect(scan.findings.count == 1)
        #expect(worst.kind == .warning)
        #expect(worst.message.hasPrefix("WARNING: CPU: 0 PID: 250 at net/vmw_vsock/af_vsock.c:1234"))
        #expect(worst.excerpt.count == 8)
        #expect(scan.lastStep == .init(number: 9, operation: "close(#2)"))
    }

    @Test("soft lockups, hung tasks, general protection faults, interleaved lines")
    func others() {
        #expect(ConsoleScanner.scan(ConsoleSamples.softLockup).worst?.kind == .bug)
        #expect(ConsoleScanner.scan(ConsoleSamples.hungTask).worst?.kind == .hang)
        #expect(ConsoleScanner.scan(ConsoleSamples.gpf).worst?.kind == .generalProtectionFault)
        let interleaved = ConsoleScanner.scan(ConsoleSamples.interleaved).worst
        #expect(interleaved?.kind == .bug)
        #expect(interleaved?.message == "BUG: unable to handle page fault for address: ffffffffc0a00000")
    }

    @Test("two separate events are two findings; the worst decides")
    func twoEvents() {
        let scan = ConsoleScanner.scan(ConsoleSamples.warning + "\n" + String(repeating: "filler\n", count: 50)
                                       + ConsoleSamples.panic)
        #expect(scan.findings.map(\.kind) == [.warning, .panic])
        #expect(scan.worst?.kind == .panic)
    }
}

@Suite("checker vm: the vm.guest verdict")
struct GuestVerdictTests {
    @Test("a clean guest that wrote its summary adds nothing")
    func clean() {
        #expect(VMSession.guestBatch(scan: ConsoleScanner.scan(ConsoleSamples.cleanBoot), ending: .exited(1),
                                     timeoutSeconds: 60, summaryProblem: nil, progress: nil, consoleTail: [],
                                     seconds: 30) == nil)
    }

    @Test("an oops fails the run, with the console excerpt and the last operation")
    func oops() throws {
        let batch = try #require(VMSession.guestBatch(
            scan: ConsoleScanner.scan(ConsoleSamples.nullDereference), ending: .exited(255), timeoutSeconds: 60,
            summaryProblem: "the guest wrote no summary.json", progress: nil, consoleTail: [], seconds: 30))
        #expect(batch.name == "vm.guest")
        #expect(batch.outcome == .fail)
        #expect(batch.reason == "oops in the guest kernel: BUG: kernel NULL pointer dereference, address: 0000000000000008; "
                + "last operation: step 3: sendto(#1, cid 2, port 1024, len 1)")
        #expect(batch.diagnostics.first == "console:")
        #expect(batch.diagnostics.count == 13)
        #expect(batch.crashSignature?.title == "BUG: kernel NULL pointer dereference in vsock_dgram_sendmsg")
    }

    @Test("a timeout is inconclusive; the progress file names the last operation")
    func timeout() throws {
        let batch = try #require(VMSession.guestBatch(
            scan: ConsoleScanner.scan(""), ending: .timedOut, timeoutSeconds: 60, summaryProblem: nil,
            progress: "step 12: close(#1)", consoleTail: [], seconds: 61))
        #expect(batch.outcome == .inconclusive)
        #expect(batch.reason == "the guest did not finish within 60 s; the VM was killed; last operation: step 12: close(#1)")
    }

    @Test("a guest that wrote no summary is inconclusive, with the console's last lines")
    func noSummary() throws {
        let batch = try #require(VMSession.guestBatch(
            scan: ConsoleScanner.scan("boot\nsomething went wrong"), ending: .exited(139), timeoutSeconds: 60,
            summaryProblem: "the guest wrote no summary.json", progress: nil, consoleTail: ["something went wrong"],
            seconds: 20))
        #expect(batch.outcome == .inconclusive)
        #expect(batch.reason == "the guest wrote no summary.json (exited with status 139)")
        #expect(batch.diagnostics == ["last console lines:", "  something went wrong"])
    }

    @Test("end to end on a results folder: a guest summary completed with the oops, JUnit written")
    func conclude() throws {
        let folder = try VMResultsFolder.create(under: FileManager.default.temporaryDirectory
            .appendingPathComponent("checker-vm-tests-\(UUID().uuidString)").path)
        let session = VMSession(
            vng: "/usr/bin/true",
            command: VngCommand(kernel: "/boot/vmlinuz-6.1.0-50-amd64", memory: "2G", cpus: 2, kvm: false,
                                qemuOptions: [], resultsFolder: folder, guestCommand: ["/c", "run"]),
            guestArguments: ["run", "--profile", "mainline"], folder: folder, timeoutSeconds: 60, echoConsole: false)
        var guest = ReportFixture.report
        guest.batches = [guest.batches[0]]
        try JSONReporter.render(guest).write(toFile: session.file("summary.json"), atomically: true, encoding: .utf8)
        try KTAPReporter.render(guest).write(toFile: session.file("ktap.txt"), atomically: true, encoding: .utf8)
        try ConsoleSamples.nullDereference.write(toFile: session.file("console.log"), atomically: true, encoding: .utf8)

        let conclusion = try session.conclude(.init(ending: .exited(0), seconds: 40))
        #expect(conclusion.status == 1)
        let summary = try JSONReporter.decode(String(contentsOfFile: session.file("summary.json"), encoding: .utf8))
        #expect(summary.batches.map(\.name) == ["vsock.mainline.seeds-1-10", "vm.guest"])
        #expect(summary.batches.map(\.outcome) == [.pass, .fail])
        #expect(FileManager.default.fileExists(atPath: session.file("summary.guest.json")))
        #expect(FileManager.default.fileExists(atPath: session.file("junit.xml")))
        #expect(conclusion.stdout.hasPrefix("KTAP version 1\n1..2\n"))
        #expect(conclusion.stdout.contains("\nnot ok 2 vm.guest\n"))
        #expect(conclusion.stdout.hasSuffix("# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0\n1 passed, 1 failed\n"))
    }

    @Test("end to end: a clean guest's KTAP is printed as it wrote it, its status passed on")
    func concludeClean() throws {
        let folder = try VMResultsFolder.create(under: FileManager.default.temporaryDirectory
            .appendingPathComponent("checker-vm-tests-\(UUID().uuidString)").path)
        let session = VMSession(
            vng: "/usr/bin/true",
            command: VngCommand(kernel: "/boot/vmlinuz-6.1.0-50-amd64", memory: "2G", cpus: 2, kvm: false,
                                qemuOptions: [], resultsFolder: folder, guestCommand: ["/c", "run"]),
            guestArguments: ["run"], folder: folder, timeoutSeconds: 60, echoConsole: false)
        let guest = ReportFixture.report
        try JSONReporter.render(guest).write(toFile: session.file("summary.json"), atomically: true, encoding: .utf8)
        try KTAPReporter.render(guest).write(toFile: session.file("ktap.txt"), atomically: true, encoding: .utf8)
        try ConsoleSamples.cleanBoot.write(toFile: session.file("console.log"), atomically: true, encoding: .utf8)

        let conclusion = try session.conclude(.init(ending: .exited(1), seconds: 40))
        #expect(conclusion.status == 1)
        #expect(conclusion.stdout == KTAPReporter.render(guest) + "1 passed, 2 failed, 1 skipped\n")
        #expect(try String(contentsOfFile: session.file("junit.xml"), encoding: .utf8) == JUnitReporter.render(guest))
        #expect(!FileManager.default.fileExists(atPath: session.file("summary.guest.json")))
    }
}

@Suite("checker vm: results folders and the guest environment")
struct VMResultsFolderTests {
    @Test("named by UTC time")
    func stem() {
        #expect(VMResultsFolder.stem(for: Date(timeIntervalSince1970: 1_795_298_581)) == "20261121T220301Z")
        #expect(VMResultsFolder.candidate("s", attempt: 1) == "s")
        #expect(VMResultsFolder.candidate("s", attempt: 3) == "s-3")
    }

    @Test("an existing folder is never reused")
    func neverReused() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("checker-vm-tests-\(UUID().uuidString)").path
        let date = Date(timeIntervalSince1970: 1_795_298_581)
        try FileManager.default.createDirectory(atPath: base + "/20261121T220301Z", withIntermediateDirectories: true)
        let first = try VMResultsFolder.create(under: base, at: date)
        let second = try VMResultsFolder.create(under: base, at: date)
        #expect(first.hasSuffix("/20261121T220301Z-2"))
        #expect(second.hasSuffix("/20261121T220301Z-3"))
        #expect(first.hasPrefix("/"))
    }

    @Test("a virtme-ng guest is told from a machine by its kernel command line")
    func isTestVM() {
        let guest = "virtme_hostname=virtme-ng nr_open=1048576 virtme_root_mods=1 virtme_rw_overlay0=/etc console=ttyS0 "
            + "panic=-1 virtme_chdir=tmp/vmtest virtme_root_user=1 loglevel=5 "
            + "init=/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/virtme/guest/bin/virtme-ng-init"
        #expect(GuestEnvironment.isTestVM(cmdline: guest))
        #expect(GuestEnvironment.isTestVM(cmdline: "console=ttyS0 init=/usr/lib/virtme-ng-init"))
        #expect(!GuestEnvironment.isTestVM(cmdline: "BOOT_IMAGE=/boot/vmlinuz-6.18.0 root=UUID=1234 ro quiet"))
        #expect(!GuestEnvironment.isTestVM(cmdline: ""))
    }

    @Test("kernel release is uname -r")
    func kernelRelease() {
        #expect(!GuestEnvironment.kernelRelease.isEmpty)
        #expect(GuestEnvironment.kernelRelease.first?.isNumber == true)
    }
}
