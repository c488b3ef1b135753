import Model

/// Draws guest_memfd SNP runs: one memslot (an SNP guest or not; base gfn 2M-congruent with its
/// gmem offset or not), folios of order 0, 9, 10 and 11 with holes between them, RMP pre-states
/// (2M private entries, pages of another ASID, immutable pages), faults anywhere in a folio (its
/// first page, its last, the second 2M of a large one, a gfn with no folio yet), frees of whole
/// folios and of parts of them (crossing 2M boundaries, inside partly prepared folios), and
/// max-level queries, interleaved.
public struct GmemOperationGenerator: OperationGenerator {
    public typealias Model = GmemModel

    /// The folio orders drawn: 4K, 2M, 4M, 8M.
    public static let orders = [0, 9, 10, 11]
    /// The largest folio order drawn. 0 is the world 6.12's guest_memfd makes (it allocates
    /// order-0 folios only, `kvm_gmem_get_folio`); above 0 is the large-folio work's world.
    public let maximumOrder: Int

    public init(maximumOrder: Int = 11) { self.maximumOrder = maximumOrder }

    public var kinds: [String] { GmemOperationKind.allCases.map(\.rawValue) }
    public var essentialKinds: Set<String> {
        [GmemOperationKind.setup.rawValue, GmemOperationKind.allocate.rawValue, GmemOperationKind.prepare.rawValue]
    }
    public var frequentKinds: Set<String> { [GmemOperationKind.invalidate.rawValue] }

    static let pagesPer2M = RMPTable.pagesPer2M

    public func draw(from source: inout ChoiceSource, state: GmemModel.State, enabled: Set<String>) -> GmemOperation {
        let environment = state.environment
        guard let slot = environment.slot else { return .setup(drawSlot(&source)) }
        let folios = environment.world.folios
        var menu: [(weight: UInt64, value: GmemOperationKind)] = []
        if enabled.contains(GmemOperationKind.allocate.rawValue) { menu.append((folios.count < 2 ? 6 : 2, .allocate)) }
        if enabled.contains(GmemOperationKind.preset.rawValue) && !folios.isEmpty { menu.append((2, .preset)) }
        if enabled.contains(GmemOperationKind.invalidate.rawValue) && !folios.isEmpty { menu.append((3, .invalidate)) }
        if enabled.contains(GmemOperationKind.maxLevel.rawValue) && !folios.isEmpty { menu.append((2, .maxLevel)) }
        menu.append((folios.isEmpty ? 1 : 6, .prepare))
        let operation: GmemOperation?
        switch source.weighted(menu) {
        case .allocate: operation = drawAllocation(&source, environment, slot)
        case .preset: operation = drawPreset(&source, environment, slot)
        case .invalidate: operation = drawInvalidation(&source, environment)
        case .maxLevel:
            let folio = source.pick(folios)
            operation = slot.gfn(ofFileIndex: folio.index + source.draw(below: UInt64(1) << UInt64(folio.order))).map { .maxLevel(gfn: $0) }
        case .setup, .prepare: operation = nil
        }
        if let operation, environment.canApply(operation) { return operation }
        return drawFault(&source, environment, slot)
    }

    private func drawSlot(_ source: inout ChoiceSource) -> SNPMemslot {
        SNPMemslot(snpGuest: !source.chance(1, in: 12),
                   asid: source.weighted([(3, 1), (1, 5)]),
                   // 0x100: a base gfn not 2M-congruent with the file (a gfn's 2M alignment and
                   // its page's differ).
                   baseGFN: source.weighted([(3, 0), (2, 0x10_0000), (2, 0x100)]),
                   pages: source.weighted([(3, 2048), (1, 4096)]),
                   // 0x100: a pgoff large folios are not aligned to (guest_memfd.c:80).
                   gmemOffset: source.weighted([(6, 0), (2, 0x200), (1, 0x800), (1, 0x100)]))
    }

    private func drawAllocation(_ source: inout ChoiceSource, _ environment: GmemEnvironment, _ slot: SNPMemslot) -> GmemOperation? {
        let order: Int = source.weighted([(3, 0), (3, 9), (2, 10), (1, 11)].filter { $0.1 <= maximumOrder })
        let size = UInt64(1) << UInt64(order)
        let first = (slot.gmemOffset + size - 1) / size * size
        guard first + size <= slot.gmemOffset + slot.pages else { return nil }
        let choices = (slot.gmemOffset + slot.pages - first) / size
        for _ in 0..<3 {
            let index = first + source.draw(below: choices) * size
            if environment.world.canAllocate(index: index, order: order) { return .allocate(index: index, order: order) }
        }
        return nil
    }

