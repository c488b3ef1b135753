import Generators
import Model
import SystemPackage

/// A planted bug in the simulated `KVM_SET_MEMORY_ATTRIBUTES`.
public enum MemoryAttributesMutant: String, CaseIterable, Sendable {
    /// `!PAGE_ALIGNED(attrs->size)` forgotten: an unaligned size is accepted.
    case acceptsUnalignedSize = "accepts-unaligned-size"
    /// The no-op short-circuit (`kvm_range_has_memory_attributes`) runs before validation: a
    /// request whose range already has the attributes returns 0 whatever its flags or size.
    case noopBeforeValidation = "noop-before-validation"
    /// `address + size < address` forgotten: a wrapping range is accepted.
    case missingWrapCheck = "missing-wrap-check"
    /// The flags and attributes checks swapped. Both fail with EINVAL, so no errno tells the
    /// orders apart: an equivalent mutant, which the engine must *not* report.
    case attributesBeforeFlags = "attributes-before-flags"

    /// Whether the ioctl's result can show the mutant at all.
    public var isObservable: Bool { self != .attributesBeforeFlags }
}

/// A simulated kernel: an imperative re-statement of 6.12's `kvm_vm_ioctl_set_mem_attributes()`,
/// `kvm_vm_set_mem_attributes()` and `kvm_range_has_memory_attributes()`, with the xarray as a
/// dictionary. A reservation of more than `reservationLimit` gfns fails with ENOMEM, as
/// `xa_reserve` would once memory runs out.
///
/// A test double, for the engine and the generator; never the live path.
public final class SimulatedMemoryAttributesKernel: SystemUnderTest {
    public typealias Model = MemoryAttributesModel

    public let supported: UInt64
    public let mutant: MemoryAttributesMutant?
    public let reservationLimit: UInt64
    public var name: String { "simulated KVM (supported \(supported)\(mutant.map { ", mutant \($0.rawValue)" } ?? ""))" }

    private var xarray: [UInt64: UInt64] = [:]
    private var slots: Set<UInt32> = []
    private var nextFD: UInt64 = 4

    public init(supported: UInt64 = 0, mutant: MemoryAttributesMutant? = nil, reservationLimit: UInt64 = 1 << 16) {
        self.supported = supported
        self.mutant = mutant
        self.reservationLimit = reservationLimit
    }

    public func reset() {
        xarray = [:]
        slots = []
    }

    public func execute(_ operation: MemoryAttributesOperation) -> MemoryAttributesObservation {
        switch operation {
        case .createVM:
            reset()
            nextFD += 1
            return .returned(nextFD)
        case .checkExtension(.system): return .returned(1 << 3)
        case .checkExtension(.vm): return .returned(supported)
        case let .addMemslot(index):
            let slot = Memslot.layout[index].slot
            guard slots.insert(slot).inserted else { return .failed(.fileExists) }
            return .returned(0)
        case let .setAttributes(request):
            let errno = setMemoryAttributes(request)
            return errno == 0 ? .returned(0) : .failed(Errno(rawValue: errno))
        }
    }

    private static let einval: Int32 = 22
    private static let enomem: Int32 = 12

    private func setMemoryAttributes(_ attrs: MemoryAttributesRequest) -> Int32 {
        if mutant == .noopBeforeValidation {
            let start = attrs.address >> 12
            let end = (attrs.address &+ attrs.size) >> 12
            if end >= start && rangeHas(start, end, attrs.attributes) { return 0 }
        }
        if mutant == .attributesBeforeFlags {
            if attrs.attributes & ~supported != 0 { return Self.einval }
            if attrs.flags != 0 { return Self.einval }
        } else {
            if attrs.flags != 0 { return Self.einval }
            if attrs.attributes & ~supported != 0 { return Self.einval }
        }
        if attrs.size == 0 { return Self.einval }
        if mutant != .missingWrapCheck && attrs.address &+ attrs.size < attrs.address { return Self.einval }
        if attrs.address % 4096 != 0 { return Self.einval }
        if mutant != .acceptsUnalignedSize && attrs.size % 4096 != 0 { return Self.einval }
        let start = attrs.address >> 12
        let end = (attrs.address &+ attrs.size) >> 12
        return setRange(start, end, attrs.attributes)
    }

    /// `kvm_range_has_memory_attributes(kvm, start, end, ~0, attrs)`.
    private func rangeHas(_ start: UInt64, _ end: UInt64, _ attrs: UInt64) -> Bool {
        let mask = supported
        if attrs & ~mask != 0 { return false }
        if end == start &+ 1 { return (xarray[start] ?? 0) & mask == attrs }
        if attrs == 0 { return !xarray.keys.contains { $0 >= start && $0 < end } }
        guard end > start, end - start <= UInt64(xarray.count) else { return false }
        var index = start
        while index < end {
            guard let value = xarray[index], value & mask == attrs else { return false }
            index += 1
        }
        return true
    }

    /// `kvm_vm_set_mem_attributes()`: no-op check, reserve everything, then store.
    private func setRange(_ start: UInt64, _ end: UInt64, _ attrs: UInt64) -> Int32 {
        if rangeHas(start, end, attrs) { return 0 }
        // A wrapped range (only a mutant gets here with one) reserves nothing and stores nothing.
        guard end > start else { return 0 }
        if end - start > reservationLimit { return Self.enomem }
        var index = start
        while index < end {
            if attrs == 0 { xarray[index] = nil } else { xarray[index] = attrs }
            index += 1
        }
        return 0
    }
}
