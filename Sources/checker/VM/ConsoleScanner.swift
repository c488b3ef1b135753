/// Reads a guest's console for signs that the kernel itself went wrong — an oops, a panic, a
/// `BUG:`, a `WARNING:`, a general protection fault, a hung task or an RCU stall, and the reports
/// of a sanitizer kernel (`checker kernel build`): KASAN, KCSAN and lockdep — and for the last
/// operation the guest checker announced (`# step N: <op>`).
///
/// A marker counts only where a kernel message starts: at the start of a line, after the printk
/// timestamp (`[   58.502261] `) and level (`<4>`) if any, or after a timestamp in the middle of a
/// line (the kernel console and the guest's stderr share one stream and can interleave). The
/// checker's own output (KTAP, `# ` lines) therefore never matches, whatever it quotes.
enum ConsoleScanner {
    struct Finding: Equatable, Sendable {
        enum Kind: String, Sendable {
            case panic = "kernel panic"
            case oops = "oops"
            case bug = "BUG"
            case generalProtectionFault = "general protection fault"
            case warning = "WARNING"
            case hang = "hung task or stall"
            /// `BUG: KASAN: …`: a use-after-free, out-of-bounds access or bad free.
            case kasan = "KASAN report"
            /// `BUG: KCSAN: …`: a data race.
            case kcsan = "KCSAN report"
            /// lockdep's `WARNING: possible circular locking dependency detected` and kin.
            case lockdep = "lockdep report"
            case trace = "kernel stack trace"
        }

        var kind: Kind
        /// The message that raised it, without timestamp.
        var message: String
        /// Its console lines: the marker line and what follows, up to the end of the trace.
        var excerpt: [String]
        /// What identifies the bug (nil for a bare stack trace, which names no kind of bug).
        var signature: CrashSignature? = nil
    }

    struct Step: Equatable, Sendable {
        var number: Int
        var operation: String
    }

    struct Scan: Equatable, Sendable {
        var findings: [Finding]
        /// The last `# step N: <op>` line the guest printed.
        var lastStep: Step?

        /// The finding that decides the verdict: the most severe, the first of its kind.
        var worst: Finding? {
            ConsoleScanner.severity.lazy.compactMap { kind in findings.first { $0.kind == kind } }.first
        }
    }

    /// Lines of an excerpt, at most.
    static let excerptLimit = 40
    /// Lines a signature reads from a report's first line, at most (a hung task's trace comes
    /// after three header lines; a stall's after some forty of registers and interrupt frames).
    static let signatureLimit = 120

    /// Lines a KASAN, KCSAN or lockdep report may span (a KASAN report with the page's
    /// allocation and free stacks runs to 150).
    static let reportLimit = 250

    /// How bad a kind is: a panic outranks an oops outranks … a stack trace alone.
    /// A KASAN report is memory already corrupted; a data race or a lock order that could
    /// deadlock is a bug that has not struck yet.
    static let severity: [Finding.Kind] = [.panic, .oops, .generalProtectionFault, .kasan, .bug, .hang, .kcsan, .lockdep, .warning, .trace]

