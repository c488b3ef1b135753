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
    enum FrameRule: Equatable {
        /// The `RIP:` function unless generic, else the call trace's first non-generic frame.
        case rip
        /// As `rip`, and delay loops and interrupt entry are skipped too (a CPU stuck spinning).
        case stall
        /// The call trace's first frame that is not scheduling, locking or waiting.
        case hang
        /// The call trace's first non-generic frame.
        case trace
        /// The function(s) the header line names, nothing else (KCSAN: both sides of a race).
        case header
        /// lockdep: the function of the first `at:` line after a line containing `after` (the
        /// lock being taken or changed), as printed, generic or not (syzkaller's recursive
        /// locking, irq inversion and held-lock-freed rules); nil: the first `at:` line.
        case lockSite(after: String?)
        /// lockdep's circular dependency: the functions of the first two `at:` lines (the lock
        /// being taken, the lock held), then the call trace, the first that is not generic.
        case lockSites
        /// lockdep's bad unlock balance: the function of the first `[<address>] f+0x…` line (where
        /// the unbalanced release was), else the call trace.
        case addressLine
        /// The first frame, not generic, of the stack printed after the line containing the
        /// text (lockdep's `… which became SOFTIRQ-irq-safe at:`).
        case framesAfter(String)
    }

    /// The signature of the report whose first line is `lines[0]`, read up to the end of
    /// `lines` (the caller cuts where the next report starts); nil when `lines[0]` opens none.
    static func parse(_ lines: [String]) -> CrashSignature? {
        guard let first = lines.first, let header = Header(ConsoleText.message(of: first)) else { return nil }
        let body = lines.dropFirst().map(ConsoleText.message(of:))
        let trace = CallTrace(body)
        let stall = header.rule == .stall
        func isGeneric(_ name: String) -> Bool {
            GenericFrames.isGeneric(name, stall: stall) || header.skips.contains { name.contains($0) }
        }
        var kind = header.kind
        var truncated = false
        // KASAN names the access on a later line (`Read of size 8 at addr …`); syzkaller's title
        // carries it. Without it the report was cut (syzkaller calls it corrupted).
        if header.needsAccess {
            if let access = Self.access(in: body) { kind += " " + access } else { truncated = true }
        }
        var function: String?
        switch header.rule {
        case .rip, .stall:
            if let rip = trace.ripFunction, !isGeneric(rip) { function = rip }
        case .header:
            function = header.function
        case .lockSite(let after):
            function = Self.lockSites(in: body, after: after).first
        case .framesAfter(let marker):
            function = body.drop { !$0.contains(marker) }.dropFirst().lazy
                .compactMap { ConsoleText.functionName($0.hasPrefix(" ") ? $0 : "") }.first { !isGeneric($0) }
        case .lockSites:
            function = (Self.lockSites(in: body, after: nil).prefix(2) + trace.frames).first { !isGeneric($0) }
        case .addressLine:
            function = body.lazy.compactMap(Self.addressLineFunction).first.flatMap { isGeneric($0) ? nil : $0 }
        case .hang, .trace:
            break
        }
        let candidates = trace.frames.filter { !isGeneric($0) && !(header.rule == .hang && GenericFrames.isWaiting($0)) }
        if function == nil, header.rule != .header {
            function = header.function.flatMap { isGeneric($0) ? nil : $0 } ?? candidates.first
        }
        if function == nil { function = header.fallbackFunction }
        guard let function else {
            return CrashSignature(title: kind, frames: [], truncated: true)
        }
        var frames = [function]
        // The callers: below the function in the trace, or the whole trace when the function
        // came from RIP (the trace starts at its caller).
        let below = candidates.contains(function) ? candidates.drop { $0 != function }.dropFirst() : candidates[...]
        for frame in below where frames.count < 3 && !GenericFrames.isEntry(frame) && header.rule != .header {
            // One frame per syscall: `__sys_recvfrom` and its `__x64_sys_recvfrom` wrapper are one.
            let name = GenericFrames.strippingSyscallPrefix(frame)
            if frames.last.map(GenericFrames.strippingSyscallPrefix) != name { frames.append(frame) }
        }
        let named = header.rule == .header ? function : GenericFrames.strippingSyscallPrefix(function)
        return CrashSignature(title: "\(kind) in \(named)", frames: frames, truncated: truncated)
    }

    /// `Read` or `Write` from KASAN's access line (`Write of size 1 at addr …`, `Read at addr …`).
    static func access(in body: [String]) -> String? {
        for line in body {
            for access in ["Read", "Write"] where line.hasPrefix(access + " of size") || line.hasPrefix(access + " at addr") {
                return access
            }
        }
        return nil
    }

    /// The functions of lockdep's `… (lock){+.+.}-{3:3}, at: f+0x…/0x…` lines, in order; from the
    /// first line containing `after` on, when given.
    static func lockSites(in body: [String], after: String?) -> [String] {
        var started = after == nil
        var sites: [String] = []
        for line in body {
            if !started, let after {
                started = line.contains(after)
                continue
            }
            guard let at = line.range(of: "at: ", options: .backwards) else { continue }
            var rest = Substring(line[at.upperBound...])
            // Older kernels print the address first: `at: [<000000002b518ca0>] f+0x…`.
            if rest.hasPrefix("[<"), let close = rest.range(of: ">] ") { rest = rest[close.upperBound...] }
            if let name = ConsoleText.functionName(String(rest)) { sites.append(name) }
        }
        return sites
    }

    /// `[<ffffffff81234567>] f+0x…/0x…` → `f`.
    static func addressLineFunction(_ line: String) -> String? {
        let text = line.drop { $0 == " " }
        guard text.hasPrefix("[<"), let close = text.range(of: ">] ") else { return nil }
        return ConsoleText.functionName(String(text[close.upperBound...]))
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
    /// Frames that name no bug in this kind of report, beyond ``GenericFrames`` (matched anywhere
    /// in the name, as syzkaller matches its per-report skips).
    var skips: [String] = []
    /// The title names the access (`Read`, `Write`) from a later line (KASAN).
    var needsAccess = false

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
            // "BUG: KASAN: use-after-free in f+0x…/0x…" (6.4+: slab-use-after-free): the access
            // site is on the header line, Read or Write on a later one. A bad free is titled
            // "KASAN: invalid-free in f", where f is the caller of the free, not the allocator.
            let parts = rest.components(separatedBy: " in ")
            let function = parts.count > 1 ? ConsoleText.functionName(parts[1]) : nil
            if ["double-free or invalid-free", "double-free", "invalid-free"].contains(parts[0]) {
                self.init(kind: "KASAN: invalid-free", rule: .trace, function: function, skips: ["slab_", "kfree", "vunmap", "vfree"])
            } else {
                self.init(kind: "KASAN: \(parts[0])", rule: .trace, function: function, needsAccess: true)
            }
        } else if let rest = after("BUG: KCSAN: ") {
            // "BUG: KCSAN: data-race in a / b" (6.1 prints the names without offsets; older
            // kernels with): both sides are named on the header, and the title is the header's.
            let parts = rest.components(separatedBy: " in ")
            let names = parts.count > 1 ? parts[1].components(separatedBy: " / ").compactMap(ConsoleText.symbol) : []
            self.init(kind: "KCSAN: \(parts[0])", rule: .header, function: names.isEmpty ? nil : names.joined(separator: " / "))
        } else if text.hasPrefix("BUG: soft lockup") {
            self.init(kind: "BUG: soft lockup", rule: .stall)
        } else if text.hasPrefix("INFO: task "), text.contains(" blocked for more than ") {
            self.init(kind: "INFO: task hung", rule: .hang)
        } else if text.hasPrefix("INFO: rcu_"), text.contains("detected stall") || text.contains("detected expedited stall") {
            self.init(kind: "INFO: rcu detected stall", rule: .stall)
        } else if let lockdep = Self.lockdep(text) {
            self = lockdep
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

    init(kind: String, rule: CrashSignature.FrameRule, function: String? = nil, fallbackFunction: String? = nil,
         skips: [String] = [], needsAccess: Bool = false) {
        self.kind = kind
        self.rule = rule
        self.function = function
        self.fallbackFunction = fallbackFunction
        self.skips = skips
        self.needsAccess = needsAccess
    }

    /// lockdep's reports (kernel/locking/lockdep.c), titled as syzkaller titles them: every
    /// deadlock kind is "possible deadlock in f", with f the function taking the lock.
    static func lockdep(_ text: Substring) -> Header? {
        let rules: [(prefix: String, kind: String, rule: CrashSignature.FrameRule, skips: [String])] = [
            // The lock being taken, else the one held, else the trace; workqueue functions take
            // locks for their work items, so they name no bug of their own.
            ("WARNING: possible circular locking dependency detected", "possible deadlock", .lockSites,
             ["process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue"]),
            ("WARNING: possible recursive locking detected", "possible deadlock", .lockSite(after: "is trying to acquire lock"), []),
            ("WARNING: possible irq lock inversion dependency detected", "possible deadlock", .lockSite(after: "just changed the state of lock"), []),
            ("WARNING: inconsistent lock state", "inconsistent lock state", .trace, []),
            // The RCU machinery and the allocators complain on behalf of their caller.
            ("WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage", .trace, ["rcu", "kmem", "slab"]),
            ("WARNING: bad unlock balance detected!", "WARNING: bad unlock balance", .addressLine, []),
            ("BUG: bad unlock balance detected!", "BUG: bad unlock balance", .addressLine, []),
            ("WARNING: held lock freed!", "WARNING: held lock freed", .lockSite(after: nil), []),
            ("BUG: held lock freed!", "BUG: held lock freed", .lockSite(after: nil), []),
            ("WARNING: lock held when returning to user space!", "WARNING: lock held when returning to user space",
             .lockSite(after: "leaving the kernel with locks still held"), []),
        ]
        if let match = rules.first(where: { text.hasPrefix($0.prefix) }) {
            return Header(kind: match.kind, rule: match.rule, skips: match.skips)
        }
        // "WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected": the stack of the lock
        // that became safe.
        if text.hasPrefix("WARNING: "), text.contains("-safe -> "), text.hasSuffix("-unsafe lock order detected") {
            return Header(kind: "possible deadlock", rule: .framesAfter("which became"))
        }
        return nil
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
        "lockdep_", "__lock_acquire", "mark_lock", "kmalloc", "__kmalloc", "krealloc", "kfree", "kmem_cache_", "slab_", "__slab",
        "___slab", "kvfree", "kvmalloc", "__kmem_cache", "refcount_", "__refcount_", "__x86_indirect_thunk", "__x86_return_thunk",
        "srso_", "copy_to_user", "copy_from_user", "_copy_to_user", "_copy_from_user", "__might_sleep", "__might_fault",
        "___might_sleep", "__might_resched", "__list_add", "__list_del", "list_add", "list_del", "mutex_lock", "mutex_unlock", "__mutex_lock", "__mutex_unlock",
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
                // A caller id (CONFIG_PRINTK_CALLER: `[ T9712]` for a task, `[    C4]` for a CPU).
                if text.hasPrefix("["), let end = text.firstIndex(of: "]"), isCallerID(text[text.index(after: text.startIndex)..<end]) {
                    text = text[text.index(after: end)...]
                }
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

    /// `T9712`, `C4` (spaces around allowed): a printk caller id.
    static func isCallerID(_ text: Substring) -> Bool {
        let id = text.trimmingCharacters(in: .whitespaces)
        guard let first = id.first, first == "T" || first == "C", id.count > 1 else { return false }
        return id.dropFirst().allSatisfy(\.isNumber)
    }

    /// A frame's function (``functionName(_:)``), or a bare symbol as `%ps` prints it (`f`,
    /// `f.isra.0`, `f [mod]`) → `f`; nil when the text starts with neither.
    static func symbol(_ text: String) -> String? {
        if let name = functionName(text) { return name }
        let word = text.drop(while: { $0 == " " }).prefix { $0 != " " }
        guard let first = word.first, first.isLetter || first == "_",
              word.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) else { return nil }
        return String(word.prefix { $0 != "." })
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
