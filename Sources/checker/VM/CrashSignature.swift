import Foundation

/// What identifies a kernel bug in a console report, not the run that hit it: a title that names
/// the kind of report and the function it happened in (`BUG: kernel NULL pointer dereference in
/// virtio_transport_dgram_enqueue`, `WARNING in vsock_assign_transport`, `INFO: task hung in
/// vsock_dgram_sendmsg`), and the first frames of the call trace that are not generic.
///
/// The rules are syzkaller's, read from its report parser (docs/research/syzkaller-report-titles.md):
/// the function is the one on the `RIP:` line unless it is generic (a delay loop, a lock, a
/// string helper, the fault and warning machinery), else the first frame of the call trace that
/// is not; questionable frames (`? func+0x…`) and interrupt frames never count; a hung task takes
/// the first frame that is not scheduling, locking or waiting; offsets, `.constprop.N`-style
/// suffixes and modules are dropped. Two crashes are one finding when their titles are equal
/// (syzkaller's rule too): the frames below the title's are context, because the same bug reached
/// from another call site is still the same bug.
struct CrashSignature: Codable, Hashable, Sendable, CustomStringConvertible {
    /// `KIND in FUNCTION`, or the kind alone when the report names no function.
    var title: String
    /// The title's function and up to two non-generic callers below it, innermost first.
    var frames: [String]
    /// The report ended before its call trace could name a function (a console that lost lines,
    /// a guest killed mid-report, a log level that hides the stack).
    var truncated: Bool

    var description: String {
        var text = title
        if frames.count > 1 { text += " (" + frames.joined(separator: " ← ") + ")" }
        if truncated { text += " [report cut before its call trace]" }
        return text
    }

    /// True when both name the same bug: equal titles.
    func isSameBug(as other: CrashSignature) -> Bool { title == other.title }
}

extension CrashSignature {
    /// How a kind of report chooses its function.
    enum FrameRule {
        /// The `RIP:` function unless generic, else the call trace's first non-generic frame.
        case rip
        /// As `rip`, and delay loops and interrupt entry are skipped too (a CPU stuck spinning).
        case stall
        /// The call trace's first frame that is not scheduling, locking or waiting.
        case hang
        /// The call trace's first non-generic frame.
        case trace
    }

    /// The signature of the report whose first line is `lines[0]`, read up to the end of
    /// `lines` (the caller cuts where the next report starts); nil when `lines[0]` opens none.
    static func parse(_ lines: [String]) -> CrashSignature? {
        guard let first = lines.first, let header = Header(ConsoleText.message(of: first)) else { return nil }
        let body = lines.dropFirst().map(ConsoleText.message(of:))
        let trace = CallTrace(body)
        var function: String?
        switch header.rule {
        case .rip, .stall:
            if let rip = trace.ripFunction, !GenericFrames.isGeneric(rip, stall: header.rule == .stall) { function = rip }
        case .hang, .trace:
            break
        }
        let candidates = trace.frames.filter { !GenericFrames.isGeneric($0, stall: header.rule == .stall) && !(header.rule == .hang && GenericFrames.isWaiting($0)) }
        if function == nil { function = header.function.flatMap { GenericFrames.isGeneric($0, stall: false) ? nil : $0 } ?? candidates.first }
        if function == nil { function = header.fallbackFunction }
        guard let function else {
            return CrashSignature(title: header.kind, frames: [], truncated: true)
        }
        var frames = [function]
        // The callers: below the function in the trace, or the whole trace when the function
        // came from RIP (the trace starts at its caller).
        let below = candidates.contains(function) ? candidates.drop { $0 != function }.dropFirst() : candidates[...]
        for frame in below where frames.count < 3 && !GenericFrames.isEntry(frame) {
            // One frame per syscall: `__sys_recvfrom` and its `__x64_sys_recvfrom` wrapper are one.
            let name = GenericFrames.strippingSyscallPrefix(frame)
            if frames.last.map(GenericFrames.strippingSyscallPrefix) != name { frames.append(frame) }
        }
        return CrashSignature(title: "\(header.kind) in \(GenericFrames.strippingSyscallPrefix(function))",
                              frames: frames, truncated: false)
    }
}

