/// One step of an SNP run: building the world (a memslot, folios, RMP pre-states), or a memory
/// attribute update, the call under check.
public enum SNPOperation: KindedOperation {
    /// The VM and its one memslot. Every run starts with it.
    case setup(SNPMemslot)
    /// The restricted memfd gets a folio of 2^order pages at file page `index` (the guest or the
    /// VMM touched it, or fallocate()).
    case allocate(index: UInt64, order: Int)
    /// Someone else changed the RMP entry of the page backing `gfn` (the launch flow, firmware,
    /// another guest): an RMP pre-state.
    case preset(gfn: UInt64, RMPPreset)
    /// `sev_update_mem_attr(slot, attr, start, end)`: attr PRIVATE (`toPrivate`) or 0.
    case convert(start: UInt64, end: UInt64, toPrivate: Bool)

    public var kindName: String { kind.rawValue }

    public var kind: SNPOperationKind {
        switch self {
        case .setup: return .setup
        case .allocate: return .allocate
        case .preset: return .preset
        case .convert: return .convert
        }
    }

    public var description: String {
        switch self {
        case let .setup(slot): return "setup(\(slot))"
        case let .allocate(index, order): return "allocate(file page \(hexString(index)), order \(order))"
        case let .preset(gfn, preset): return "preset(gfn \(hexString(gfn)): \(preset))"
        case let .convert(start, end, toPrivate):
            return "sev_update_mem_attr([\(hexString(start)), \(hexString(end))), \(toPrivate ? "PRIVATE" : "shared"))"
        }
    }
}

public enum SNPOperationKind: String, CaseIterable, Sendable {
    case setup, allocate, preset, convert
}

/// RMP states that other code leaves behind and a conversion must cope with.
public enum RMPPreset: Hashable, Sendable, CustomStringConvertible {
    /// Assigned 4K to another guest's ASID.
    case foreignGuest(asid: UInt32)
    /// Assigned to this guest and immutable (firmware pages: the secrets or CPUID page).
    case firmwareImmutable
    /// The page's whole 2M region assigned to this guest as one 2M entry.
    case hugePrivate

    public var description: String {
        switch self {
        case let .foreignGuest(asid): return "assigned 4K to ASID \(asid)"
        case .firmwareImmutable: return "immutable, this guest's"
        case .hugePrivate: return "2M private entry"
        }
    }
}
