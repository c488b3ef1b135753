import Generators
import Model
import SystemPackage
import Testing

/// `kvm_vm_ioctl_set_mem_attributes()` (virt/kvm/kvm_main.c:2580, 6.12.111): the validation
/// front, check by check, in the kernel's order.
@Suite("memory attributes: validation")
struct MemoryAttributesValidationTests {
    static let page: UInt64 = 4096
    static let p = KVMMemoryAttributesABI.attributePrivate

    func check(_ address: UInt64, _ size: UInt64, attributes: UInt64 = 0, flags: UInt64 = 0,
               supported: UInt64 = 0) -> MemoryAttributesRejection? {
        MemoryAttributesValidation.check(address: address, size: size, attributes: attributes, flags: flags,
                                         supportedAttributes: supported)
    }

    // :2586 any flag → EINVAL.
    @Test("kvm.memattr.flags: any flag bit rejects", arguments: [1, 2, 1 << 63, UInt64.max] as [UInt64])
    func flags(flags: UInt64) {
        #expect(check(0, Self.page, flags: flags) == .flags)
        #expect(check(0, Self.page, flags: flags, supported: Self.p) == .flags)
        #expect(check(0, Self.page, flags: 0) == nil)
    }

    // :2588 an attribute outside the supported set → EINVAL; a type-0 VM supports none.
    @Test("kvm.memattr.unsupported: attribute bits outside the supported set")
    func unsupported() {
        #expect(check(0, Self.page, attributes: Self.p) == .unsupportedAttributes)
        #expect(check(0, Self.page, attributes: Self.p, supported: Self.p) == nil)
        #expect(check(0, Self.page, attributes: 1, supported: Self.p) == .unsupportedAttributes)
        #expect(check(0, Self.page, attributes: Self.p | 1, supported: Self.p) == .unsupportedAttributes)
        #expect(check(0, Self.page, attributes: UInt64.max, supported: Self.p) == .unsupportedAttributes)
        #expect(check(0, Self.page, attributes: 0, supported: 0) == nil)
    }

    // :2590 size == 0 → EINVAL.
    @Test("kvm.memattr.size.zero")
    func zeroSize() {
        #expect(check(0, 0) == .zeroSize)
        #expect(check(UInt64.max, 0) == .zeroSize)   // zero wins over the alignment of the address
    }

    // :2590 address + size < address → EINVAL: the sum may not wrap, not even to exactly 0, so the
    // last page (0xfffffffffffff000) can never be named.
    @Test("kvm.memattr.size.wrap: the wrap edge")
    func wrap() {
        let lastPage: UInt64 = 0xffff_ffff_ffff_f000
        #expect(check(lastPage, Self.page) == .wrappingSize)                   // sum is exactly 2^64 → 0
        #expect(check(lastPage - Self.page, Self.page) == nil)                 // ends at the last page: fine
        #expect(check(Self.page, 0 &- Self.page) == .wrappingSize)
        #expect(check(Self.page, lastPage - Self.page) == nil)
        #expect(check(0, lastPage) == nil)                                     // 0 + size never wraps
        #expect(check(0, UInt64.max) == .unaligned)                            // … but is unaligned
        #expect(check(1, UInt64.max) == .wrappingSize)                         // wrap before alignment
        #expect(check(UInt64.max, 1) == .wrappingSize)
    }

    // :2592 address or size not page aligned → EINVAL.
    @Test("kvm.memattr.unaligned", arguments: [(1, 4096), (4095, 4096), (4097, 4096), (0, 1), (0, 4095), (4096, 4097),
                                               (0x20_0000, 0x1f_ffff)] as [(UInt64, UInt64)])
    func unaligned(address: UInt64, size: UInt64) {
        #expect(check(address, size) == .unaligned)
    }