/// The first line of a kernel bug report, recognised: its kind (the title's first part), how its
/// function is chosen, and a function the header line itself names.
private struct Header {
    var kind: String
    var rule: CrashSignature.FrameRule
    /// A function the header names that wins over the trace (KASAN's and KCSAN's access site).
    var function: String?
    /// A function the header names, used when the report has neither RIP nor call trace
    /// (a WARNING's `at FILE:LINE FUNC+0x…`).
    var fallbackFunction: String?

    init?(_ message: String) {
        // One subsystem prefix is allowed: "watchdog: BUG: soft lockup", "rcu: INFO: rcu_preempt …".
        var text = Substring(message)
        if let colon = text.firstIndex(of: ":"), !text[..<colon].contains(" "), !["BUG", "WARNING", "INFO", "UBSAN"].contains(String(text[..<colon])) {
            text = text[text.index(after: colon)...].drop(while: { $0 == " " })
        }
        func after(_ prefix: String) -> Substring? { text.hasPrefix(prefix) ? text.dropFirst(prefix.count) : nil }

        if text.hasPrefix("BUG: kernel NULL pointer dereference") || text.hasPrefix("BUG: unable to handle kernel NULL pointer dereference") {
            self.init(kind: "BUG: kernel NULL pointer dereference", rule: .rip)
        } else if text.hasPrefix("BUG: unable to handle page fault") || text.hasPrefix("BUG: unable to handle kernel paging request") {
            self.init(kind: "BUG: unable to handle page fault", rule: .rip)
        } else if text.hasPrefix("general protection fault") || text.hasPrefix("Oops: general protection fault") {
            self.init(kind: "general protection fault", rule: .rip)
        } else if text.hasPrefix("kernel BUG at ") {
            self.init(kind: "kernel BUG", rule: .rip)
        } else if let rest = after("BUG: KASAN: ") {
            // "BUG: KASAN: slab-use-after-free in f+0x…/0x…": the access site is on the header line.
            let parts = rest.components(separatedBy: " in ")
            self.init(kind: "KASAN: \(parts[0])", rule: .rip, function: parts.count > 1 ? ConsoleText.functionName(parts[1]) : nil)
        } else if let rest = after("BUG: KCSAN: ") {
            // "BUG: KCSAN: data-race in a+0x…/0x… / b+0x…/0x…": both sides named on the header.
            let parts = rest.components(separatedBy: " in ")
            let names = parts.count > 1 ? parts[1].components(separatedBy: " / ").compactMap(ConsoleText.functionName) : []
            self.init(kind: "KCSAN: \(parts[0])", rule: .trace, function: names.isEmpty ? nil : names.joined(separator: " / "))
        } else if text.hasPrefix("BUG: soft lockup") {
            self.init(kind: "BUG: soft lockup", rule: .stall)
        } else if text.hasPrefix("INFO: task "), text.contains(" blocked for more than ") {
            self.init(kind: "INFO: task hung", rule: .hang)
        } else if text.hasPrefix("INFO: rcu_"), text.contains("detected stall") || text.contains("detected expedited stall") {
            self.init(kind: "INFO: rcu detected stall", rule: .stall)
        } else if text.hasPrefix("WARNING: possible circular locking dependency detected") || text.hasPrefix("WARNING: possible recursive locking detected") {
            self.init(kind: "possible deadlock", rule: .trace)
        } else if text.hasPrefix("WARNING: inconsistent lock state") {
            self.init(kind: "inconsistent lock state", rule: .trace)
        } else if text.hasPrefix("WARNING: ") {
            // "WARNING: CPU: 1 PID: 244 at net/x.c:37 f+0x1c/0x23 [mod]"
            let site = text.range(of: " at ").map { text[$0.upperBound...] }
            let function = site.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { ConsoleText.functionName(String($0)) }
            self.init(kind: "WARNING", rule: .rip, fallbackFunction: function)
        } else if let rest = after("UBSAN: ") {
            self.init(kind: "UBSAN: " + (rest.components(separatedBy: " in ").first ?? String(rest)), rule: .trace)
        } else if let rest = after("BUG: ") {
            // "BUG: sleeping function called from invalid context at f.c:12", "BUG: scheduling while atomic: …"
            let what = rest.components(separatedBy: " at ").first!.components(separatedBy: ":").first!
            self.init(kind: "BUG: " + ConsoleText.withoutNumbers(what), rule: .trace)
        } else if let rest = after("Kernel panic - not syncing: ") {
            self.init(kind: "kernel panic: " + ConsoleText.withoutNumbers(String(rest)), rule: .trace)
        } else {
            return nil
        }
    }