    static func scan(_ console: String) -> Scan {
        let lines = console.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { String($0).trimmingTrailing("\r") }
        var lastStep: Step?
        var markers: [(index: Int, kind: Finding.Kind, message: String)] = []
        for (index, line) in lines.enumerated() {
            if let step = step(in: line) { lastStep = step }
            if let message = kernelMessage(in: line), let kind = kind(of: message) {
                markers.append((index, kind, message))
            }
        }
        // Markers close together are one event (BUG: → Oops → RIP: → Call Trace: → Kernel panic):
        // one finding, of the most severe kind, under the first message that is not a bare trace.
        var findings: [Finding] = []
        var cluster: (start: Int, last: Int, kind: Finding.Kind, message: String, traceOnly: Bool, header: Int)?
        func close(before next: Int) {
            guard let current = cluster else { return }
            let window = Array(lines[current.start..<min(lines.count, current.start + excerptLimit)])
            let lastMarker = current.last - current.start
            let end = window.indices.first { $0 >= lastMarker && (isEndOfReport(window[$0]) || $0 + current.start == reportEnd(lines, from: current.header, kind: current.kind)) }
                ?? window.count - 1
            // The signature reads on from the report's first line up to the next report.
            let report = Array(lines[current.header..<max(current.header + 1, min(next, current.header + signatureLimit))])
            findings.append(Finding(kind: current.kind, message: current.message, excerpt: Array(window[...end]),
                                    signature: current.traceOnly ? nil : CrashSignature.parse(report)))
        }
        for marker in markers {
            // A sanitizer's or lockdep's report is long (allocation and free stacks, the lock
            // chain) and ends with a line of its own: what comes before that end is its own.
            let inReport = cluster.map { current in reportEnd(lines, from: current.header, kind: current.kind).map { marker.index <= $0 } ?? false } ?? false
            if var current = cluster, marker.index - current.start < excerptLimit || inReport {
                if rank(marker.kind) < rank(current.kind) { current.kind = marker.kind }
                if current.traceOnly, marker.kind != .trace {
                    current.message = marker.message
                    current.traceOnly = false
                    current.header = marker.index
                }
                current.last = marker.index
                cluster = current
            } else {
                close(before: marker.index)
                cluster = (marker.index, marker.index, marker.kind, marker.message, marker.kind == .trace, marker.index)
            }
        }
        close(before: lines.count)
        return Scan(findings: findings, lastStep: lastStep)
    }

    static func rank(_ kind: Finding.Kind) -> Int { severity.firstIndex(of: kind) ?? severity.count }

    /// The last line of a KASAN or KCSAN report (its closing `=====…` line) or of a lockdep
    /// report (the `</TASK>` of its stack backtrace), within ``reportLimit`` lines of its first;
    /// nil for other kinds, or when the end is not there.
    static func reportEnd(_ lines: [String], from header: Int, kind: Finding.Kind) -> Int? {
        let isEnd: (String) -> Bool
        switch kind {
        case .kasan, .kcsan:
            isEnd = { line in
                let text = ConsoleText.message(of: line).trimmingCharacters(in: .whitespaces)
                return text.count >= 20 && text.allSatisfy { $0 == "=" }
            }
        case .lockdep:
            isEnd = { $0.contains("</TASK>") }
        default:
            return nil
        }
        let limit = min(lines.count, header + reportLimit)
        guard header + 1 < limit else { return nil }
        return (header + 1..<limit).first { isEnd(lines[$0]) }
    }

    /// The line that ends an oops or warning report.
    static func isEndOfReport(_ line: String) -> Bool {
        line.contains("---[ end trace") || line.contains("Kernel Offset:") || line.contains("---[ end Kernel panic")
    }

    /// `# step N: <op>` → the step, else nil.
    static func step(in line: String) -> Step? {
        let text = line.drop(while: { $0 == " " || $0 == "\t" })
        guard text.hasPrefix("# step ") else { return nil }
        let rest = text.dropFirst("# step ".count)
        guard let colon = rest.firstIndex(of: ":"), let number = Int(rest[..<colon]) else { return nil }
        return Step(number: number, operation: String(rest[rest.index(after: colon)...]).trimmingLeading(" "))
    }

    /// The kernel message a console line carries at its start or after a timestamp, else nil.
    static func kernelMessage(in line: String) -> String? {
        var candidates: [Substring] = [Substring(line)]
        // After the last "[ seconds.micros]" in the line.
        var searchStart = line.startIndex
        while let open = line[searchStart...].firstIndex(of: "[") {
            guard let close = line[open...].firstIndex(of: "]") else { break }
            let inside = line[line.index(after: open)..<close].strippingSpaces()
            if isTimestamp(inside) { candidates.append(line[line.index(after: close)...]) }
            searchStart = line.index(after: open)
        }
        for candidate in candidates.reversed() {
            var message = candidate.drop(while: { $0 == " " })
            if message.hasPrefix("["), let end = message.firstIndex(of: "]"),
               ConsoleText.isCallerID(message[message.index(after: message.startIndex)..<end]) {
                message = message[message.index(after: end)...].drop(while: { $0 == " " })
            }
            if message.hasPrefix("<"), let close = message.firstIndex(of: ">"),
               message.distance(from: message.startIndex, to: close) <= 2 {
                message = message[message.index(after: close)...].drop(while: { $0 == " " })
            }
            if kind(of: String(message)) != nil { return String(message) }
        }
        return nil
    }

