import Model

/// Draws `KVM_SET_MEMORY_ATTRIBUTES` requests biased to the edges the validation front decides
/// on, plus the few operations around them (a fresh VM, the capability query, memslots), and
/// simplifies them toward zero, page-aligned and canonical values.
///
/// Addresses: 0, 1, 4095, 4096, around the 2 MiB boundary between the adjacent memslots, 4 GiB,
/// random aligned and unaligned, and the top of the address space (the last page, which no
/// request can name because `address + size` would wrap to 0). Sizes: 0, 1, 4095, 4096, 2 MiB,
/// huge, `UInt64.max`, and sizes relative to the address (exactly to 2^64: wraps; to the last
/// page boundary: does not). Attributes: 0, PRIVATE, other bits, all bits. Flags: 0, 1, high bits.
public struct MemoryAttributesOperationGenerator: OperationGenerator {
    public typealias Model = MemoryAttributesModel

    public init() {}

    public var kinds: [String] { MemoryAttributesOperationKind.allCases.map(\.rawValue) }
    public var essentialKinds: Set<String> { [MemoryAttributesOperationKind.setAttributes.rawValue] }

    static let page = MemoryAttributesValidation.pageSize
    static let twoMiB: UInt64 = 0x20_0000
    /// The highest page boundary a request can reach: `address + size` may not wrap to 0.
    static let lastPage: UInt64 = 0xffff_ffff_ffff_f000

    // Canonical values, simplest first; the shrinker moves every argument toward them.
    static let canonicalAddresses: [UInt64] = [0, page, twoMiB, 1, page - 1]
    /// `lastPage` as a size makes every address above 0 wrap: the canonical wrapping request is
    /// `{address 0x1000, size 0xfffffffffffff000}`.
    static let canonicalSizes: [UInt64] = [page, 0, 2 * page, twoMiB, 1, page - 1, lastPage]
    static let canonicalAttributes: [UInt64] = [0, KVMMemoryAttributesABI.attributePrivate, 1]
    static let canonicalFlags: [UInt64] = [0, 1]

    public func draw(from source: inout ChoiceSource, state: MemoryAttributesState, enabled: Set<String>) -> MemoryAttributesOperation {
        let freeSlots = Memslot.layout.indices.filter { !state.memslots.contains(Memslot.layout[$0]) }
        var menu: [(weight: UInt64, value: MemoryAttributesOperationKind)] = []
        func offer(_ kind: MemoryAttributesOperationKind, _ weight: UInt64, when available: Bool = true) {
            if available && enabled.contains(kind.rawValue) { menu.append((weight, kind)) }
        }
        offer(.setAttributes, 12)
        offer(.checkExtension, 2)
        offer(.addMemslot, 2, when: !freeSlots.isEmpty)
        offer(.createVM, 1)
        if menu.isEmpty { menu = [(1, .setAttributes)] }
        switch source.weighted(menu) {
        case .createVM: return .createVM
        case .checkExtension: return .checkExtension(source.weighted([(3, .vm), (1, .system)] as [(weight: UInt64, value: CapabilityScope)]))
        case .addMemslot: return .addMemslot(source.pick(Array(freeSlots)))
        case .setAttributes: return .setAttributes(request(&source, state: state))
        }
    }

    func request(_ source: inout ChoiceSource, state: MemoryAttributesState) -> MemoryAttributesRequest {
        let address = self.address(&source, state: state)
        let size = self.size(&source, address: address)
        let attributes = source.weighted([
            (10, 0), (6, KVMMemoryAttributesABI.attributePrivate), (2, 1), (1, 1 << 4),
            (1, KVMMemoryAttributesABI.attributePrivate | 1), (1, 1 << 63), (1, UInt64.max),
        ] as [(weight: UInt64, value: UInt64)])
        let flags = source.weighted([(14, 0), (2, 1), (1, 2), (1, 1 << 63), (1, UInt64.max)] as [(weight: UInt64, value: UInt64)])
        return MemoryAttributesRequest(address: address, size: size, attributes: attributes, flags: flags)
    }