    init(kind: String, rule: CrashSignature.FrameRule, function: String? = nil, fallbackFunction: String? = nil) {
        self.kind = kind
        self.rule = rule
        self.function = function
        self.fallbackFunction = fallbackFunction
    }
}

/// The `RIP:` function and the call trace's frames of a report body, in order. Questionable
/// frames (`? f+0x…`) and frames inside `<IRQ>`…`</IRQ>` or `<NMI>`…`</NMI>` are left out: they
/// are stale stack words and the interrupt that found the bug, not the code that has it. Only a
/// trace with no reliable frame at all gives its questionable ones: after a call through a wild
/// pointer the unwinder marks every frame (finding 1's report: `RIP: 0010:0x1`, then
/// `? virtio_transport_dgram_enqueue+0x147/0x220`).
private struct CallTrace {
    var ripFunction: String?
    var frames: [String] = []

    init(_ body: [String]) {
        var inTrace = false, inInterrupt = false, ripSeen = false
        var questionable: [String] = []
        defer { if frames.isEmpty { frames = questionable } }
        for raw in body {
            let line = raw.drop(while: { $0 == " " || $0 == "\t" })
            // The kernel's RIP (code segment 0010), the first one: a report repeats it at its end.
            if line.hasPrefix("RIP: 0010:") {
                if !ripSeen { ripFunction = ConsoleText.functionName(String(line.dropFirst("RIP: 0010:".count))) }
                ripSeen = true
                continue
            }
            if line.hasPrefix("Call Trace:") { inTrace = true; continue }
            guard inTrace else { continue }
            switch line {
            case _ where line.hasPrefix("<IRQ>") || line.hasPrefix("<NMI>"): inInterrupt = true
            case _ where line.hasPrefix("</IRQ>") || line.hasPrefix("</NMI>"): inInterrupt = false
            case _ where line.hasPrefix("</TASK>"), _ where line.hasPrefix("RIP: 0033"): inTrace = false
            case _ where line.hasPrefix("? "):
                if !inInterrupt, let name = ConsoleText.functionName(String(line.dropFirst(2))) { questionable.append(name) }
            case _ where line.hasPrefix("<"): break
            default:
                if !inInterrupt, let name = ConsoleText.functionName(String(line)) { frames.append(name) }
            }
        }
    }
}

/// Frames that say nothing about where a bug is: reporting and fault machinery, locks, delays,
/// allocators, string helpers and entry code (syzkaller's skip list, in the part that applies to
/// x86-64 reports of this project's kernels).
enum GenericFrames {
    static let prefixes = [
        "dump_stack", "show_stack", "show_regs", "__warn", "warn_slowpath", "report_bug", "handle_bug", "exc_", "asm_exc_",
        "asm_sysvec_", "sysvec_", "__sysvec_", "do_trap", "do_error_trap", "die", "__die", "oops_", "page_fault_oops",
        "do_user_addr_fault", "handle_page_fault", "kernelmode_fixup_or_oops", "__bad_area", "bad_area", "no_context",
        "do_kern_addr_fault", "spurious_kernel_fault", "kasan_", "__kasan", "kcsan_", "__kcsan", "__tsan", "__asan", "check_memory_region",
        "print_report", "print_address_description", "ubsan_", "__ubsan", "panic", "memcpy", "__memcpy", "memset",
        "__memset", "memmove", "memcmp", "strcmp", "strncmp", "strlen", "strscpy", "strncpy", "_raw_spin_", "_raw_read_",
        "_raw_write_", "do_raw_spin", "queued_spin", "native_queued", "__pv_queued", "lock_acquire", "lock_release",
        "lockdep_", "__lock_acquire", "mark_lock", "kmalloc", "__kmalloc", "kfree", "kmem_cache_", "slab_", "__slab",
        "___slab", "kvfree", "kvmalloc", "__kmem_cache", "refcount_", "__refcount_", "__x86_indirect_thunk", "__x86_return_thunk",
        "srso_", "copy_to_user", "copy_from_user", "_copy_to_user", "_copy_from_user", "__might_sleep", "__might_fault",
        "__might_resched", "mutex_lock", "mutex_unlock", "__mutex_lock", "__mutex_unlock",
    ]
    /// Where a CPU spins or an interrupt came in: not the code that got stuck.
    static let stallPrefixes = [
        "delay_tsc", "delay_halt", "__const_udelay", "__udelay", "udelay", "__delay", "mdelay", "rcu_", "__rcu_",
        "irq_exit", "__irq_exit", "hrtimer_", "__hrtimer", "tick_", "update_process_times", "watchdog_timer_fn",
        "smp_call_function", "native_safe_halt", "default_idle", "cpu_idle", "do_idle", "cpu_startup_entry",
    ]
    /// Where a task waits (syzkaller's hung task rule): the frame to name is the one that waits.
    static let waitingParts = [
        "sched", "_lock", "_slowlock", "down", "rwsem", "completion", "kthread", "wait", "synchronize",
        "context_switch", "__switch_to", "cancel_delayed_work", "rcu_barrier",
    ]
    /// Entry and dispatch frames: the bottom of the interesting part of a trace.
    static let entries: Set<String> = [
        "do_syscall_64", "entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64", "do_one_initcall", "do_init_module",
        "load_module", "process_one_work", "worker_thread", "kthread", "ret_from_fork", "__do_sys_finit_module",
    ]

