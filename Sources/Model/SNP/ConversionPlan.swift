/// One conversion as the model sees it: which pages it must change, which it cannot, and what
/// end states are allowed. Built from the world before the call.
struct ConversionPlan {
    enum Standing: Hashable {
        /// Already in the requested state: nothing to do.
        case done
        /// Must be changed.
        case convertible
        /// Must be changed but cannot be: immutable (RMPUPDATE FAIL_PERMISSION) → -EINVAL.
        case blocked
        /// Assigned to another ASID, or immutable and already in the requested state: intent
        /// unclear (``SNPRules/foreign``).
        case ambiguous
    }

    struct Page {
        let gfn: UInt64
        let pfn: UInt64
        let standing: Standing
    }

    let toPrivate: Bool
    let asid: UInt32
    /// The backed gfns of the range, in gfn order.
    let pages: [Page]

    init(environment: SNPEnvironment, start: UInt64, end: UInt64, toPrivate: Bool) {
        self.toPrivate = toPrivate
        self.asid = environment.slot?.asid ?? 0
        var pages: [Page] = []
        for gfn in start..<end {
            // Unbacked gfns are skipped (SNPRules.unbacked).
            guard let backing = environment.backing(of: gfn) else { continue }
            let entry = environment.rmp[backing.pfn]
            let standing: Standing
            if Self.satisfies(entry, gfn: gfn, toPrivate: toPrivate, asid: asid) {
                // Already there; but an implementation that issues RMPUPDATE regardless (it is
                // idempotent for mutable entries) fails on an immutable one. Whether the patch
                // must look first is unclear: both allowed.
                standing = entry.immutable ? .ambiguous : .done
            } else if entry.immutable {
                standing = .blocked
            } else if entry.assigned && entry.asid != asid {
                standing = .ambiguous
            } else {
                standing = .convertible
            }
            pages.append(Page(gfn: gfn, pfn: backing.pfn, standing: standing))
        }
        self.pages = pages
    }

    static func satisfies(_ entry: RMPEntry, gfn: UInt64, toPrivate: Bool, asid: UInt32) -> Bool {
        toPrivate ? entry.assigned && entry.asid == asid && entry.gpa == gfn << 12 : !entry.assigned
    }

    func satisfied(_ page: Page, in rmp: RMPTable) -> Bool {
        Self.satisfies(rmp[page.pfn], gfn: page.gfn, toPrivate: toPrivate, asid: asid)
    }

    /// The first page that cannot be converted: the update must stop with -EINVAL at or before it.
    var mustFailAt: UInt64? { pages.first { $0.standing == .blocked }?.gfn }

    /// Where the update may stop with -EINVAL: at an ambiguous or blocked page, up to the first
    /// blocked one, or at the start of the 2M-aligned block of gfns it lies in (an implementation
    /// may try the whole 2M page in one RMPUPDATE first, and that fails too).
    var mayFailAt: [UInt64] {
        var stops: [UInt64] = []
        let first = pages.first?.gfn ?? 0
        for page in pages where page.standing == .blocked || page.standing == .ambiguous {
            let block = page.gfn / RMPTable.pagesPer2M * RMPTable.pagesPer2M
            if block >= first && block < page.gfn { stops.append(block) }
            stops.append(page.gfn)
            if page.standing == .blocked { break }
        }
        return stops
    }

    var rule: Rule { toPrivate ? SNPRules.toPrivate : SNPRules.toShared }

    var target: String { toPrivate ? "private to ASID \(asid) at its GPA" : "shared" }

    /// Judges the RMP a call left, given its (allowed) return value.
    func judge(result: Int32, after: RMPTable, before: RMPTable) -> Verdict {
        let inRange = Set(pages.map(\.pfn))
        if let changed = SNPModel.firstOwnershipChange(before, after, among: inRange) {
            return .diverges(Mismatch(kind: .state, detail: "expected pages outside the range to keep their owner [\(SNPRules.split.id)]; observed \(changed)"))
        }
        if result == 0 {
            let missed = pages.filter { !satisfied($0, in: after) }
            guard let first = missed.first else {
                return .agrees(rule: pages.contains { $0.standing == .ambiguous } ? SNPRules.foreign.id : rule.id)
            }
            let listed = missed.prefix(3).map { "gfn \(hexString($0.gfn)) (pfn \(hexString($0.pfn)))" }.joined(separator: ", ")
            return .diverges(Mismatch(kind: .state, detail: "expected every backed page of the range \(target) [\(rule.id)]; observed \(missed.count) of \(pages.count) not: \(listed)\(missed.count > 3 ? ", …" : ""); gfn \(hexString(first.gfn)) is \(after[first.pfn])"))
        }
        for stop in mayFailAt {
            let converted = pages.filter { $0.gfn < stop }.allSatisfy { satisfied($0, in: after) }
            let untouched = pages.filter { $0.gfn >= stop }.allSatisfy { after[$0.pfn].ownership == before[$0.pfn].ownership }
            if converted && untouched {
                return .agrees(rule: pages.contains { $0.standing == .blocked } ? SNPRules.rmpFailure.id : SNPRules.foreign.id)
            }
        }
        return .diverges(Mismatch(kind: .state, detail: "expected -EINVAL to leave the pages before the failing one \(target) and the rest unchanged [\(SNPRules.rmpFailure.id)]; observed another RMP"))
    }

    /// What an implementation of the intent does, page by page in 4K steps (for `explain` only;
    /// never used to judge): skip done pages, PSMASH a 2M entry before changing one of its pages,
    /// convert foreign pages, stop with -EINVAL when RMPUPDATE refuses.
    func reference(_ start: RMPTable) -> (Int32, RMPTable) {
        var rmp = start
        for page in pages where !satisfied(page, in: rmp) {
            if rmp.isInAssigned2M(page.pfn), rmp.psmash(pfn: RMPTable.base(of: page.pfn)) != .success { return (-22, rmp) }
            let entry = toPrivate ? RMPEntry(assigned: true, asid: asid, gpa: page.gfn << 12) : .hypervisor
            if rmp.rmpupdate(pfn: page.pfn, entry) != .success { return (-22, rmp) }
        }
        return (0, rmp)
    }
}
