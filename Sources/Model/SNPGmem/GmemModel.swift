/// The guest_memfd SNP model: what mainline's `sev_gmem_prepare`, `sev_gmem_invalidate` and
/// `sev_private_max_mapping_level` should leave in the RMP and return (``GmemRules``).
///
/// Stated as end states, not as the hooks' loops: after a fault the faulted page (and, for a
/// large folio, every unassigned page of it) is the VM's at its GPA; after a free every page the
/// VM owned in the range is the host's again; pages outside keep their owner. The model never
/// decides *how* (4K or 2M entries, which PSMASH) beyond the rules on 2M entries, and continues
/// from the RMP the system showed.
public struct GmemModel: ReferenceModel {
    public typealias Operation = GmemOperation
    public typealias Observation = GmemObservation
    public typealias Expectation = GmemExpectation

    public struct State: Hashable, Sendable {
        public var environment = GmemEnvironment()
        public init() {}
    }

    public init() {}

    public var initialState: State { State() }

    public func isApplicable(_ operation: GmemOperation, in state: State) -> Bool {
        if case .setup = operation { return state.environment.slot == nil }
        return state.environment.canApply(operation)
    }

    public func expect(_ operation: GmemOperation, in state: State) -> GmemExpectation {
        let environment = state.environment
        guard let slot = environment.slot else { return GmemExpectation(results: [], summary: "applied", rule: GmemRules.setup) }
        switch operation {
        case .setup, .allocate, .preset:
            return GmemExpectation(results: [], summary: "applied", rule: GmemRules.setup)
        case let .prepare(gfn):
            guard slot.snpGuest else {
                return GmemExpectation(results: [0], summary: "0, RMP unchanged", rule: GmemRules.prepareNonSNP)
            }
            let fault = environment.fault(at: gfn)
            let whole = (fault?.folio.order ?? 0) > 0
            return GmemExpectation(results: [0], summary: "0; " + (whole ? "every unassigned page of the order-\(fault!.folio.order) folio"
                                   : "the page of gfn \(hexString(gfn))") + " private to ASID \(slot.asid) at its GPA",
                                   rule: whole ? GmemRules.prepareWholeFolio : GmemRules.preparePrivate)
        case .invalidate:
            return GmemExpectation(results: [0], summary: "every page of the range this VM owned shared, pages outside unchanged",
                                   rule: GmemRules.invalidateShared)
        case let .maxLevel(gfn):
            guard slot.snpGuest else { return GmemExpectation(results: [0], summary: "0 (no limit)", rule: GmemRules.maxLevelNonSNP) }
            let bound = environment.world.backing(of: gfn).map { environment.rmp.lookup($0.pfn).level.x86Level } ?? PageLevel.size4K
            return GmemExpectation(results: Array(PageLevel.size4K...bound),
                                   summary: "a level from 1 (4K) to \(bound), the RMP page size", rule: GmemRules.maxLevelRMP)
        }
    }

    public func judge(_ observation: GmemObservation, of operation: GmemOperation, against expectation: GmemExpectation,
                      state: inout State) -> Verdict {
        if let crash = observation.crash {
            return .diverges(Mismatch(kind: .crash, detail: "expected \(expectation.summary) [\(GmemRules.crash.id)]; the code under check \(crash.description)"))
        }
        let before = state.environment
        switch operation {
        case .setup, .allocate, .preset:
            guard case .applied = observation else {
                return .diverges(Mismatch(kind: .state, detail: "expected the setup to apply, observed \(observation)"))
            }
            state.environment.apply(operation)
            return .agrees(rule: GmemRules.setup.id)
        case .prepare, .invalidate, .maxLevel:
            break
        }
        guard case let .call(outcome) = observation, let slot = before.slot else {
            return .diverges(Mismatch(kind: .result, detail: "expected a return from the hook, observed \(observation)"))
        }
        // Advance from what the system showed, whatever the verdict.
        state.environment.apply(operation)
        state.environment.rmp = outcome.rmp
        if case .prepare = operation, outcome.result == 0, let fault = before.fault(at: operation.gfn ?? 0) {
            state.environment.markPrepared(folioAt: fault.folio.index)
        }
        guard expectation.results.contains(outcome.result) else {
            return .diverges(Mismatch(kind: .result, detail: "expected \(expectation.summary) [\(expectation.rule.id)]; observed \(outcome)"))
        }
        let problem: (Rule, String)?
        switch operation {
        case let .prepare(gfn):
            problem = Self.checkPrepare(before: before, slot: slot, gfn: gfn, outcome: outcome)
        case let .invalidate(index, pages):
            problem = Self.checkInvalidate(before: before, slot: slot, range: before.pfns(ofFilePages: index, pages: pages) ?? 0..<0,
                                           outcome: outcome)
        case .maxLevel:
            problem = Self.changedEntry(before.rmp, outcome.rmp, outside: 0..<0).map { (GmemRules.maxLevelRMP, "the query changed the RMP: \($0)") }
                ?? Self.unexpectedWarning(outcome, allowed: false)
        case .setup, .allocate, .preset:
            problem = nil
        }
        if let (rule, detail) = problem {
            return .diverges(Mismatch(kind: .state, detail: "expected \(expectation.summary); \(detail) [\(rule.id)]"))
        }
        return .agrees(rule: expectation.rule.id)
    }

