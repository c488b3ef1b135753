/// What a passive check of a live SNP trace found.
public struct SNPTraceReport: Sendable, Hashable {
    /// Policy calls (`sev_update_mem_attr`, `sev_gmem_prepare`, `sev_gmem_invalidate`) judged.
    public var checkedCalls: Int = 0
    /// Each divergence: the call, what the model expected, what the trace showed.
    public var divergences: [String] = []
    /// What the trace could not decide, and why (honest about what was not checked).
    public var notChecked: [String] = []

    public init() {}
}

/// Passive trace checking for SNP hosts: judges the calls a live kernel made while the user's
/// guest ran, from the probe events alone (nothing is generated on a production SNP host).
///
/// It keeps a shadow RMP learned from the RMP helpers that succeeded. A page the trace never saw
/// change is of unknown state unless the caller says tracing began before the guest existed
/// (`assumeSharedAtStart`: every page not seen assigned is shared). What needs an unknown page is
/// listed under ``SNPTraceReport/notChecked``, never passed silently.
///
/// Rules, per call (each names the model rule it applies):
/// - `sev_update_mem_attr` (v8 48/56): returns 0, -EPERM or -EINVAL; -EPERM makes no RMP change
///   (``SNPRules/notPrivateSlot``); a failed RMP helper ends the call with -EINVAL and is its last
///   RMP call (``SNPRules/rmpFailure``); with `kvm_restrictedmem_get_pfn` events, a call that
///   returned 0 left every page of every folio it looked up, inside the range, in the requested
///   state (``SNPRules/toPrivate``, ``SNPRules/toShared``).
/// - `sev_gmem_prepare` and `sev_gmem_invalidate` (mainline): the snp-gmem model's rules
///   (``GmemRules``) as far as a trace shows them — an assigned pfn is left alone; a 2M entry only
///   over a 2M-aligned, wholly unassigned range inside the folio; every entry at its pages' own
///   GPAs; returning 0 leaves the pfn private and, for a large folio, every page of it that was
///   unassigned; an invalidation changes nothing outside its range and leaves no page it freed
///   assigned.
public enum SNPTraceChecker {
    public static func check(_ events: [SNPTraceEvent], assumeSharedAtStart: Bool = false) -> SNPTraceReport {
        var checker = Checker(assumeShared: assumeSharedAtStart)
        var open: [UInt32: Frame] = [:]
        for event in events.sorted(by: { $0.timestamp < $1.timestamp }) {
            switch event.kind {
            case .updateMemAttrEntry, .gmemPrepareEntry, .gmemInvalidateEntry:
                if open[event.thread] != nil {
                    checker.report.notChecked.append("\(event): entered before the previous call on thread \(event.thread) returned (lost event?)")
                }
                open[event.thread] = Frame(entry: event)
            case .updateMemAttrExit, .gmemPrepareExit, .gmemInvalidateExit:
                guard var frame = open.removeValue(forKey: event.thread) else {
                    checker.report.notChecked.append("\(event): return without its entry (tracing began mid-call)")
                    continue
                }
                frame.exit = event
                checker.judge(frame)
            case .getPFN, .rmpMakePrivate, .rmpMakeShared, .psmash:
                if open[event.thread] != nil { open[event.thread]!.inner.append(event) } else { checker.learn(event) }
            case .postSetMemoryAttributes:
                break
            }
        }
        for frame in open.values {
            checker.report.notChecked.append("\(frame.entry): no return seen before tracing ended")
        }
        return checker.report
    }

    struct Frame {
        let entry: SNPTraceEvent
        var inner: [SNPTraceEvent] = []
        var exit: SNPTraceEvent?
    }

    struct Checker {
        let assumeShared: Bool
        var shadow = RMPTable()
        /// Pfns whose state the trace has shown.
        var known: Set<UInt64> = []
        var report = SNPTraceReport()

        init(assumeShared: Bool) { self.assumeShared = assumeShared }

        func state(of pfn: UInt64) -> RMPEntry? { known.contains(pfn) || assumeShared ? shadow[pfn] : nil }