    /// The kind of finding a kernel message opens, or nil for an ordinary message.
    static func kind(of message: String) -> Finding.Kind? {
        // One subsystem prefix is allowed: "watchdog: BUG: soft lockup", "rcu: INFO: rcu_preempt …".
        var texts = [Substring(message)]
        if let colon = message.firstIndex(of: ":"), !message[..<colon].contains(" ") {
            texts.append(message[message.index(after: colon)...].drop(while: { $0 == " " }))
        }
        for text in texts {
            if text.hasPrefix("Kernel panic") { return .panic }
            if text.hasPrefix("Oops") { return .oops }
            if text.hasPrefix("general protection fault") { return .generalProtectionFault }
            if text.hasPrefix("BUG: KASAN:") { return .kasan }
            if text.hasPrefix("BUG: KCSAN:") { return .kcsan }
            if lockdepHeaders.contains(where: { text.hasPrefix($0) })
                || (text.hasPrefix("WARNING: ") && text.contains("-safe -> ") && text.hasSuffix("-unsafe lock order detected")) {
                return .lockdep
            }
            if text.hasPrefix("BUG:") || text.hasPrefix("kernel BUG at") || text.hasPrefix("UBSAN:") { return .bug }
            if text.hasPrefix("WARNING:") { return .warning }
            if text.hasPrefix("INFO: task"), text.contains("blocked for more than") { return .hang }
            if text.hasPrefix("INFO:"), text.contains("detected stall") { return .hang }
            if text.hasPrefix("RIP:") || text.hasPrefix("Call Trace:") { return .trace }
        }
        return nil
    }

    /// The first lines of lockdep's reports (kernel/locking/lockdep.c, 6.1).
    static let lockdepHeaders = [
        "WARNING: possible circular locking dependency detected", "WARNING: possible recursive locking detected",
        "WARNING: possible irq lock inversion dependency detected", "WARNING: inconsistent lock state",
        "WARNING: suspicious RCU usage", "WARNING: bad unlock balance detected!", "WARNING: held lock freed!",
        "WARNING: lock held when returning to user space!", "WARNING: Nested lock was not taken",
        "WARNING: bad contention detected!", "BUG: bad unlock balance detected!", "BUG: held lock freed!",
    ]

    /// Whether a kernel message means the guest cannot go on with its run: an oops, a panic, a
    /// BUG (soft lockups included), a KASAN report (memory is already corrupted) or a general
    /// protection fault, or a hung task (in the test VM the checker is the workload: a task
    /// blocked for good is, or waits for, the checker's operation). WARNINGs, RCU stalls, data
    /// races (KCSAN) and lockdep's reports are reported, and the guest goes on: nothing broke
    /// yet, and lockdep turns itself off after its first report.
    static func endsTheRun(_ message: String) -> Bool {
        switch kind(of: message) {
        case .panic?, .oops?, .bug?, .generalProtectionFault?, .kasan?: return true
        case .hang?: return message.contains("blocked for more than")
        default: return false
        }
    }

    /// `seconds.micros`, the inside of a printk timestamp's brackets.
    static func isTimestamp(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }
}

extension StringProtocol {
    fileprivate func trimmingTrailing(_ character: Character) -> String {
        var text = Substring(self)
        while text.last == character { text = text.dropLast() }
        return String(text)
    }

    fileprivate func trimmingLeading(_ character: Character) -> String {
        String(drop(while: { $0 == character }))
    }

    fileprivate func strippingSpaces() -> String {
        String(drop(while: { $0 == " " })).trimmingTrailing(" ")
    }
}