    // MARK: - The end-state checks

    /// A fault: the rules of ``GmemRules`` on prepare, in the order a kernel developer would ask.
    static func checkPrepare(before: GmemEnvironment, slot: SNPMemslot, gfn: UInt64, outcome: GmemCallOutcome) -> (Rule, String)? {
        guard let fault = before.fault(at: gfn) else { return nil }
        let folioPFNs = fault.folio.pfn..<(fault.folio.pfn + (UInt64(1) << UInt64(fault.folio.order)))
        let old = before.rmp
        let new = outcome.rmp
        if !slot.snpGuest {
            if let change = changedEntry(old, new, outside: 0..<0) { return (GmemRules.prepareNonSNP, change) }
            return unexpectedWarning(outcome, allowed: false)
        }
        if let change = changedEntry(old, new, outside: folioPFNs) { return (GmemRules.prepareOthers, change) }
        for pfn in folioPFNs where old[pfn].assigned && old[pfn].ownership != new[pfn].ownership {
            return (GmemRules.prepareAssigned, "pfn \(hexString(pfn)) went from \(old[pfn].ownership) to \(new[pfn].ownership)")
        }
        let index = fault.folio.index
        func wanted(_ pfn: UInt64) -> RMPEntry.Ownership {
            .guest(asid: slot.asid, gpa: (slot.gfn(ofFileIndex: index + (pfn - fault.folio.pfn)) ?? 0) << 12, immutable: false)
        }
        let faulted = fault.faultedPFN
        if !old[faulted].assigned && new[faulted].ownership != wanted(faulted) {
            return (GmemRules.preparePrivate, "the faulted gfn \(hexString(gfn))'s pfn \(hexString(faulted)) is \(new[faulted].ownership), not \(wanted(faulted))")
        }
        // New 2M entries: wholly inside the folio, over a range that was wholly unassigned.
        var base = RMPTable.base(of: folioPFNs.lowerBound)
        while base < folioPFNs.upperBound {
            let range = base..<(base + RMPTable.pagesPer2M)
            if new.isInAssigned2M(base), !old.isInAssigned2M(base) {
                if !(folioPFNs.contains(range.lowerBound) && range.upperBound <= folioPFNs.upperBound) {
                    return (GmemRules.prepareHugeEntry, "a 2M entry at pfn \(hexString(base)) covers pfns outside the order-\(fault.folio.order) folio")
                }
                if let taken = range.first(where: { old[$0].assigned }) {
                    return (GmemRules.prepareHugeEntry, "a 2M entry at pfn \(hexString(base)) was made over pfn \(hexString(taken)), which was \(old[taken].ownership)")
                }
            }
            base += RMPTable.pagesPer2M
        }
        if fault.folio.order > 0 {
            let missed = folioPFNs.filter { !old[$0].assigned && new[$0].ownership != wanted($0) }
            if let first = missed.first {
                return (GmemRules.prepareWholeFolio, "\(missed.count) of \(folioPFNs.count) pages of the order-\(fault.folio.order) folio are not; "
                        + "pfn \(hexString(first)) (gfn \(hexString(slot.gfn(ofFileIndex: index + (first - fault.folio.pfn)) ?? 0))) is \(new[first].ownership), not \(wanted(first))")
            }
        }
        return unexpectedWarning(outcome, allowed: false)
    }

    /// A free of the pfns `range`.
    static func checkInvalidate(before: GmemEnvironment, slot: SNPMemslot, range: Range<UInt64>, outcome: GmemCallOutcome) -> (Rule, String)? {
        let old = before.rmp
        let new = outcome.rmp
        for pfn in Set(old.entries.keys).union(new.entries.keys).sorted() where !range.contains(pfn) {
            if old[pfn].ownership != new[pfn].ownership {
                return (GmemRules.invalidateOutside, "pfn \(hexString(pfn)) outside the freed range went from \(old[pfn].ownership) to \(new[pfn].ownership)")
            }
        }
        var immutable = false
        for pfn in range where old[pfn].assigned {
            let entry = old[pfn]
            if entry.immutable {
                immutable = true
                if new[pfn].ownership != entry.ownership && new[pfn].assigned {
                    return (GmemRules.invalidateImmutable, "immutable pfn \(hexString(pfn)) became \(new[pfn].ownership)")
                }
            } else if entry.asid != slot.asid {
                if new[pfn].ownership != entry.ownership && new[pfn].assigned {
                    return (GmemRules.invalidateForeign, "pfn \(hexString(pfn)) of ASID \(entry.asid) became \(new[pfn].ownership)")
                }
            } else if new[pfn].assigned {
                let still = range.filter { old[$0].assigned && !old[$0].immutable && old[$0].asid == slot.asid && new[$0].assigned }
                return (GmemRules.invalidateShared, "\(still.count) page(s) this VM owned are still assigned after the free; "
                        + "pfn \(hexString(pfn)) is \(new[pfn].ownership)")
            }
        }
        for pfn in range where !old[pfn].assigned && new[pfn].assigned {
            return (GmemRules.invalidateShared, "unassigned pfn \(hexString(pfn)) became \(new[pfn].ownership)")
        }
        return unexpectedWarning(outcome, allowed: immutable)
    }

