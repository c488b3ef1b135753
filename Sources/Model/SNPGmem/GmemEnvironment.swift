/// Everything around the guest_memfd hooks that they do not decide: the VM, its memslot, the
/// guest_memfd's folios, which folios are prepared, and the RMP. The model and the harness each
/// keep one and change it alike, so every hook call starts from the same world on both sides.
public struct GmemEnvironment: Hashable, Sendable {
    /// The memslot, the folios and the RMP (the same world the v8 harness uses).
    public var world = SNPEnvironment()
    /// The first file index of every prepared folio (`folio_test_uptodate`, guest_memfd.c:85).
    public private(set) var prepared: Set<UInt64> = []

    public init() {}

    public var slot: SNPMemslot? { world.slot }

    public var rmp: RMPTable {
        get { world.rmp }
        set { world.rmp = newValue }
    }

    /// What a fault on a gfn hands `kvm_arch_gmem_prepare`, as 6.12's kvm_gmem_prepare_folio
    /// computes it (guest_memfd.c:81-83): the folio's first file index, its gfn, pfn and order.
    public struct Fault: Hashable, Sendable {
        public var folio: SNPFolio
        /// `slot->base_gfn + index - slot->gmem.pgoff` of the folio's first index.
        public var gfn: UInt64
        /// The pfn backing the faulted gfn itself.
        public var faultedPFN: UInt64
        /// Whether the fault allocated the folio (order 0, as `filemap_grab_folio` does in 6.12).
        public var allocated: Bool
    }

    /// The fault on `gfn`, or nil where guest_memfd would not call the hook: no memslot, a gfn
    /// outside it, a folio already prepared (`if (!is_prepared)`, guest_memfd.c:643), or a folio
    /// whose order the memslot's pgoff is not aligned to (guest_memfd.c:80 WARNs: outside the
    /// design it states, "the base pgoff of memslots is naturally aligned with the requested page
    /// order").
    public func fault(at gfn: UInt64) -> Fault? {
        guard let slot, let index = slot.fileIndex(of: gfn) else { return nil }
        var trial = world
        var allocated = false
        if world.folio(holding: index) == nil {
            guard trial.apply(.allocate(index: index, order: 0)) else { return nil }
            allocated = true
        }
        guard let folio = trial.folio(holding: index), !prepared.contains(folio.index),
              slot.gmemOffset % (UInt64(1) << UInt64(folio.order)) == 0,
              let first = slot.gfn(ofFileIndex: folio.index) else { return nil }
        return Fault(folio: folio, gfn: first, faultedPFN: folio.pfn + (index - folio.index), allocated: allocated)
    }

    /// The pfns of file pages `[index, index + pages)` when one folio holds them all.
    public func pfns(ofFilePages index: UInt64, pages: UInt64) -> Range<UInt64>? {
        guard pages > 0, let folio = world.folio(holding: index), index + pages <= folio.indices.upperBound else { return nil }
        let first = folio.pfn + (index - folio.index)
        return first..<(first + pages)
    }

    /// Whether a setup operation, or the world change around a hook call, can apply.
    public func canApply(_ operation: GmemOperation) -> Bool {
        var trial = self
        return trial.apply(operation)
    }

    /// Applies what an operation does to the world apart from the hook's own RMP changes: setup
    /// operations; a fault's allocation; a free's release of its pages. False (and nothing
    /// changed) where it cannot apply.
    @discardableResult
    public mutating func apply(_ operation: GmemOperation) -> Bool {
        switch operation {
        case let .setup(slot): return world.apply(.setup(slot))
        case let .allocate(index, order): return world.apply(.allocate(index: index, order: order))
        case let .preset(gfn, preset): return world.apply(.preset(gfn: gfn, preset))
        case let .prepare(gfn):
            guard let fault = fault(at: gfn), let index = slot?.fileIndex(of: gfn) else { return false }
            if fault.allocated { world.apply(.allocate(index: index, order: 0)) }
            return true
        case let .invalidate(index, pages):
            guard pfns(ofFilePages: index, pages: pages) != nil, let folio = world.folio(holding: index) else { return false }
            let wasPrepared = prepared.remove(folio.index) != nil
            world.release(indices: index..<(index + pages))
            // A split keeps PG_uptodate on every new folio (the large-folio world's split).
            if wasPrepared {
                for remaining in folio.indices where !(index..<(index + pages)).contains(remaining) { prepared.insert(remaining) }
            }
            return true
        case let .maxLevel(gfn):
            return world.backing(of: gfn) != nil
        }
    }

    /// Marks the folio starting at file page `index` prepared (`kvm_gmem_mark_prepared`).
    public mutating func markPrepared(folioAt index: UInt64) { prepared.insert(index) }
}