        /// Updates the shadow RMP from a successful RMP helper.
        mutating func learn(_ event: SNPTraceEvent) {
            switch event.kind {
            case let .rmpMakePrivate(pfn, gpa, level, asid, immutable, 0):
                let size = RMPPageSize(x86Level: level)
                let pages = size == .size2M ? RMPTable.pagesPer2M : 1
                shadow.assume(RMPEntry(assigned: true, pageSize: size, immutable: immutable, asid: asid, gpa: gpa), at: pfn, pages: pages)
                known.formUnion(pfn..<(pfn + pages))
            case let .rmpMakeShared(pfn, level, 0):
                let pages = RMPPageSize(x86Level: level) == .size2M ? RMPTable.pagesPer2M : 1
                shadow.assume(.hypervisor, at: pfn, pages: pages)
                known.formUnion(pfn..<(pfn + pages))
            case let .psmash(pfn, 0):
                if shadow.psmash(pfn: RMPTable.base(of: pfn)) != .success {
                    // The shadow did not know the 2M entry; the pages are 4K now, owner unknown.
                    known.subtract(RMPTable.base(of: pfn)..<(RMPTable.base(of: pfn) + RMPTable.pagesPer2M))
                }
            default:
                break
            }
        }

        /// The states of the pfns in `ranges` as they are now (nil inside: unknown), for judging a
        /// call against what was there before it; only those pfns, never the whole shadow RMP,
        /// which on a long trace of a busy host is large.
        func snapshot(_ ranges: [Range<UInt64>]) -> [UInt64: RMPEntry?] {
            var states: [UInt64: RMPEntry?] = [:]
            for range in ranges { for pfn in range where states[pfn] == nil { states[pfn] = .some(state(of: pfn)) } }
            return states
        }

        mutating func diverge(_ frame: Frame, _ text: String) {
            report.divergences.append("\(frame.entry.description.dropLast(2)) returned \(frame.resultText): \(text)")
        }

        mutating func judge(_ frame: Frame) {
            report.checkedCalls += 1
            switch frame.entry.kind {
            case let .updateMemAttrEntry(_, _, _, attributes, start, end):
                judgeUpdate(frame, toPrivate: attributes & 0x8 != 0, start: start, end: end)
            case let .gmemPrepareEntry(pfn, gfn, maxOrder):
                judgePrepare(frame, pfn: pfn, gfn: gfn, maxOrder: maxOrder)
            case let .gmemInvalidateEntry(start, end):
                judgeInvalidate(frame, start: start, end: end)
            default:
                break
            }
        }

        /// The RMP helper calls made inside a frame, in order.
        func rmpCalls(_ frame: Frame) -> [SNPTraceEvent] { frame.inner.filter { $0.helperResult != nil } }

