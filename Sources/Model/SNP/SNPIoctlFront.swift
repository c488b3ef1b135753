import SystemPackage

/// `KVM_SET_MEMORY_ATTRIBUTES` as the v8 series' base tree runs it in front of
/// `sev_update_mem_attr` (research/snp.md §1.2, §1.4): the validation shared with mainline, the
/// xarray update, then the post hook once per memslot overlapping the range, clipped to it, and
/// its return value discarded.
///
/// This is why the SNP behaviour needs probes or the harness: whatever the hook does, the ioctl
/// returns 0 (``SNPRules/ioctlDiscardsResult``).
public enum SNPIoctlFront {
    public struct Outcome: Hashable, Sendable {
        /// What the ioctl returns: 0, or -EINVAL from the validation.
        public var result: Int32
        /// The hook calls it makes: (start, end) gfns, clipped to the memslot.
        public var hookCalls: [Range<UInt64>]
        /// v8's `_IOWR` write-back: `address = i << PAGE_SHIFT; size = (end - i) << PAGE_SHIFT`,
        /// with i = end when the xarray update completed.
        public var writtenBack: (address: UInt64, size: UInt64)?

        public static func == (lhs: Outcome, rhs: Outcome) -> Bool {
            lhs.result == rhs.result && lhs.hookCalls == rhs.hookCalls
                && lhs.writtenBack?.address == rhs.writtenBack?.address && lhs.writtenBack?.size == rhs.writtenBack?.size
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(result)
            hasher.combine(hookCalls)
        }
    }

    /// The ioctl for one memslot's VM. The private attribute is supported because an SNP VM has
    /// private memory (`kvm_arch_has_private_mem`); hook results never reach the caller.
    public static func setMemoryAttributes(address: UInt64, size: UInt64, attributes: UInt64, flags: UInt64,
                                           slot: SNPMemslot?) -> Outcome {
        if MemoryAttributesValidation.check(address: address, size: size, attributes: attributes, flags: flags,
                                            supportedAttributes: KVMMemoryAttributesABI.attributePrivate) != nil {
            return Outcome(result: -Errno.invalidArgument.rawValue, hookCalls: [], writtenBack: nil)
        }
        let range = MemoryAttributesValidation.gfnRange(address: address, size: size)
        var calls: [Range<UInt64>] = []
        // v8 02/56 kvm_post_mem_attrs_changed: clip to [max(start, base_gfn), min(end, base_gfn + npages)),
        // skip empty.
        if let slot, range.overlaps(slot.gfns) { calls.append(range.clamped(to: slot.gfns)) }
        return Outcome(result: 0, hookCalls: calls, writtenBack: (range.upperBound << 12, 0))
    }
}
