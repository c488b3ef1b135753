/// Everything around `sev_update_mem_attr` that is not decided by it: the VM, the memslot, the
/// restricted memfd's folios and the RMP. The model and the patch-logic harness each keep one and
/// change it with the same setup operations, so both start every conversion from the same world.
public struct SNPEnvironment: Hashable, Sendable {
    public var slot: SNPMemslot?
    /// The restricted memfd's folios, by file page index.
    public private(set) var folios: [SNPFolio] = []
    public var rmp = RMPTable()
    /// Where the next folio's pfns come from (arbitrary, far from 0).
    public private(set) var nextPFN: UInt64 = 0x10_0000

    public init() {}

    /// `kvm_restrictedmem_get_pfn(slot, gfn, &pfn, &order)` (UPM v10, the v8 series' base): the
    /// pfn of the gfn's own page (`folio_file_page`) and the order of its folio, or nil where no
    /// page was ever allocated (the function fails and v8 skips the gfn).
    public func backing(of gfn: UInt64) -> (pfn: UInt64, order: Int)? {
        guard let slot, let index = slot.fileIndex(of: gfn) else { return nil }
        guard let folio = folios.first(where: { $0.indices.contains(index) }) else { return nil }
        return (folio.pfn + (index - folio.index), folio.order)
    }

    /// Every pfn of every folio, with the gfn it backs (nil: outside the memslot).
    public func backedPages() -> [(pfn: UInt64, gfn: UInt64?)] {
        folios.flatMap { folio in
            folio.indices.map { index in (folio.pfn + (index - folio.index), slot?.gfn(ofFileIndex: index)) }
        }
    }

    /// Whether a folio of `order` can be placed at file page `index`: aligned, inside the memslot's
    /// part of the file, not overlapping another folio.
    public func canAllocate(index: UInt64, order: Int) -> Bool {
        guard let slot, order >= 0, order <= SNPFolio.maximumOrder else { return false }
        let pages = UInt64(1) << UInt64(order)
        guard index % pages == 0, index >= slot.gmemOffset,
              index + pages <= slot.gmemOffset + slot.pages else { return false }
        return !folios.contains { $0.indices.overlaps(index..<(index + pages)) }
    }

    /// Frees the file pages `indices`, which must lie inside one folio: the whole folio
    /// (guest_memfd's `free_folio`), or part of a large one, which is then split into order-0
    /// folios and loses those pages (what the large-folio work does when it truncates part of a
    /// huge folio). False, and nothing changed, when no single folio holds them all.
    @discardableResult
    public mutating func release(indices: Range<UInt64>) -> Bool {
        guard !indices.isEmpty, let position = folios.firstIndex(where: {
            $0.indices.lowerBound <= indices.lowerBound && indices.upperBound <= $0.indices.upperBound
        }) else { return false }
        let folio = folios.remove(at: position)
        if folio.indices == indices { return true }
        for index in folio.indices where !indices.contains(index) {
            folios.append(SNPFolio(index: index, order: 0, pfn: folio.pfn + (index - folio.index)))
        }
        return true
    }

    /// The folio holding file page `index`.
    public func folio(holding index: UInt64) -> SNPFolio? { folios.first { $0.indices.contains(index) } }