        mutating func judgeUpdate(_ frame: Frame, toPrivate: Bool, start: UInt64, end: UInt64) {
            let result = frame.result ?? 0
            let calls = rmpCalls(frame)
            let failed = calls.firstIndex { $0.helperResult != 0 }
            for call in calls { learn(call) }
            guard [0, -1, -22].contains(result) else {
                return diverge(frame, "expected 0, -EPERM or -EINVAL [\(SNPRules.rmpFailure.id)]")
            }
            if result == -1 && !calls.isEmpty {
                return diverge(frame, "expected no RMP change with -EPERM [\(SNPRules.notPrivateSlot.id)]; observed \(calls.count) RMP call(s)")
            }
            if let failed {
                if result != -22 {
                    return diverge(frame, "expected -EINVAL after \(calls[failed]) failed [\(SNPRules.rmpFailure.id)]")
                }
                if failed != calls.count - 1 {
                    return diverge(frame, "expected the update to stop at \(calls[failed]) [\(SNPRules.rmpFailure.id)]; observed \(calls.count - failed - 1) more RMP call(s)")
                }
            } else if result == -22 {
                report.notChecked.append("\(frame.entry): -EINVAL without a failed RMP helper in the trace (snp_lookup_rmpentry is not probed)")
            }
            for call in calls {
                if case let .rmpMakePrivate(_, gpa, _, _, _, _) = call.kind, !(start << 12..<end << 12).contains(gpa) {
                    return diverge(frame, "expected RMP changes inside [\(hexString(start << 12)), \(hexString(end << 12))); observed \(call)")
                }
            }
            guard result == 0 else { return }
            let lookups = frame.inner.compactMap { event -> (gfn: UInt64, pfn: UInt64, order: Int32)? in
                if case let .getPFN(gfn, pfn, order, 0) = event.kind { return (gfn, pfn, order) }
                return nil
            }
            if lookups.isEmpty && start < end {
                report.notChecked.append("\(frame.entry): no kvm_restrictedmem_get_pfn events, so which pages back the range is unknown")
                return
            }
            let asid = calls.lazy.compactMap { event -> UInt32? in
                if case let .rmpMakePrivate(_, _, _, asid, _, 0) = event.kind { return asid }
                return nil
            }.first
            var unknown = 0
            var seen: Set<UInt64> = []
            for lookup in lookups {
                // The whole folio the looked-up page belongs to: the loop may step over the rest.
                let pages = UInt64(1) << UInt64(max(0, lookup.order))
                let head = lookup.pfn & ~(pages - 1)
                guard lookup.gfn >= lookup.pfn - head else { continue }
                let headGFN = lookup.gfn - (lookup.pfn - head)
                for offset in 0..<pages {
                    let gfn = headGFN + offset, pfn = head + offset
                    guard gfn >= start, gfn < end, seen.insert(pfn).inserted else { continue }
                    guard let entry = state(of: pfn) else { unknown += 1; continue }
                    let ok = toPrivate ? entry.assigned && (asid.map { entry.asid == $0 } ?? true) && entry.gpa == gfn << 12 : !entry.assigned
                    if !ok {
                        return diverge(frame, "expected gfn \(hexString(gfn)) (pfn \(hexString(pfn)), in the order-\(lookup.order) folio of gfn \(hexString(lookup.gfn))) \(toPrivate ? "private" : "shared") [\(toPrivate ? SNPRules.toPrivate.id : SNPRules.toShared.id)]; observed \(entry)")
                    }
                }
            }
            if unknown > 0 {
                report.notChecked.append("\(frame.entry): \(unknown) page(s) of the range of unknown RMP state (trace began after the guest; pass --from-guest-start when it did not)")
            }
        }

