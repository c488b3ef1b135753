import Foundation
import Testing
@testable import checker

/// `checker vm --accel auto|kvm|tcg`: whether KVM can run the guest (the device, then QEMU
/// starting the kernel), with fake device paths and stand-ins for QEMU, and the decision table.
@Suite("checker vm: KVM or TCG")
struct AcceleratorTests {
    static func scratch() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("checker-accel-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// A stand-in for qemu-system-x86_64: a shell script with the given body.
    static func fakeQEMU(_ body: String) throws -> String {
        let path = try scratch() + "/qemu-system-x86_64"
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    static func bootProbe(_ qemu: String, timeout: Duration = KVMBootProbe.defaultTimeout) -> KVMBootProbe {
        var probe = KVMBootProbe(kernel: "/boot/vmlinuz-test", qemuOptions: [])
        probe.qemu = qemu
        probe.timeout = timeout
        return probe
    }

    @Test("stage one: a missing device path is absent")
    func missingDevice() throws {
        let path = try Self.scratch() + "/kvm"
        #expect(KVMDevice.problem(at: path) == "absent (no KVM on this machine, or not passed into this container)")
    }

    @Test("stage one: a regular file is not a KVM device")
    func regularFile() throws {
        let path = try Self.scratch() + "/kvm"
        try "".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(KVMDevice.problem(at: path) == "not a KVM device (KVM_GET_API_VERSION: Inappropriate ioctl for device)")
    }

    @Test("the probe stops at stage one, naming the path, and never starts QEMU then")
    func stageOneStops() async throws {
        let path = try Self.scratch() + "/kvm"
        try "".write(toFile: path, atomically: true, encoding: .utf8)
        let probe = KVMProbe(devicePath: path, boot: { Issue.record("QEMU started after stage one failed"); return nil })
        #expect(try await probe.problem() == "\(path): not a KVM device (KVM_GET_API_VERSION: Inappropriate ioctl for device)")
    }

    @Test("a yes through injected stages: KVM, and the line says so")
    func yes() async throws {
        let probe = KVMProbe(devicePath: "/fake/kvm", device: { _ in nil }, boot: { nil })
        #expect(try await probe.problem() == nil)
        let choice = try await AcceleratorRequest.auto.choose(probe: probe)
        #expect(choice == AcceleratorChoice(kvm: true, reason: nil))
        #expect(choice.announcement == "accelerator kvm")
    }

    static let msr = "/dev/kvm: QEMU could not start a KVM guest: failed to set MSR 0x10a to 0x69"

    /// (request, what the probe says (nil: usable), expected choice; nil: a usage error).
    static let table: [(AcceleratorRequest, String?, AcceleratorChoice?)] = [
        (.auto, nil, AcceleratorChoice(kvm: true, reason: nil)),
        (.auto, msr, AcceleratorChoice(kvm: false, reason: msr)),
        (.kvm, nil, AcceleratorChoice(kvm: true, reason: "--accel kvm")),
        (.kvm, msr, nil),
        (.tcg, nil, AcceleratorChoice(kvm: false, reason: "--accel tcg")),
        (.tcg, msr, AcceleratorChoice(kvm: false, reason: "--accel tcg")),
    ]

    @Test("the decision table", arguments: table)
    func decision(request: AcceleratorRequest, problem: String?, expected: AcceleratorChoice?) async throws {
        let probe = KVMProbe(devicePath: "/dev/kvm", device: { _ in nil }, boot: {
            problem.map { String($0.dropFirst("/dev/kvm: ".count)) }
        })
        if let expected {
            #expect(try await request.choose(probe: probe) == expected)
        } else {
            await #expect(throws: UsageProblem.self) { try await request.choose(probe: probe) }
        }
    }

    @Test("--accel kvm when KVM cannot: one line with the reason and the fix")
    func forcedKVMRefused() async throws {
        let probe = KVMProbe(devicePath: "/dev/kvm", device: { _ in nil }, boot: { "QEMU could not start a KVM guest: failed to set MSR 0x10a to 0x69" })
        do {
            _ = try await AcceleratorRequest.kvm.choose(probe: probe)
            Issue.record("no usage error")
        } catch let problem as UsageProblem {
            #expect(problem.message == "--accel kvm: \(Self.msr); use --accel tcg, or --accel auto to fall back to TCG")
        }
    }

    @Test("--accel tcg never probes")
    func tcgNeverProbes() async throws {
        let probe = KVMProbe(devicePath: "/dev/kvm", device: { _ in Issue.record("probed"); return nil }, boot: { nil })
        #expect(try await AcceleratorRequest.tcg.choose(probe: probe).announcement == "accelerator tcg (--accel tcg)")
    }

    @Test("the tcg line names what stops KVM")
    func tcgLine() {
        #expect(AcceleratorChoice(kvm: false, reason: Self.msr).announcement
                == "accelerator tcg (/dev/kvm: QEMU could not start a KVM guest: failed to set MSR 0x10a to 0x69)")
    }

    @Test("stage two boots what the boot would: virtme-ng's KVM CPU, or the one --qemu-opts names, whole")
    func bootProbeArguments() {
        let plain = KVMBootProbe(kernel: "/k/vmlinuz", qemuOptions: [])
        #expect(plain.cpu == "host,topoext=on")
        #expect(plain.machine.isEmpty)
        #expect(plain.arguments == [
            "-accel", "kvm", "-cpu", "host,topoext=on", "-m", "256M", "-smp", "1", "-nodefaults", "-display", "none",
            "-no-reboot", "-serial", "stdio", "-kernel", "/k/vmlinuz", "-append", "console=ttyS0 earlyprintk=ttyS0 panic=-1",
        ])
        let epyc = KVMBootProbe(kernel: "/k/vmlinuz", qemuOptions: ["-cpu EPYC"])
        #expect(epyc.cpu == "EPYC,enforce")
        let both = KVMBootProbe(kernel: "/k/vmlinuz", qemuOptions: ["-machine q35", "-cpu qemu64 -cpu max,+svm"])
        #expect(both.machine == ["q35"])
        #expect(both.cpu == "max,+svm,enforce")
        #expect(Array(both.arguments.prefix(6)) == ["-accel", "kvm", "-machine", "q35", "-cpu", "max,+svm,enforce"])
    }

    /// QEMU 7.2's stderr on the project's machine (captured): `-cpu host` and `-cpu EPYC,enforce`.
    @Test("the reason is QEMU's error line, else its first non-warning line")
    func reasons() {
        #expect(KVMBootProbe.reason(stderr: """
            qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69
            qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.
            """, ending: "QEMU was killed by signal 6") == "failed to set MSR 0x10a to 0x69")
        #expect(KVMBootProbe.reason(stderr: """
            qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]
            qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pclmulqdq [bit 1]
            qemu-system-x86_64: Host doesn't support requested features
            """, ending: "QEMU exited with status 1")
                == "Host doesn't support requested features (CPUID.01H:ECX.pni [bit 0] and 1 more)")
        #expect(KVMBootProbe.reason(stderr: "", ending: "QEMU exited with status 1") == "QEMU exited with status 1")
    }

    /// The stand-in sleeps 10 minutes after the banner and the probe's own limit is as long: only
    /// a kill at the banner ends the test within its one-minute limit (no tight timing: the
    /// machine may be busy).
    @Test("stage two against stand-ins: the kernel's banner is a yes, and QEMU is killed there",
          .timeLimit(.minutes(1)))
    func bannerIsYes() async throws {
        let qemu = try Self.fakeQEMU("echo 'Probing EDD (edd=off to disable)... ok'; echo '[    0.000000] Linux version 6.1.0-50-amd64'; exec sleep 600")
        #expect(await Self.bootProbe(qemu, timeout: .seconds(600)).problem() == nil)
    }

    @Test("stage two against stand-ins: QEMU dying is a no with its error line")
    func crashIsNo() async throws {
        let qemu = try Self.fakeQEMU("echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69' >&2; kill -ABRT $$")
        #expect(await Self.bootProbe(qemu).problem() == "QEMU could not start a KVM guest: failed to set MSR 0x10a to 0x69")
    }

    // The stand-in sleeps 10 minutes, so only the probe's timeout ends it: on a loaded machine the
    // timer may fire late (a 30 s stand-in once ended first and was read as QEMU exiting).
    @Test("stage two against stand-ins: no banner in time is a no with the last console line",
          .timeLimit(.minutes(1)))
    func hangIsNo() async throws {
        let qemu = try Self.fakeQEMU("echo 'Probing EDD (edd=off to disable)... ok'; exec sleep 600")
        let problem = await Self.bootProbe(qemu, timeout: .seconds(1)).problem()
        // On a busy machine the stand-in may not have printed its line within the second: the
        // verdict must hold either way, and the line, when read, is the one printed.
        #expect(problem?.hasPrefix("QEMU with KVM did not start the kernel within 1 s") == true, "\(problem ?? "nil")")
        if let problem, problem.contains("last console line") {
            #expect(problem.hasSuffix("(last console line: Probing EDD (edd=off to disable)... ok)"))
        }
    }

    @Test("no QEMU at all is a no")
    func noQEMU() async throws {
        let missing = try Self.scratch() + "/qemu-system-x86_64"
        #expect(await Self.bootProbe(missing).problem()?.hasPrefix("cannot run \(missing) to try it") == true)
    }

    @Test("--accel parses; --kvm is its hidden, deprecated alias; a contradiction is refused")
    func options() throws {
        #expect(try VM.parse(["--", "run"]).acceleratorRequest == .auto)
        #expect(try VM.parse(["--accel", "tcg", "--", "run"]).acceleratorRequest == .tcg)
        #expect(try VM.parse(["--kvm", "--", "run"]).acceleratorRequest == .kvm)
        #expect(throws: (any Error).self) { try VM.parse(["--kvm", "--accel", "tcg", "--", "run"]) }
        #expect(throws: (any Error).self) { try VM.parse(["--accel", "hvf", "--", "run"]) }
        let help = VM.helpMessage()
        #expect(help.contains("--accel <auto|kvm|tcg>"))
        #expect(!help.contains("--kvm"))
    }
}