    /// Applies a setup operation; false when it cannot apply (the environment is unchanged).
    @discardableResult
    public mutating func apply(_ operation: SNPOperation) -> Bool {
        switch operation {
        case let .setup(slot):
            guard self.slot == nil else { return false }
            self.slot = slot
            return true
        case let .allocate(index, order):
            guard canAllocate(index: index, order: order) else { return false }
            let pages = UInt64(1) << UInt64(order)
            // Folios are naturally aligned in physical memory too (the buddy allocator).
            let pfn = (nextPFN + pages - 1) / pages * pages
            nextPFN = pfn + pages
            folios.append(SNPFolio(index: index, order: order, pfn: pfn))
            return true
        case let .preset(gfn, preset):
            guard let slot, let backing = backing(of: gfn) else { return false }
            var trial = rmp
            let code: RMPTable.UpdateCode
            switch preset {
            case let .foreignGuest(asid):
                code = trial.rmpupdate(pfn: backing.pfn, RMPEntry(assigned: true, asid: asid, gpa: gfn << 12))
            case .firmwareImmutable:
                code = trial.rmpupdate(pfn: backing.pfn, RMPEntry(assigned: true, immutable: true, asid: slot.asid, gpa: gfn << 12))
            case .hugePrivate:
                // A 2M private entry as the launch flow leaves it: the folio's 2M region, at the
                // gpa of the gfn that its first pfn backs.
                let base = RMPTable.base(of: backing.pfn)
                let offset = backing.pfn - base
                guard backing.order >= 9, offset <= gfn, (gfn - offset) % RMPTable.pagesPer2M == 0 else { return false }
                let baseGFN = gfn - offset
                code = trial.rmpupdate(pfn: base, RMPEntry(assigned: true, pageSize: .size2M, asid: slot.asid, gpa: baseGFN << 12))
            }
            guard code == .success else { return false }
            rmp = trial
            return true
        case .convert:
            return false
        }
    }
}

/// The memslot the conversions run in, and the VM it belongs to.
public struct SNPMemslot: Hashable, Codable, Sendable, CustomStringConvertible {
    /// `sev_snp_guest(kvm)`: an SNP guest, or an ordinary/SEV VM (nothing to do).
    public var snpGuest: Bool
    /// `sev->asid`.
    public var asid: UInt32
    public var baseGFN: UInt64
    public var pages: UInt64
    /// `slot->restricted_offset` in pages: which file page backs `baseGFN`. Unless
    /// `baseGFN - gmemOffset` is a multiple of 512, 2M-aligned gfns are not 2M-aligned in the file.
    public var gmemOffset: UInt64
    /// `kvm_slot_can_be_private(slot)`: the slot has a restricted memfd.
    public var canBePrivate: Bool

    public init(snpGuest: Bool = true, asid: UInt32 = 1, baseGFN: UInt64, pages: UInt64, gmemOffset: UInt64 = 0,
                canBePrivate: Bool = true) {
        self.snpGuest = snpGuest
        self.asid = asid
        self.baseGFN = baseGFN
        self.pages = pages
        self.gmemOffset = gmemOffset
        self.canBePrivate = canBePrivate
    }

    public var gfns: Range<UInt64> { baseGFN..<(baseGFN + pages) }

    public func fileIndex(of gfn: UInt64) -> UInt64? { gfns.contains(gfn) ? gfn - baseGFN + gmemOffset : nil }

    public func gfn(ofFileIndex index: UInt64) -> UInt64? {
        index >= gmemOffset && index - gmemOffset < pages ? index - gmemOffset + baseGFN : nil
    }

    public var description: String {
        "\(snpGuest ? "SNP guest ASID \(asid)" : "non-SNP VM"), slot gfns [\(hexString(baseGFN)), \(hexString(baseGFN + pages)))"
            + (gmemOffset == 0 ? "" : " at file page \(hexString(gmemOffset))") + (canBePrivate ? "" : ", cannot be private")
    }
}

/// A folio of the restricted memfd: 2^order pages at file page `index`, physical pages from `pfn`.
public struct SNPFolio: Hashable, Codable, Sendable {
    /// Orders the generators draw: 4K, 2M, 4M (and 8M for guest_memfd's large-folio world). 1G
    /// folios (order 18) behave like order 10 in v8's `order_to_level` path but need
    /// 262,144-page slots; left out for speed.
    public static let maximumOrder = 11

    public var index: UInt64
    public var order: Int
    public var pfn: UInt64

    public init(index: UInt64, order: Int, pfn: UInt64) {
        self.index = index
        self.order = order
        self.pfn = pfn
    }

    public var indices: Range<UInt64> { index..<(index + (UInt64(1) << UInt64(order))) }
}
