import Foundation
import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// The second look at whether KVM can run the test VM: QEMU itself, with KVM, the machine and
/// CPU model the boot would use, starting the very kernel the boot would boot, until that kernel
/// prints its first console line (`Linux version …`). Under a working KVM that takes well under
/// a second; QEMU is killed as soon as the line shows.
///
/// Why a kernel and not a few bytes of firmware (measured on the project's machines, QEMU 7.2,
/// where `/dev/kvm` passes ``KVMDevice``):
/// - `-cpu host` (virtme-ng's choice with KVM): QEMU aborts at once, "failed to set MSR 0x10a".
///   A firmware that only writes to a debug-exit port sees that too.
/// - `-cpu qemu64` or `-cpu EPYC`: the firmware probe exits cleanly, yet the real boot hangs in
///   32-bit code right after the kernel's setup prints "Probing EDD": only starting the kernel
///   shows it (here: no `Linux version` line within the time limit).
///
/// The CPU model is virtme-ng's for KVM (`host,topoext=on`) unless `--qemu-opts` names one; a
/// named model gets `,enforce`: KVM must give the guest every feature of it (`-cpu EPYC` for the
/// SNP checks wants SVM, which TCG emulates and a KVM host may lack), or TCG it is.
struct KVMBootProbe: Sendable {
    /// virtme-ng's CPU for a KVM guest (`Arch_x86.qemuargs` in virtme/architectures.py).
    static let virtmeKVMCPU = "host,topoext=on"
    /// The line the kernel prints first (`start_kernel` → `linux_banner`).
    static let bannerPrefix = "Linux version"
    /// How long a working KVM may take to get there. TCG needs about 6 s on 2 cores; KVM a
    /// fraction of a second.
    static let defaultTimeout: Duration = .seconds(5)

    /// QEMU, by name on PATH as vng finds it, or a path (tests give a stand-in script).
    var qemu = "qemu-system-x86_64"
    var kernel: String
    /// `-machine` values (virtme-ng gives none with KVM: QEMU's default machine).
    var machine: [String]
    var cpu: String
    var timeout: Duration = defaultTimeout

    /// The probe for a boot of `kernel` with the given `--qemu-opts`: their `-machine`/`-M`
    /// values and their last `-cpu` (vng splits the options on spaces, QEMU takes the last `-cpu`).
    init(kernel: String, qemuOptions: [String]) {
        self.kernel = kernel
        let words = qemuOptions.flatMap { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
        var machine: [String] = []
        var cpu: String?
        for (index, word) in words.enumerated() where index + 1 < words.count {
            switch word {
            case "-machine", "--machine", "-M": machine.append(words[index + 1])
            case "-cpu", "--cpu": cpu = words[index + 1]
            default: break
            }
        }
        self.machine = machine
        self.cpu = cpu.map { $0 + ",enforce" } ?? Self.virtmeKVMCPU
    }

    /// QEMU's arguments: no disks, no network, no display; the serial console on stdout.
    var arguments: [String] {
        ["-accel", "kvm"] + machine.flatMap { ["-machine", $0] } + [
            "-cpu", cpu, "-m", "256M", "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-kernel", kernel,
            "-append", "console=ttyS0 earlyprintk=ttyS0 panic=-1",
        ]
    }

    /// Why KVM cannot start the kernel, or nil when it did.
    func problem() async -> String? {
        let watched: Watched
        do {
            watched = try await watch()
        } catch {
            return "cannot run \(qemu) to try it: \(error)"
        }
        if watched.started { return nil }
        if watched.timedOut {
            let seconds = Int(timeout.seconds.rounded())
            return "QEMU with KVM did not start the kernel within \(seconds) s"
                + (watched.lastConsoleLine.map { " (last console line: \($0))" } ?? " (no console output)")
        }
        return "QEMU could not start a KVM guest: " + Self.reason(stderr: watched.errors, ending: watched.ending)
    }

    /// The line of QEMU's stderr that says why it stopped: an `error:` line, else the first one
    /// that is not a warning (with the first missing CPU feature, when `enforce` refused the
    /// model), else how QEMU ended.
    static func reason(stderr: String, ending: String) -> String {
        let lines = stderr.split(whereSeparator: \.isNewline).map { line -> String in
            var text = line.trimmingCharacters(in: .whitespaces)
            if let colon = text.range(of: ": "), text[..<colon.lowerBound].hasPrefix("qemu-system-") {
                text = String(text[colon.upperBound...])
            }
            return text
        }.filter { !$0.isEmpty }
        if let error = lines.first(where: { $0.hasPrefix("error: ") }) { return String(error.dropFirst("error: ".count)) }
        let missingPrefix = "warning: host doesn't support requested feature: "
        let missing = lines.filter { $0.hasPrefix(missingPrefix) }.map { String($0.dropFirst(missingPrefix.count)) }
        if let line = lines.first(where: { !$0.hasPrefix("warning: ") }) {
            guard let first = missing.first else { return line }
            return line + " (\(first)" + (missing.count > 1 ? " and \(missing.count - 1) more" : "") + ")"
        }
        return lines.first ?? ending
    }

    /// What QEMU showed before it ended or was stopped.
    private struct Watched: Sendable {
        var started = false
        var timedOut = false
        var lastConsoleLine: String?
        var errors = ""
        var ending = ""
    }

    private enum Event: Sendable {
        case console(started: Bool, lastLine: String?)
        case errors(String)
        case timedOut
    }

    /// Runs QEMU, reads its console and stderr, and kills it at the banner or the time limit.
    /// QEMU stays in the checker's process group: a Ctrl-C stops it too.
    private func watch() async throws -> Watched {
        let banner = Array(Self.bannerPrefix.utf8)
        let result = try await Subprocess.run(
            qemu.contains("/") ? .path(FilePath(qemu)) : .name(qemu), arguments: Arguments(arguments),
            input: .none, output: .sequence, error: .sequence
        ) { execution -> Watched in
            try await withThrowingTaskGroup(of: Event.self) { group in
                group.addTask {
                    var console: [UInt8] = []
                    var started = false
                    for try await buffer in execution.standardOutput {
                        console += buffer.withUnsafeBytes { Array($0) }
                        if !started, console.firstRange(of: banner) != nil {
                            started = true
                            try? execution.send(signal: .kill)
                        }
                    }
                    let lines = String(decoding: console, as: UTF8.self).split(whereSeparator: \.isNewline)
                    let last = lines.last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                    return .console(started: started, lastLine: last?.isEmpty == false ? last : nil)
                }
                group.addTask {
                    var errors: [UInt8] = []
                    for try await buffer in execution.standardError { errors += buffer.withUnsafeBytes { Array($0) } }
                    return .errors(String(decoding: errors, as: UTF8.self))
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    try? execution.send(signal: .kill)
                    return .timedOut
                }
                var watched = Watched()
                var closed = 0
                while closed < 2, let event = try await group.next() {
                    switch event {
                    case let .console(started, lastLine):
                        watched.started = started
                        watched.lastConsoleLine = lastLine
                        closed += 1
                    case let .errors(text):
                        watched.errors = text
                        closed += 1
                    case .timedOut:
                        watched.timedOut = true
                    }
                }
                group.cancelAll()
                // The banner wins a race with the time limit: the kernel did start.
                if watched.started { watched.timedOut = false }
                return watched
            }
        }
        var watched = result.closureResult
        switch result.terminationStatus {
        case let .exited(code): watched.ending = "QEMU exited with status \(code)"
        case let .signaled(signal): watched.ending = "QEMU was killed by signal \(signal)"
        }
        return watched
    }
}
