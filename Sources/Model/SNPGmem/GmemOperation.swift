/// One step of a guest_memfd SNP run: building the world (the VM and its memslot, folios, RMP
/// pre-states), or one of the three things guest_memfd and the MMU ask of mainline's SNP hooks.
public enum GmemOperation: KindedOperation {
    /// The VM and its one guest_memfd-backed memslot (`gmemOffset` is `slot->gmem.pgoff`;
    /// `canBePrivate` is not used: a gmem slot always can be). Every run starts with it.
    case setup(SNPMemslot)
    /// The guest_memfd gets a folio of 2^order pages at file page `index`. 6.12 allocates only
    /// order 0 (`kvm_gmem_get_folio`, "TODO: Support huge pages"); orders 9 and above are the
    /// large-folio world (hugetlb / THP guest_memfd work).
    case allocate(index: UInt64, order: Int)
    /// Someone else changed the RMP entry of the page backing `gfn` (the launch flow, firmware,
    /// another guest): an RMP pre-state.
    case preset(gfn: UInt64, RMPPreset)
    /// A guest fault on private `gfn` reaches `kvm_gmem_get_pfn`: the folio holding the gfn's
    /// file index (allocated at order 0 when absent, as 6.12 does) is prepared, if it is not yet:
    /// `kvm_arch_gmem_prepare(kvm, gfn of the folio's first index, folio pfn, folio order)`.
    case prepare(gfn: UInt64)
    /// File pages `[index, index + pages)`, inside one folio, are freed:
    /// `kvm_arch_gmem_invalidate(first pfn, last pfn + 1)`. The whole folio is 6.12's
    /// `kvm_gmem_free_folio`; part of one is the large-folio world splitting or truncating it.
    case invalidate(index: UInt64, pages: UInt64)
    /// The MMU asks how large a private mapping of `gfn` may be:
    /// `sev_private_max_mapping_level(kvm, pfn of gfn)`.
    case maxLevel(gfn: UInt64)

    public var kindName: String { kind.rawValue }

    public var kind: GmemOperationKind {
        switch self {
        case .setup: return .setup
        case .allocate: return .allocate
        case .preset: return .preset
        case .prepare: return .prepare
        case .invalidate: return .invalidate
        case .maxLevel: return .maxLevel
        }
    }

    public var description: String {
        switch self {
        case let .setup(slot): return "setup(\(slot))"
        case let .allocate(index, order): return "allocate(file page \(hexString(index)), order \(order))"
        case let .preset(gfn, preset): return "preset(gfn \(hexString(gfn)): \(preset))"
        case let .prepare(gfn): return "fault(gfn \(hexString(gfn))) → sev_gmem_prepare"
        case let .invalidate(index, pages):
            return "free(file pages [\(hexString(index)), \(hexString(index + pages)))) → sev_gmem_invalidate"
        case let .maxLevel(gfn): return "max_level(gfn \(hexString(gfn))) → sev_private_max_mapping_level"
        }
    }
}

public enum GmemOperationKind: String, CaseIterable, Sendable {
    case setup, allocate, preset, prepare, invalidate
    case maxLevel = "max-level"
}
