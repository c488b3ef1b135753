import SystemPackage

/// Which check of `kvm_vm_ioctl_set_mem_attributes()` rejected a request. Every rejection is
/// `EINVAL`: the errno alone cannot tell them apart, so the order is observable only through the
/// rule a model names (and, on a live kernel, through a request that fails several checks).
public enum MemoryAttributesRejection: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    case flags
    case unsupportedAttributes
    case zeroSize
    case wrappingSize
    case unaligned

    /// What the ioctl fails with (always EINVAL on 6.12 and in the v8 base tree).
    public var errno: Errno { .invalidArgument }

    /// The rule that decided the rejection.
    public var rule: Rule {
        switch self {
        case .flags: return MemoryAttributesRules.flags
        case .unsupportedAttributes: return MemoryAttributesRules.unsupported
        case .zeroSize: return MemoryAttributesRules.zeroSize
        case .wrappingSize: return MemoryAttributesRules.wrappingSize
        case .unaligned: return MemoryAttributesRules.unaligned
        }
    }

    public var description: String { "\(rule.id) → \(errno.symbol)" }
}

/// The validation front of `KVM_SET_MEMORY_ATTRIBUTES`, as a pure function shared by every model
/// that states the ioctl (this one, checked against 6.12; the SNP model, which states the v8
/// series' front: the same four checks in the same order, research/snp.md §1.4).
public enum MemoryAttributesValidation {
    /// `PAGE_SIZE` on x86-64.
    public static let pageSize: UInt64 = 4096
    public static let pageShift: UInt64 = 12

    /// The first check that rejects the request, in the kernel's order, or nil when it passes.
    ///
    /// virt/kvm/kvm_main.c:2580 kvm_vm_ioctl_set_mem_attributes() (6.12.111):
    ///
    ///     if (attrs->flags) return -EINVAL;                                          // :2586
    ///     if (attrs->attributes & ~kvm_supported_mem_attributes(kvm)) return -EINVAL;  // :2588
    ///     if (attrs->size == 0 || attrs->address + attrs->size < attrs->address)     // :2590
    ///             return -EINVAL;
    ///     if (!PAGE_ALIGNED(attrs->address) || !PAGE_ALIGNED(attrs->size))          // :2592
    ///             return -EINVAL;
    public static func check(address: UInt64, size: UInt64, attributes: UInt64, flags: UInt64,
                             supportedAttributes: UInt64) -> MemoryAttributesRejection? {
        if flags != 0 { return .flags }
        if attributes & ~supportedAttributes != 0 { return .unsupportedAttributes }
        if size == 0 { return .zeroSize }
        if address &+ size < address { return .wrappingSize }
        if address & (pageSize - 1) != 0 || size & (pageSize - 1) != 0 { return .unaligned }
        return nil
    }

    /// The gfns a request that passed ``check(address:size:attributes:flags:supportedAttributes:)``
    /// names: `start = address >> PAGE_SHIFT; end = (address + size) >> PAGE_SHIFT`
    /// (kvm_main.c:2595–2596). v8's base computed `end = (address + size - 1 + PAGE_SIZE) >>
    /// PAGE_SHIFT`, the same for the aligned requests that reach it. For a request the check
    /// rejects, the sum wraps and the range is clamped to empty rather than trapping.
    public static func gfnRange(address: UInt64, size: UInt64) -> Range<UInt64> {
        let start = address >> pageShift
        let end = (address &+ size) >> pageShift
        return start..<max(start, end)
    }
}

/// The ABI of the calls the model speaks about (include/uapi/linux/kvm.h, 6.12.111), so a live
/// system can check that what it compiled against is what the model states.
public enum KVMMemoryAttributesABI {
    /// `KVMIO` (kvm.h:639).
    public static let kvmio: UInt64 = 0xAE
    /// `KVM_MEMORY_ATTRIBUTE_PRIVATE` (kvm.h:1566): the only attribute bit 6.12 knows.
    public static let attributePrivate: UInt64 = 1 << 3
    /// Every attribute bit any 6.12 VM can support.
    public static let knownAttributes: UInt64 = attributePrivate
    /// `KVM_CAP_MEMORY_ATTRIBUTES` (kvm.h:935).
    public static let capMemoryAttributes: UInt64 = 233
    /// `KVM_X86_DEFAULT_VM` and `KVM_X86_SNP_VM` (arch/x86/include/uapi/asm/kvm.h:925, :929).
    public static let defaultVMType: UInt64 = 0
    public static let snpVMType: UInt64 = 4

    /// `struct kvm_memory_attributes { __u64 address, size, attributes, flags; }`: 32 bytes,
    /// the fields at these offsets.
    public static let structSize: UInt64 = 32
    public static let fieldOffsets: [String: UInt64] = ["address": 0, "size": 8, "attributes": 16, "flags": 24]

    /// `_IOC(dir, type, nr, size)` as asm-generic/ioctl.h builds it on x86: nr in bits 0–7, type
    /// 8–15, size 16–29, direction 30–31 (1 = write, 2 = read).
    public static func ioc(direction: UInt64, type: UInt64, number: UInt64, size: UInt64) -> UInt64 {
        (direction << 30) | (size << 16) | (type << 8) | number
    }

    /// `KVM_SET_MEMORY_ATTRIBUTES = _IOW(KVMIO, 0xd2, struct kvm_memory_attributes)` (kvm.h:1557),
    /// 0x4020AED2: mainline copies the struct in and never back.
    ///
    /// The v8 series' base used `_IOWR(KVMIO, 0xd3, …)` and wrote `address`/`size` back to
    /// describe progress (research/snp.md §1.4, step 10); Sean Christopherson's June 2023 reply to
    /// Isaku Yamahata's "KVM: Fix kvm_vm_ioctl_set_mem_attributes() error" v3 proposed
    /// `xa_reserve` all-or-nothing, `_IOW` and no write-back, which is what was merged (6.8).
    /// On 6.12, the v8 number is unknown to the VM ioctl: ENOTTY (measured in the test VM).
    public static let setMemoryAttributes = ioc(direction: 1, type: kvmio, number: 0xd2, size: structSize)
    /// The v8 base's `_IOWR(KVMIO, 0xd3, struct kvm_memory_attributes)`, 0xC020AED3.
    public static let setMemoryAttributesV8 = ioc(direction: 3, type: kvmio, number: 0xd3, size: structSize)
    /// `KVM_CREATE_VM = _IO(KVMIO, 0x01)`, `KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03)` (kvm.h:668, :676).
    public static let createVM = ioc(direction: 0, type: kvmio, number: 0x01, size: 0)
    public static let checkExtension = ioc(direction: 0, type: kvmio, number: 0x03, size: 0)
    /// `KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region)`
    /// (kvm.h:1182; the struct is 32 bytes).
    public static let setUserMemoryRegion = ioc(direction: 1, type: kvmio, number: 0x46, size: 32)
}
