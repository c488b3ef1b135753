/// The Reverse Map Table as the hardware keeps it, with the two instructions the hypervisor uses
/// to change it. This is the *environment* of the SNP code under check (what the CPU does), shared
/// by the model and by the patch-logic harness; the code under check is what decides which
/// instructions to issue.
///
/// Sparse: a pfn without an entry is hypervisor-owned 4K. A 2M RMPUPDATE writes all 512 entries of
/// the region (Linux reports every pfn of a 2M page as assigned at level 2M, research/snp.md §3.1;
/// the per-sub-page bookkeeping is inferred, the APM text was not available).
public struct RMPTable: Hashable, Sendable {
    public static let pagesPer2M: UInt64 = 512

    /// Entries that differ from ``RMPEntry/hypervisor``.
    public private(set) var entries: [UInt64: RMPEntry] = [:]

    public init() {}

    public subscript(pfn: UInt64) -> RMPEntry { entries[pfn] ?? .hypervisor }

    /// The 2M-aligned pfn of the region `pfn` lies in.
    public static func base(of pfn: UInt64) -> UInt64 { pfn & ~(pagesPer2M - 1) }

    /// `snp_lookup_rmpentry(pfn, &level)` (v8 12/56): whether the pfn's own entry is assigned, and
    /// the page size of the 2M-aligned entry ("level is read from the 2M-aligned entry").
    public func lookup(_ pfn: UInt64) -> (assigned: Bool, level: RMPPageSize) {
        (self[pfn].assigned, self[Self.base(of: pfn)].pageSize)
    }

    /// Whether `pfn` lies in an assigned 2M page.
    public func isInAssigned2M(_ pfn: UInt64) -> Bool {
        let base = self[Self.base(of: pfn)]
        return base.assigned && base.pageSize == .size2M
    }

    /// RMPUPDATE return codes (research §3.2: MSVC `__rmpupdate`, kernel `rmptable.h`). v8 14/56
    /// defines `RMPUPDATE_FAIL_OVERLAP` as 7, mainline as 4; the hardware's value is 4.
    public enum UpdateCode: Int32, Hashable, Sendable, Codable {
        case success = 0, failInput = 1, failPermission = 2, failInUse = 3, failOverlap = 4
    }

    /// PSMASH return codes (research §3.3: MSVC `__psmash`; mainline `PSMASH_FAIL_INUSE 3`).
    public enum PSMASHCode: Int32, Hashable, Sendable, Codable {
        case success = 0, failInput = 1, failPermission = 2, failInUse = 3, failBadAddress = 7
    }

    /// RMPUPDATE (RAX = system physical address, RCX = &struct rmp_state, v8 14/56).
    ///
    /// - A 2M update needs a 2M-aligned pfn (FAIL_INPUT, inferred from "invalid parameter").
    /// - An immutable entry is refused (FAIL_PERMISSION: "the RMP entry is immutable").
    /// - A 4K update inside an assigned 2M page, or a 2M update over a region holding assigned 4K
    ///   entries, fails with FAIL_OVERLAP ("overlapping 4-KB and 2-MB RMP entries were
    ///   detected"); the kernel's contract is to PSMASH first (research §3.2).
    /// - The new entry has `validated` cleared.
    public mutating func rmpupdate(pfn: UInt64, _ state: RMPEntry) -> UpdateCode {
        let huge = state.pageSize == .size2M
        if huge && pfn % Self.pagesPer2M != 0 { return .failInput }
        let pages = huge ? pfn..<(pfn + Self.pagesPer2M) : pfn..<(pfn + 1)
        if pages.contains(where: { self[$0].immutable }) { return .failPermission }
        if huge {
            if !isInAssigned2M(pfn) && pages.contains(where: { self[$0].assigned }) { return .failOverlap }
        } else if isInAssigned2M(pfn) {
            return .failOverlap
        }
        for (offset, page) in pages.enumerated() {
            var entry = state
            entry.validated = false
            if entry.assigned { entry.gpa = state.gpa + UInt64(offset) * 4096 } else { entry.gpa = 0 }
            set(page, entry)
        }
        return .success
    }

    /// PSMASH (RAX = system physical address of the 2M page): one assigned 2M entry becomes 512
    /// 4K entries with the same owner, gpa = base + i·4K, validated kept (research §3.3). A pfn
    /// that is not 2M-aligned is refused (FAIL_INPUT, inferred; Linux aligns down first), and so
    /// is a region that is not an assigned 2M page (7, "doesn't meet the requirements for
    /// expansion", inferred).
    public mutating func psmash(pfn: UInt64) -> PSMASHCode {
        guard pfn % Self.pagesPer2M == 0 else { return .failInput }
        guard isInAssigned2M(pfn) else { return .failBadAddress }
        let base = self[pfn]
        for offset in 0..<Self.pagesPer2M {
            var entry = self[pfn + offset]
            entry.pageSize = .size4K
            entry.gpa = base.gpa + offset * 4096
            set(pfn + offset, entry)
        }
        return .success
    }

    /// Records an entry the hardware is known to hold (a trace showed an RMPUPDATE succeed), for
    /// `pages` consecutive pfns with consecutive GPAs. Not an instruction: no rule is checked.
    public mutating func assume(_ entry: RMPEntry, at pfn: UInt64, pages: UInt64 = 1) {
        for offset in 0..<pages {
            var page = entry
            if page.assigned { page.gpa = entry.gpa + offset * 4096 }
            set(pfn + offset, page)
        }
    }

    private mutating func set(_ pfn: UInt64, _ entry: RMPEntry) {
        entries[pfn] = entry == .hypervisor ? nil : entry
    }
}

/// Case files list the entries that are not hypervisor-owned 4K, as runs of consecutive pfns
/// with the same owner and consecutive GPAs:
/// `[{"pfn":1048576,"pages":512,"assigned":true,"pageSize":"2M","asid":1,"gpa":0,...}, ...]`.
extension RMPTable: Codable {
    private struct Run: Codable {
        var pfn: UInt64
        var pages: UInt64
        var assigned: Bool
        var pageSize: RMPPageSize
        var immutable: Bool
        var asid: UInt32
        var gpa: UInt64
        var validated: Bool

        var entry: RMPEntry {
            RMPEntry(assigned: assigned, pageSize: pageSize, immutable: immutable, asid: asid, gpa: gpa, validated: validated)
        }
    }

    public init(from decoder: Decoder) throws {
        self.init()
        for run in try decoder.singleValueContainer().decode([Run].self) {
            for offset in 0..<run.pages {
                var entry = run.entry
                if entry.assigned { entry.gpa += offset * 4096 }
                entries[run.pfn + offset] = entry
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var runs: [Run] = []
        for pfn in entries.keys.sorted() {
            let entry = entries[pfn]!
            if var last = runs.last, last.pfn + last.pages == pfn {
                var expected = last.entry
                if expected.assigned { expected.gpa += last.pages * 4096 }
                if expected == entry {
                    last.pages += 1
                    runs[runs.count - 1] = last
                    continue
                }
            }
            runs.append(Run(pfn: pfn, pages: 1, assigned: entry.assigned, pageSize: entry.pageSize, immutable: entry.immutable,
                            asid: entry.asid, gpa: entry.gpa, validated: entry.validated))
        }
        var container = encoder.singleValueContainer()
        try container.encode(runs)
    }
}
