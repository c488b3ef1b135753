import Model

/// Draws SNP runs: one memslot (aligned or not with its file, SNP or not, private-capable or not),
/// folios of mixed orders (4K, 2M, 4M) with holes between them, RMP pre-states (2M private
/// entries, pages of another ASID, immutable pages), and conversions in both directions over the
/// ranges the KVM selftests use (private_mem_conversions_test: {0,4K}, {0,2M}, {4K,4K}, {4K,2M},
/// {2M,4K}) and others, anchored at folio starts and 2M boundaries where the interesting cases are.
public struct SNPOperationGenerator: OperationGenerator {
    public typealias Model = SNPModel

    public init() {}

    public var kinds: [String] { SNPOperationKind.allCases.map(\.rawValue) }
    public var essentialKinds: Set<String> { [SNPOperationKind.setup.rawValue, SNPOperationKind.convert.rawValue, SNPOperationKind.allocate.rawValue] }

    static let pagesPer2M = RMPTable.pagesPer2M
    /// (offset, length) in pages, from private_mem_conversions_test's test_ranges.
    static let selftestRanges: [(UInt64, UInt64)] = [(0, 1), (0, 512), (1, 1), (1, 512), (512, 1)]

    public func draw(from source: inout ChoiceSource, state: SNPModel.State, enabled: Set<String>) -> SNPOperation {
        let environment = state.environment
        guard let slot = environment.slot else { return .setup(drawSlot(&source)) }
        var menu: [(weight: UInt64, value: SNPOperationKind)] = []
        if enabled.contains(SNPOperationKind.allocate.rawValue) {
            menu.append((environment.folios.count < 2 ? 6 : 2, .allocate))
        }
        if enabled.contains(SNPOperationKind.preset.rawValue) && !environment.folios.isEmpty { menu.append((2, .preset)) }
        menu.append((environment.folios.isEmpty ? 1 : 6, .convert))
        switch source.weighted(menu) {
        case .allocate:
            if let allocation = drawAllocation(&source, environment, slot) { return allocation }
        case .preset:
            if let preset = drawPreset(&source, environment, slot) { return preset }
        case .setup, .convert: break
        }
        return drawConversion(&source, environment, slot)
    }

    private func drawSlot(_ source: inout ChoiceSource) -> SNPMemslot {
        SNPMemslot(snpGuest: !source.chance(1, in: 12),
                   asid: source.weighted([(3, 1), (1, 5)]),
                   baseGFN: source.weighted([(3, 0), (2, 0x10_0000), (1, 0x100)]),
                   pages: source.weighted([(3, 2048), (1, 1024)]),
                   gmemOffset: source.weighted([(6, 0), (2, 256), (1, 1)]),
                   canBePrivate: !source.chance(1, in: 16))
    }

    private func drawAllocation(_ source: inout ChoiceSource, _ environment: SNPEnvironment, _ slot: SNPMemslot) -> SNPOperation? {
        let order: Int = source.weighted([(4, 0), (3, 9), (2, 10)])
        let size = UInt64(1) << UInt64(order)
        let first = (slot.gmemOffset + size - 1) / size * size
        guard first + size <= slot.gmemOffset + slot.pages else { return nil }
        let choices = (slot.gmemOffset + slot.pages - first) / size
        // A few tries for a free place; crowded slots fall back to a conversion.
        for _ in 0..<3 {
            let index = first + source.draw(below: choices) * size
            if environment.canAllocate(index: index, order: order) { return .allocate(index: index, order: order) }
        }
        return nil
    }

    private func drawPreset(_ source: inout ChoiceSource, _ environment: SNPEnvironment, _ slot: SNPMemslot) -> SNPOperation? {
        let folio = source.pick(environment.folios)
        let preset: RMPPreset = source.weighted([(3, .hugePrivate), (3, .foreignGuest(asid: 7)), (1, .firmwareImmutable)])
        let offset = preset == .hugePrivate ? 0 : source.draw(below: UInt64(1) << UInt64(folio.order))
        guard let gfn = slot.gfn(ofFileIndex: folio.index + offset) else { return nil }
        let operation = SNPOperation.preset(gfn: gfn, preset)
        var trial = environment
        return trial.apply(operation) ? operation : nil
    }