    static func unexpectedWarning(_ outcome: GmemCallOutcome, allowed: Bool) -> (Rule, String)? {
        guard !allowed, let first = outcome.warnings.first else { return nil }
        return (GmemRules.noWarn, "the call fired \(outcome.warnings.count) WARN(s): \(first)")
    }

    /// The lowest pfn outside `outside` whose entry (owner, ASID, GPA, page size) changed.
    static func changedEntry(_ before: RMPTable, _ after: RMPTable, outside: Range<UInt64>) -> String? {
        var first: UInt64?
        for pfn in Set(before.entries.keys).union(after.entries.keys) where !outside.contains(pfn) {
            guard pfn < (first ?? .max) else { continue }
            if before[pfn].ownership != after[pfn].ownership || before[pfn].pageSize != after[pfn].pageSize { first = pfn }
        }
        return first.map { "pfn \(hexString($0)) went from \(before[$0]) to \(after[$0])" }
    }

    // MARK: - Explaining

    public func nominalObservation(of operation: GmemOperation, for expectation: GmemExpectation, in state: State) -> GmemObservation {
        var environment = state.environment
        guard let slot = environment.slot else { return .applied }
        switch operation {
        case .setup, .allocate, .preset: return .applied
        case let .prepare(gfn):
            guard slot.snpGuest, let fault = environment.fault(at: gfn) else { return .call(GmemCallOutcome(result: 0, rmp: environment.rmp)) }
            let pages = UInt64(1) << UInt64(fault.folio.order)
            var rmp = environment.rmp
            var offset: UInt64 = 0
            while offset < pages {
                let pfn = fault.folio.pfn + offset
                let gpa = (slot.gfn(ofFileIndex: fault.folio.index + offset) ?? 0) << 12
                let whole = pfn % RMPTable.pagesPer2M == 0 && offset + RMPTable.pagesPer2M <= pages
                    && gpa % (RMPTable.pagesPer2M << 12) == 0 && !(pfn..<(pfn + RMPTable.pagesPer2M)).contains { rmp[$0].assigned }
                if whole {
                    _ = rmp.rmpupdate(pfn: pfn, RMPEntry(assigned: true, pageSize: .size2M, asid: slot.asid, gpa: gpa))
                    offset += RMPTable.pagesPer2M
                } else {
                    if !rmp[pfn].assigned { _ = rmp.rmpupdate(pfn: pfn, RMPEntry(assigned: true, asid: slot.asid, gpa: gpa)) }
                    offset += 1
                }
            }
            return .call(GmemCallOutcome(result: 0, rmp: rmp))
        case let .invalidate(index, pages):
            var rmp = environment.rmp
            for pfn in environment.pfns(ofFilePages: index, pages: pages) ?? 0..<0 where rmp[pfn].assigned && !rmp[pfn].immutable {
                if rmp.isInAssigned2M(pfn) { _ = rmp.psmash(pfn: RMPTable.base(of: pfn)) }
                _ = rmp.rmpupdate(pfn: pfn, .hypervisor)
            }
            environment.apply(operation)
            return .call(GmemCallOutcome(result: 0, rmp: rmp))
        case .maxLevel:
            return .call(GmemCallOutcome(result: expectation.results.first ?? 0, rmp: environment.rmp))
        }
    }
}

extension GmemOperation {
    /// The gfn a fault or a query names.
    var gfn: UInt64? {
        switch self {
        case let .prepare(gfn), let .maxLevel(gfn): return gfn
        default: return nil
        }
    }
}

/// What the guest_memfd model allows for one operation.
public struct GmemExpectation: Hashable, Sendable, CustomStringConvertible, RuleCiting {
    /// The return values allowed (empty for setup operations).
    public var results: [Int32]
    public var summary: String
    public var rule: Rule

    public var description: String { "\(summary)  [\(rule.id)]" }
    public var citedRules: [Rule] { [rule] }
}