    @Test("the first failing check decides, in the kernel's order")
    func order() {
        // flags before attributes before size before alignment.
        #expect(check(1, 0, attributes: Self.p, flags: 1) == .flags)
        #expect(check(1, 0, attributes: Self.p) == .unsupportedAttributes)
        #expect(check(1, 0) == .zeroSize)
        #expect(check(Self.page + 1, UInt64.max) == .wrappingSize)
        #expect(check(1, Self.page) == .unaligned)
        // Every rejection is EINVAL: order shows only in the rule.
        #expect(Set(MemoryAttributesRejection.allCases.map(\.errno)) == [.invalidArgument])
        #expect(MemoryAttributesRejection.allCases.map(\.rule.id)
                == ["kvm.memattr.flags", "kvm.memattr.unsupported", "kvm.memattr.size.zero", "kvm.memattr.size.wrap",
                    "kvm.memattr.unaligned"])
    }

    /// An independent statement of "accepted": every condition written out.
    static func accepted(_ a: UInt64, _ s: UInt64, _ at: UInt64, _ f: UInt64, _ sup: UInt64) -> Bool {
        f == 0 && at & ~sup == 0 && s > 0 && a.addingReportingOverflow(s).overflow == false
            && a % 4096 == 0 && s % 4096 == 0
    }

    @Test("property: aligned, non-zero, non-wrapping, supported, flags 0 ⇔ accepted")
    func acceptedProperty() {
        var random = SplitMix64(seed: 0x6d656d61)
        let pools: [UInt64] = [0, 1, 4095, 4096, 8192, 0x20_0000, 1 << 62, 1 << 63, UInt64.max, 0xffff_ffff_ffff_f000]
        func value(_ random: inout SplitMix64) -> UInt64 {
            switch random.next() % 4 {
            case 0: return pools[Int(random.next() % UInt64(pools.count))]
            case 1: return (random.next() >> (random.next() % 64)) & ~4095
            case 2: return random.next() >> (random.next() % 64)
            default: return 0 &- ((random.next() % 16) * 4096)
            }
        }
        var accepts = 0
        for _ in 0..<20_000 {
            let address = value(&random), size = value(&random)
            let attributes = [0, Self.p, 1, UInt64.max][Int(random.next() % 4)]
            let flags = random.next() % 5 == 0 ? random.next() | 1 : 0
            let supported = random.next() % 2 == 0 ? 0 : Self.p
            let rejection = check(address, size, attributes: attributes, flags: flags, supported: supported)
            let expected = Self.accepted(address, size, attributes, flags, supported)
            #expect((rejection == nil) == expected,
                    "address=\(address) size=\(size) attributes=\(attributes) flags=\(flags) → \(String(describing: rejection))")
            if expected {
                accepts += 1
                let gfns = MemoryAttributesValidation.gfnRange(address: address, size: size)
                #expect(gfns.lowerBound == address / 4096 && UInt64(gfns.count) == size / 4096)
            }
        }
        #expect(accepts > 500)   // the property was exercised on both sides
    }

    @Test("gfnRange: start = address >> 12, end = (address + size) >> 12")
    func gfnRange() {
        #expect(MemoryAttributesValidation.gfnRange(address: 0, size: 4096) == 0..<1)
        #expect(MemoryAttributesValidation.gfnRange(address: 0x20_0000, size: 0x20_0000) == 0x200..<0x400)
        #expect(MemoryAttributesValidation.gfnRange(address: 0xffff_ffff_ffff_e000, size: 4096)
                == 0xf_ffff_ffff_fffe..<0xf_ffff_ffff_ffff)
        // A rejected (wrapping) request's range is empty, never a trap.
        #expect(MemoryAttributesValidation.gfnRange(address: 0xffff_ffff_ffff_f000, size: 4096).isEmpty)
    }

    @Test("the ioctl numbers and struct layout of 6.12's UAPI")
    func abi() {
        #expect(KVMMemoryAttributesABI.setMemoryAttributes == 0x4020_AED2)      // _IOW(KVMIO, 0xd2, 32)
        #expect(KVMMemoryAttributesABI.setMemoryAttributesV8 == 0xC020_AED3)    // v8: _IOWR(KVMIO, 0xd3, 32)
        #expect(KVMMemoryAttributesABI.createVM == 0xAE01)
        #expect(KVMMemoryAttributesABI.checkExtension == 0xAE03)
        #expect(KVMMemoryAttributesABI.setUserMemoryRegion == 0x4020_AE46)
        #expect(KVMMemoryAttributesABI.attributePrivate == 8)
        #expect(KVMMemoryAttributesABI.capMemoryAttributes == 233)
        #expect(KVMMemoryAttributesABI.fieldOffsets == ["address": 0, "size": 8, "attributes": 16, "flags": 24])
    }
}