        /// `sev_gmem_prepare(kvm, pfn, gfn, max_order)` against the snp-gmem rules: guest_memfd
        /// hands it a folio's first pfn and gfn and the folio's order (6.12 guest_memfd.c:28-34).
        mutating func judgePrepare(_ frame: Frame, pfn: UInt64, gfn: UInt64, maxOrder: Int32) {
            let calls = rmpCalls(frame)
            let folio = pfn..<(pfn + (UInt64(1) << UInt64(max(0, min(maxOrder, 30)))))
            let written = calls.compactMap { call -> Range<UInt64>? in
                guard case let .rmpMakePrivate(callPFN, _, level, _, _, 0) = call.kind else { return nil }
                return callPFN..<(callPFN + (level == PageLevel.size4K ? 1 : RMPTable.pagesPer2M))
            }
            let before = snapshot([folio] + written)
            func was(_ page: UInt64) -> RMPEntry? { before[page] ?? nil }
            /// The GPA a page of the folio must be recorded at.
            func gpa(of page: UInt64) -> UInt64 { (gfn + (page - pfn)) << 12 }
            if let entry = was(pfn), entry.assigned, !calls.isEmpty {
                return diverge(frame, "expected an assigned pfn \(hexString(pfn)) (\(entry)) left as it is [\(GmemRules.prepareAssigned.id)]; observed \(calls[0])")
            }
            for call in calls {
                guard case let .rmpMakePrivate(callPFN, callGPA, level, _, _, 0) = call.kind else { continue }
                let pages = level == PageLevel.size4K ? UInt64(1) : RMPTable.pagesPer2M
                let covered = callPFN..<(callPFN + pages)
                if pages > 1 {
                    guard maxOrder >= 9, callPFN % RMPTable.pagesPer2M == 0, folio.contains(callPFN), folio.contains(covered.upperBound - 1) else {
                        return diverge(frame, "expected a 2M entry only over a 2M-aligned range inside the order-\(maxOrder) folio [\(GmemRules.prepareHugeEntry.id)]; observed \(call)")
                    }
                    if let assigned = covered.first(where: { was($0)?.assigned == true }) {
                        return diverge(frame, "expected a 2M entry only over a wholly unassigned 2M range [\(GmemRules.prepareHugeEntry.id)]; pfn \(hexString(assigned)) was assigned; observed \(call)")
                    }
                }
                guard covered.overlaps(folio) else {
                    return diverge(frame, "expected RMP changes only inside the folio [\(hexString(folio.lowerBound)), \(hexString(folio.upperBound))) [\(GmemRules.prepareOthers.id)]; observed \(call)")
                }
                // Each page at its own gfn's GPA: a 2M entry records page p at callGPA + (p - callPFN).
                let page = max(callPFN, pfn)
                if callGPA + (page - callPFN) << 12 != gpa(of: page) {
                    return diverge(frame, "expected pfn \(hexString(page)) private at gfn \(hexString(gpa(of: page) >> 12))'s GPA \(hexString(gpa(of: page))) [\(GmemRules.preparePrivate.id)]; observed \(call), which records it at \(hexString(callGPA + (page - callPFN) << 12))")
                }
            }
            for call in calls { learn(call) }
            guard frame.result == 0 else { return }
            guard let entry = state(of: pfn) else {
                report.notChecked.append("\(frame.entry): pfn \(hexString(pfn)) of unknown RMP state")
                return
            }
            if !entry.assigned {
                return diverge(frame, "expected pfn \(hexString(pfn)) private after a successful prepare [\(GmemRules.preparePrivate.id)]; observed \(entry)")
            }
            // Large-folio world: the folio is marked prepared as a whole, so every page of it that
            // was unassigned must be private now.
            guard folio.count > 1 else { return }
            var unknown = 0
            for page in folio.dropFirst() where state(of: page)?.assigned != true {
                guard let entry = was(page) else { unknown += 1; continue }
                if !entry.assigned {
                    return diverge(frame, "expected every unassigned page of the order-\(maxOrder) folio private [\(GmemRules.prepareWholeFolio.id)]; pfn \(hexString(page)) (gfn \(hexString(gpa(of: page) >> 12))) is still \(state(of: page).map { "\($0)" } ?? "unassigned")")
                }
            }
            if unknown > 0 {
                report.notChecked.append("\(frame.entry): \(unknown) page(s) of the folio of unknown RMP state before the call (pass --from-guest-start when tracing began before the guest)")
            }
        }

        /// `sev_gmem_invalidate(start, end)` against the snp-gmem rules: the freed pages go back
        /// to the host; pages outside keep their owner.
        mutating func judgeInvalidate(_ frame: Frame, start: UInt64, end: UInt64) {
            let freed = start..<min(end, start + 1 << 20)
            let before = snapshot([freed])
            for call in rmpCalls(frame) {
                guard case let .rmpMakeShared(pfn, level, 0) = call.kind else { continue }
                let pages = level == PageLevel.size4K ? UInt64(1) : RMPTable.pagesPer2M
                if pfn < start || pfn + pages > end {
                    return diverge(frame, "expected RMP changes only inside the freed range [\(hexString(start)), \(hexString(end))) [\(GmemRules.invalidateOutside.id)]; observed \(call)")
                }
            }
            for call in rmpCalls(frame) { learn(call) }
            for pfn in freed {
                guard let was = before[pfn] ?? nil, was.assigned else { continue }
                if let now = state(of: pfn), now.assigned {
                    return diverge(frame, "expected pfn \(hexString(pfn)) (was \(was)) shared after the invalidation [\(GmemRules.invalidateShared.id)]; observed \(now)")
                }
            }
        }
    }
}

extension SNPTraceChecker.Frame {
    var result: Int32? {
        switch exit?.kind {
        case let .updateMemAttrExit(result)?, let .gmemPrepareExit(result)?: return result
        default: return nil
        }
    }

    var resultText: String { result.map(SNPUpdateOutcome.name) ?? "(void)" }
}

extension SNPTraceEvent {
    /// The return value of an RMP helper event.
    var helperResult: Int32? {
        switch kind {
        case let .rmpMakePrivate(_, _, _, _, _, result), let .rmpMakeShared(_, _, result), let .psmash(_, result): return result
        default: return nil
        }
    }
}