    static func isGeneric(_ name: String, stall: Bool) -> Bool {
        prefixes.contains { name.hasPrefix($0) } || (stall && stallPrefixes.contains { name.hasPrefix($0) }) || entries.contains(name)
    }

    static func isWaiting(_ name: String) -> Bool { waitingParts.contains { name.contains($0) } }

    static func isEntry(_ name: String) -> Bool { entries.contains(name) }

    /// `__x64_sys_sendto`, `__sys_sendto`, `__do_sys_sendto`, `__se_sys_sendto`, `ksys_read` → the
    /// syscall's name, as syzkaller titles them (the shortest of the stripped forms).
    static func strippingSyscallPrefix(_ name: String) -> String {
        let prefixes = ["__x64_sys_", "__ia32_sys_", "__do_sys_", "__se_sys_", "____sys_", "___sys_", "__sys_", "ksys_", "sys_"]
        return prefixes.compactMap { name.hasPrefix($0) ? String(name.dropFirst($0.count)) : nil }.min { $0.count < $1.count } ?? name
    }
}

/// Console text helpers: the kernel message a line carries, a frame's function name.
enum ConsoleText {
    /// The text of a console line after its printk timestamp (`[   58.502261] `) and log level
    /// (`<4>`), if any; a line where a timestamp starts mid-line (the guest's stderr and the
    /// kernel console share one stream) gives the text after the last one.
    static func message(of line: String) -> String {
        var text = Substring(line)
        var searchStart = text.startIndex
        while let open = text[searchStart...].firstIndex(of: "[") {
            guard let close = text[open...].firstIndex(of: "]") else { break }
            if ConsoleScanner.isTimestamp(text[text.index(after: open)..<close].trimmingCharacters(in: .whitespaces)) {
                text = text[text.index(after: close)...]
                if text.first == " " { text = text.dropFirst() }
                searchStart = text.startIndex
            } else {
                searchStart = text.index(after: open)
            }
        }
        if text.hasPrefix("<"), let close = text.firstIndex(of: ">"), text.distance(from: text.startIndex, to: close) <= 2 {
            text = text[text.index(after: close)...]
        }
        return String(text)
    }

    /// `f.constprop.0+0x1c/0x34 [mod]` → `f`; nil when the text does not start with a
    /// `name+0xOFF/0xSIZE` frame (a bare address, `0x58`, names no function).
    static func functionName(_ text: String) -> String? {
        let trimmed = text.drop(while: { $0 == " " })
        guard let plus = trimmed.firstIndex(of: "+"), trimmed[plus...].hasPrefix("+0x") else { return nil }
        let symbol = trimmed[..<plus]
        guard let first = symbol.first, first.isLetter || first == "_",
              symbol.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else { return nil }
        return String(symbol.prefix { $0 != "." })
    }

    /// Each run of digits replaced by `N`, so that a message's counts and ids do not split one
    /// bug in two.
    static func withoutNumbers(_ text: String) -> String {
        var result = ""
        for character in text.trimmingCharacters(in: .whitespaces) {
            if character.isNumber {
                if result.last != "N" { result.append("N") }
            } else {
                result.append(character)
            }
        }
        return result
    }
}
