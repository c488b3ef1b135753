import Foundation
import Model

/// What a dead (or stopped) harness child left on stderr, made into a ``HarnessCrash``.
///
/// The child's handlers (`CSandbox/sandbox.c`) write one line:
///
///     harness-crash kind=signal signal=11 code=1 addr=0x0 in-call=sev_update_mem_attr frames=ip:0x1234,ra:0x1300
///
/// Frames are addresses inside the harness library; `addr2line` turns them into functions and
/// source lines. The crash is placed at the first frame outside the shim (the patch's own code,
/// e.g. `patch_functions.c`), so a NULL write in the patch and an abort the shim's `BUG()` raises
/// for it both name the patch's function.
struct HarnessCrashReport {
    struct Line: Equatable {
        var kind: String
        var signal: Int32
        var address: String?
        var syscall: Int?
        /// The patch entry that was running, nil for `-` (outside the patch's code).
        var inCall: String?
        /// (exact instruction?, ELF address) of each frame inside the library, innermost first.
        var frames: [(exact: Bool, address: UInt64)]

        static func == (a: Line, b: Line) -> Bool {
            a.kind == b.kind && a.signal == b.signal && a.address == b.address && a.syscall == b.syscall && a.inCall == b.inCall
                && a.frames.map(\.address) == b.frames.map(\.address) && a.frames.map(\.exact) == b.frames.map(\.exact)
        }
    }

    /// A source location: `sev_update_mem_attr (patch_functions.c:57)`.
    struct Location: Equatable {
        var function: String
        var file: String
        var line: Int?
        var description: String { "\(function) (\(file)\(line.map { ":\($0)" } ?? ""))" }
    }

    let stderr: String
    let library: String
    let shimFiles: Set<String>
    /// The last crash line on stderr (a hang probe may follow an earlier line; the last wins).
    let line: Line?

    init(stderr: String, library: String, shimFiles: Set<String>) {
        self.stderr = stderr
        self.library = library
        self.shimFiles = shimFiles
        line = stderr.split(separator: "\n").last { $0.hasPrefix("harness-crash ") }.flatMap { Self.parse(String($0)) }
    }

    static func parse(_ text: String) -> Line? {
        var fields: [String: String] = [:]
        for word in text.split(separator: " ").dropFirst() {
            guard let equals = word.firstIndex(of: "=") else { continue }
            fields[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        guard let kind = fields["kind"], let signal = fields["signal"].flatMap({ Int32($0) }) else { return nil }
        let frames: [(Bool, UInt64)] = (fields["frames"] ?? "").split(separator: ",").compactMap { frame in
            let parts = frame.split(separator: ":")
            guard parts.count == 2, let address = UInt64(parts[1].dropFirst(2), radix: 16) else { return nil }
            return (parts[0] == "ip", address)
        }
        return Line(kind: kind, signal: signal, address: fields["addr"], syscall: fields["syscall"].flatMap { Int($0) },
                    inCall: fields["in-call"].flatMap { $0 == "-" ? nil : $0 }, frames: frames)
    }

    /// The crash, with `ending` (how the process ended) in its detail. `bound` is set for a
    /// child stopped because it did not answer; `entry` names the call then.
    func crash(ending: String, bound: Duration?, entry: String? = nil) -> HarnessCrash {
        let locations = resolve(line?.frames ?? [])
        let patchFrame = locations.first { !shimFiles.contains($0.file) } ?? locations.first
        let called = line?.inCall ?? entry ?? "the patch's code"
        var detail = ["process: \(ending)"]
        if let address = line?.address, line?.kind == "signal" { detail.append("fault address: \(address)") }
        if !locations.isEmpty { detail.append("frames: " + locations.map(\.description).joined(separator: " ← ")) }
        detail += stderr.split(separator: "\n").filter { !$0.hasPrefix("harness-crash ") }.suffix(5).map { "stderr: \($0)" }
        let place = patchFrame.map { " in \($0.description)" } ?? " in \(called)"
        if let bound {
            // Where the loop was when it was stopped goes in the detail (the frames): it varies
            // from run to run, and a loaded machine may stop the child before it says.
            if let patchFrame { detail.insert("stopped in \(patchFrame.description)", at: 1) }
            return HarnessCrash(kind: .timeout, signature: "no return within \(HarnessChild.seconds(bound)) s from \(called)",
                                detail: detail)
        }
        guard let line else {
            return HarnessCrash(kind: ending.hasPrefix("exit") ? .exit : .signal,
                                signature: "\(ending) during \(called), no crash report", detail: detail)
        }
        switch line.kind {
        case "forbidden-call":
            let name = line.syscall.map(Self.syscallName) ?? "a system call"
            return HarnessCrash(kind: .forbiddenCall, signature: "forbidden system call \(name)\(place)", detail: detail)
        case "abort":
            return HarnessCrash(kind: .abort, signature: "abort (BUG)\(place)", detail: detail)
        case "exit":
            return HarnessCrash(kind: .exit, signature: "exit() (\(ending))\(place)", detail: detail)
        default:
            return HarnessCrash(kind: .signal, signature: "\(Self.signalName(line.signal))\(place)", detail: detail)
        }
    }

    /// `addr2line` for the frames (return addresses moved back onto their call instruction).
    func resolve(_ frames: [(exact: Bool, address: UInt64)]) -> [Location] {
        guard !frames.isEmpty else { return [] }
        let addresses = frames.map { "0x" + String($0.exact ? $0.address : $0.address - 1, radix: 16) }
        guard let finished = try? Tools.run("addr2line", ["-f", "-e", library] + addresses), finished.succeeded else { return [] }
        let lines = finished.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var locations: [Location] = []
        var index = 0
        while index + 1 < lines.count {
            let function = lines[index]
            let place = lines[index + 1]
            index += 2
            let colon = place.lastIndex(of: ":")
            let path = colon.map { String(place[..<$0]) } ?? place
            let number = colon.flatMap { Int(place[place.index(after: $0)...].prefix { $0.isNumber }) }
            locations.append(Location(function: function, file: URL(fileURLWithPath: path).lastPathComponent, line: number))
        }
        return locations
    }

    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGILL: "SIGILL", SIGFPE: "SIGFPE",
                                      SIGABRT: "SIGABRT", SIGSYS: "SIGSYS", SIGTRAP: "SIGTRAP", SIGKILL: "SIGKILL",
                                      SIGXFSZ: "SIGXFSZ", SIGXCPU: "SIGXCPU", SIGTERM: "SIGTERM"]
        return names[signal] ?? "signal \(signal)"
    }

    /// The x86_64 names of the calls a patch is likeliest to try (the number otherwise).
    static func syscallName(_ number: Int) -> String {
        let names = [0: "read", 1: "write", 2: "open", 4: "stat", 9: "mmap", 16: "ioctl", 41: "socket", 42: "connect",
                     43: "accept", 49: "bind", 50: "listen", 53: "socketpair", 56: "clone", 57: "fork", 58: "vfork",
                     59: "execve", 62: "kill", 82: "rename", 83: "mkdir", 85: "creat", 86: "link", 87: "unlink",
                     88: "symlink", 90: "chmod", 92: "chown", 101: "ptrace", 165: "mount", 257: "openat",
                     262: "newfstatat", 263: "unlinkat", 322: "execveat", 435: "clone3", 437: "openat2"]
        #if arch(x86_64)
        return names[number] ?? "syscall \(number)"
        #else
        return "syscall \(number)"
        #endif
    }
}