    private func drawPreset(_ source: inout ChoiceSource, _ environment: GmemEnvironment, _ slot: SNPMemslot) -> GmemOperation? {
        let folio = source.pick(environment.world.folios)
        let preset: RMPPreset = source.weighted([(3, .hugePrivate), (3, .foreignGuest(asid: 7)), (1, .firmwareImmutable)])
        let pages = UInt64(1) << UInt64(folio.order)
        let offset = preset == .hugePrivate ? source.draw(below: max(1, pages / Self.pagesPer2M)) * Self.pagesPer2M
            : source.draw(below: pages)
        return slot.gfn(ofFileIndex: folio.index + offset).map { .preset(gfn: $0, preset) }
    }

    private func drawFault(_ source: inout ChoiceSource, _ environment: GmemEnvironment, _ slot: SNPMemslot) -> GmemOperation {
        let folios = environment.world.folios.filter { !environment.prepared.contains($0.index) }
        if !folios.isEmpty, !source.chance(1, in: 6) {
            let folio = source.pick(folios)
            let pages = UInt64(1) << UInt64(folio.order)
            let anywhere = source.draw(below: pages)
            let offsets: [(weight: UInt64, value: UInt64)] = [(3, 0), (2, pages - 1), (2, pages / 2), (2, anywhere)]
            let offset = source.weighted(offsets)
            if let gfn = slot.gfn(ofFileIndex: folio.index + offset) { return .prepare(gfn: gfn) }
        }
        // A gfn with no folio yet: the fault allocates an order-0 one.
        return .prepare(gfn: slot.baseGFN + source.draw(below: slot.pages))
    }

    private func drawInvalidation(_ source: inout ChoiceSource, _ environment: GmemEnvironment) -> GmemOperation? {
        let folio = source.pick(environment.world.folios)
        let pages = UInt64(1) << UInt64(folio.order)
        if folio.order == 0 || source.chance(2, in: 5) { return .invalidate(index: folio.index, pages: pages) }
        // Part of a large folio (the large-folio world): a page, a 2M half, across a 2M boundary.
        let half = pages / 2
        let ranges: [(weight: UInt64, value: [UInt64])] = [
            (2, [0, 1]), (2, [1, 1]), (2, [pages - 1, 1]), (2, [0, min(pages, Self.pagesPer2M)]),
            (1, [1, pages - 1]), (2, [half - 1, 2]), (1, [half, half]),
        ]
        let picked = source.weighted(ranges)
        let (offset, length) = (picked[0], picked[1])
        let start = min(offset, pages - 1)
        return .invalidate(index: folio.index + start, pages: max(1, min(length, pages - start)))
    }

    public func simplifications(of operation: GmemOperation) -> [GmemOperation] {
        switch operation {
        case let .setup(slot):
            var candidates: [SNPMemslot] = []
            func variant(_ change: (inout SNPMemslot) -> Void) {
                var simpler = slot
                change(&simpler)
                if simpler != slot { candidates.append(simpler) }
            }
            variant { $0.snpGuest = true }
            variant { $0.asid = 1 }
            variant { $0.gmemOffset = 0 }
            variant { $0.baseGFN = 0 }
            variant { $0.pages = min($0.pages, 2048) }
            return candidates.map(GmemOperation.setup)
        case let .allocate(index, order):
            var candidates: [GmemOperation] = []
            for lower in [0, 9, 10] where lower < order { candidates.append(.allocate(index: index, order: lower)) }
            if index > 0 { candidates.append(.allocate(index: 0, order: order)) }
            return candidates
        case let .preset(gfn, preset):
            return preset == .foreignGuest(asid: 7) || preset == .hugePrivate ? [] : [.preset(gfn: gfn, .foreignGuest(asid: 7))]
        case let .invalidate(index, pages):
            return pages > 1 ? [.invalidate(index: index, pages: 1), .invalidate(index: index, pages: pages / 2)] : []
        case .prepare, .maxLevel:
            return []
        }
    }
}