    private func address(_ source: inout ChoiceSource, state: MemoryAttributesState) -> UInt64 {
        switch source.draw(below: 12) {
        case 0: return 0
        case 1: return Self.page
        case 2: return source.pick([1, Self.page - 1, Self.page + 1])
        case 3: return source.pick([Self.twoMiB - Self.page, Self.twoMiB, Self.twoMiB + Self.page, 2 * Self.twoMiB - Self.page])
        case 4: return source.pick([0x1_0000_0000, 0x1_0000_0000 + Self.twoMiB - Self.page, 0x1_0000_0000 - Self.page])
        case 5: return source.draw(below: 1 << 21) << 12                              // aligned, below 8 GiB
        case 6: return source.draw(below: 1 << 33)                                    // anything below 8 GiB
        case 7: return source.pick([Self.lastPage, Self.lastPage - Self.page, UInt64.max, UInt64.max - Self.page,
                                    1 << 63, (1 << 63) - Self.page])
        case 8:
            // Inside an added memslot, if any.
            guard !state.memslots.isEmpty else { return 0 }
            let slot = source.pick(state.memslots)
            return slot.guestPhysicalAddress + (source.draw(below: slot.size / Self.page) << 12)
        default: return source.draw(below: 1 << 9) << 12                              // the first 2 MiB
        }
    }

    private func size(_ source: inout ChoiceSource, address: UInt64) -> UInt64 {
        switch source.draw(below: 12) {
        case 0: return 0
        case 1: return Self.page
        case 2: return source.pick([1, Self.page - 1, Self.page + 1, Self.twoMiB - 1])
        case 3: return source.pick([Self.twoMiB, 2 * Self.twoMiB, Self.twoMiB - Self.page])
        case 4: return source.pick([UInt64.max, 1 << 63, 1 << 62, Self.lastPage])
        case 5: return 0 &- address                                                     // to exactly 2^64: wraps to 0
        case 6: return (Self.lastPage &- address) & ~(Self.page - 1)                    // up to the last page boundary
        case 7: return (0 &- address) &+ Self.page                                      // past 2^64 by a page
        case 8: return source.draw(below: 1 << 30)                                      // anything below 1 GiB
        default: return (1 + source.draw(below: 1 << 10)) << 12                         // 1 to 1024 pages
        }
    }

    public func simplifications(of operation: MemoryAttributesOperation) -> [MemoryAttributesOperation] {
        switch operation {
        case .createVM: return []
        case .checkExtension(.vm): return [.checkExtension(.system)]
        case .checkExtension(.system): return []
        case let .addMemslot(index): return (0..<index).map(MemoryAttributesOperation.addMemslot)
        case let .setAttributes(request):
            var variants: [MemoryAttributesRequest] = []
            for flags in Self.simpler(request.flags, canonical: Self.canonicalFlags) {
                variants.append(MemoryAttributesRequest(address: request.address, size: request.size,
                                                        attributes: request.attributes, flags: flags))
            }
            for attributes in Self.simpler(request.attributes, canonical: Self.canonicalAttributes) {
                variants.append(MemoryAttributesRequest(address: request.address, size: request.size,
                                                        attributes: attributes, flags: request.flags))
            }
            for address in Self.simpler(request.address, canonical: Self.canonicalAddresses) {
                variants.append(MemoryAttributesRequest(address: address, size: request.size,
                                                        attributes: request.attributes, flags: request.flags))
            }
            for size in Self.simpler(request.size, canonical: Self.canonicalSizes) {
                variants.append(MemoryAttributesRequest(address: request.address, size: size,
                                                        attributes: request.attributes, flags: request.flags))
            }
            return variants.map(MemoryAttributesOperation.setAttributes)
        }
    }

    // MARK: Canonical order ("simpler" is defined here and nowhere else)

    /// A value's place in the simplicity order: canonical values first, in their order; then every
    /// other value by magnitude. Candidates are strictly earlier, so shrinking terminates.
    static func rank(_ value: UInt64, canonical: [UInt64]) -> (Int, UInt64) {
        (canonical.firstIndex(of: value) ?? canonical.count, value)
    }

    /// Strictly simpler values: the canonical ones before it, then (for a non-canonical value)
    /// the value aligned down to a page, with its low bits kept, and halved.
    static func simpler(_ value: UInt64, canonical: [UInt64]) -> [UInt64] {
        let own = rank(value, canonical: canonical)
        var candidates = canonical
        candidates += [value & ~(page - 1), value & (page - 1), value >> 1, value & ~(1 << 63)]
        var seen = Set<UInt64>()
        return candidates.filter { candidate in
            let other = rank(candidate, canonical: canonical)
            return (other.0, other.1) < (own.0, own.1) && seen.insert(candidate).inserted
        }
    }
}