    private func drawConversion(_ source: inout ChoiceSource, _ environment: SNPEnvironment, _ slot: SNPMemslot) -> SNPOperation {
        // Anchors: where folios start (in gfns), 2M boundaries of the slot, the slot's start.
        var anchors = environment.folios.compactMap { slot.gfn(ofFileIndex: $0.index) }
        anchors += stride(from: (slot.baseGFN + Self.pagesPer2M - 1) / Self.pagesPer2M * Self.pagesPer2M,
                          to: slot.gfns.upperBound, by: Int(Self.pagesPer2M)).map { $0 }
        anchors.append(slot.baseGFN)
        let anchor = source.pick(anchors)
        let offset: UInt64
        let length: UInt64
        switch source.weighted([(5, 0), (2, 1), (2, 2), (1, 3)] as [(weight: UInt64, value: Int)]) {
        case 0: (offset, length) = source.pick(Self.selftestRanges)
        case 1: (offset, length) = (0, source.pick([1024, 1536, 2]))
        case 2: (offset, length) = (source.draw(below: 600), 1 + source.draw(below: 1100))
        default: (offset, length) = (0, slot.pages)
        }
        let start = min(anchor + offset, slot.gfns.upperBound - 1)
        let end = min(start + max(length, 1), slot.gfns.upperBound)
        return .convert(start: start, end: end, toPrivate: source.chance(11, in: 20))
    }

    public func simplifications(of operation: SNPOperation) -> [SNPOperation] {
        switch operation {
        case let .setup(slot):
            var candidates: [SNPMemslot] = []
            func variant(_ change: (inout SNPMemslot) -> Void) {
                var simpler = slot
                change(&simpler)
                if simpler != slot { candidates.append(simpler) }
            }
            variant { $0.snpGuest = true }
            variant { $0.canBePrivate = true }
            variant { $0.asid = 1 }
            variant { $0.gmemOffset = 0 }
            variant { $0.baseGFN = 0 }
            variant { $0.pages = min($0.pages, 1024) }
            return candidates.map(SNPOperation.setup)
        case let .allocate(index, order):
            var candidates: [SNPOperation] = []
            if order > 9 { candidates.append(.allocate(index: index, order: 9)) }
            if order > 0 { candidates.append(.allocate(index: index, order: 0)) }
            if index > 0 { candidates.append(.allocate(index: 0, order: order)) }
            return candidates
        case let .preset(gfn, preset):
            return preset == .foreignGuest(asid: 7) || preset == .hugePrivate ? [] : [.preset(gfn: gfn, .foreignGuest(asid: 7))]
        case let .convert(start, end, toPrivate):
            // Halves first: a range shrinks in log steps; then the 2M and 4M blocks inside it
            // alone (where large steps go wrong), then smaller bites off either end.
            let middle = start + (end - start) / 2
            var ranges: [(UInt64, UInt64)] = [(start, start + 1), (end - 1, end), (start, middle), (middle, end)]
            let aligned = start / Self.pagesPer2M * Self.pagesPer2M
            for size in [Self.pagesPer2M, 2 * Self.pagesPer2M] {
                for block in stride(from: (start + size - 1) / size * size, to: end, by: Int(size)).prefix(4)
                where block + size <= end {
                    ranges.append((block, block + size))
                }
            }
            ranges += [(start, start + Self.pagesPer2M)]
            // Then ever smaller bites off either end (a half, a quarter, … one page): a bound
            // such as "more than 256 pages" is found in log steps, not one page at a time.
            var bite = (end - start) / 4
            while bite > 1 {
                ranges += [(start, end - bite), (start + bite, end)]
                bite /= 2
            }
            ranges += [(start, end - 1), (start + 1, end)]
            if aligned < start { ranges.append((aligned, end)) }
            var seen: Set<[UInt64]> = []
            let candidates = ranges.filter { $0.0 < $0.1 && ($0.1 - $0.0 < end - start || $0.0 < start) && $0.1 <= end
                                             && seen.insert([$0.0, $0.1]).inserted }
                .map { SNPOperation.convert(start: $0.0, end: $0.1, toPrivate: toPrivate) }
            return candidates
        }
    }
}
