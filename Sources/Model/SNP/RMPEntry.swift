/// One entry of the Reverse Map Table: who owns a 4 KiB system page.
///
/// Fields as `struct rmpentry` (v8 12/56 "x86/sev: Add RMP entry lookup helpers", PPR Fam19h
/// Mod01h) and the architectural RMPREAD view (research/snp.md §1.5, §3.1). VMPL permissions and
/// the VMSA bit play no part in memory attribute updates and are left out.
public struct RMPEntry: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Owned by a guest (1) or by the hypervisor (0, "shared").
    public var assigned: Bool
    /// 4K, or 2M: then the entry at the 2M-aligned pfn describes the whole 2 MiB page.
    public var pageSize: RMPPageSize
    /// Only firmware may change an immutable entry (RMPUPDATE fails with FAIL_PERMISSION).
    public var immutable: Bool
    public var asid: UInt32
    /// The guest physical address the page is assigned at.
    public var gpa: UInt64
    /// Set by the guest's PVALIDATE; cleared by every RMPUPDATE (research §3.2, inferred).
    public var validated: Bool

    public init(assigned: Bool, pageSize: RMPPageSize = .size4K, immutable: Bool = false, asid: UInt32 = 0,
                gpa: UInt64 = 0, validated: Bool = false) {
        self.assigned = assigned
        self.pageSize = pageSize
        self.immutable = immutable
        self.asid = asid
        self.gpa = gpa
        self.validated = validated
    }

    /// The state of every page the hypervisor has never given away.
    public static let hypervisor = RMPEntry(assigned: false)

    /// What a guest access depends on: assigned, to which ASID, at which GPA. Page size and the
    /// validated bit are not part of it (a PSMASH changes the first and keeps the second).
    public var ownership: Ownership {
        assigned ? .guest(asid: asid, gpa: gpa, immutable: immutable) : .hypervisor
    }

    public enum Ownership: Hashable, Sendable, CustomStringConvertible {
        case hypervisor
        case guest(asid: UInt32, gpa: UInt64, immutable: Bool)

        public var description: String {
            switch self {
            case .hypervisor: return "shared"
            case let .guest(asid, gpa, immutable):
                return "private to ASID \(asid) at gpa \(hexString(gpa))\(immutable ? ", immutable" : "")"
            }
        }
    }

    public var description: String {
        assigned ? "\(ownership) (\(pageSize.rawValue))" : "shared" + (pageSize == .size2M ? " (2M)" : "")
    }
}

/// The RMP page size bit (`RMP_PG_SIZE_4K 0`, `RMP_PG_SIZE_2M 1`, v8 14/56).
public enum RMPPageSize: String, Hashable, Codable, Sendable {
    case size4K = "4K"
    case size2M = "2M"

    /// `X86_TO_RMP_PG_LEVEL(level)` (v8 14/56): 4K for PG_LEVEL_4K, 2M for *every* other level,
    /// 1G included: the RMP has no 1 GiB entries.
    public init(x86Level level: Int32) { self = level == PageLevel.size4K ? .size4K : .size2M }

    /// The x86 `enum pg_level` value `snp_lookup_rmpentry` reports (`RMP_TO_X86_PG_LEVEL`).
    public var x86Level: Int32 { self == .size4K ? PageLevel.size4K : PageLevel.size2M }
}

/// `enum pg_level` (arch/x86/include/asm/pgtable_types.h): PG_LEVEL_4K 1, PG_LEVEL_2M 2, PG_LEVEL_1G 3.
public enum PageLevel {
    public static let size4K: Int32 = 1
    public static let size2M: Int32 = 2
    public static let size1G: Int32 = 3
}
