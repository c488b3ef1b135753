/// One event of a live SNP trace: a probed function's entry or return, as the eBPF probes in
/// `bpf/snp.bpf.c` report it. The trace checker (``SNPTraceChecker``) judges these passively: on
/// an SNP host nothing is generated, the user's guest workload drives the kernel.
///
/// Entry/exit pairs bracket the functions that make RMP changes on behalf of a policy decision
/// (`sev_update_mem_attr` in the v8 series, `sev_gmem_prepare`/`sev_gmem_invalidate` on
/// mainline); the RMP helpers are reported once, on return, with their arguments.
public struct SNPTraceEvent: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Nanoseconds since boot (`bpf_ktime_get_ns`).
    public var timestamp: UInt64
    /// The kernel thread (pid in kernel terms) the function ran on: calls nest per thread.
    public var thread: UInt32
    public var kind: Kind

    public init(timestamp: UInt64, thread: UInt32, kind: Kind) {
        self.timestamp = timestamp
        self.thread = thread
        self.kind = kind
    }

    public enum Kind: Hashable, Codable, Sendable {
        /// `sev_update_mem_attr(slot, attr, start, end)` entered (v8 48/56); the slot's
        /// `base_gfn`/`npages`/`id` are read from `struct kvm_memory_slot`.
        case updateMemAttrEntry(slotID: UInt32, slotBaseGFN: UInt64, slotPages: UInt64,
                                attributes: UInt32, start: UInt64, end: UInt64)
        /// `sev_update_mem_attr` returned.
        case updateMemAttrExit(result: Int32)
        /// `kvm_restrictedmem_get_pfn(slot, gfn, &pfn, &order)` returned (UPM v10 base of the v8
        /// series): which pfn backs the gfn and the order of its folio.
        case getPFN(gfn: UInt64, pfn: UInt64, order: Int32, result: Int32)
        /// `rmp_make_private(pfn, gpa, level, asid, immutable)` returned.
        case rmpMakePrivate(pfn: UInt64, gpa: UInt64, level: Int32, asid: UInt32, immutable: Bool, result: Int32)
        /// `rmp_make_shared(pfn, level)` returned.
        case rmpMakeShared(pfn: UInt64, level: Int32, result: Int32)
        /// `psmash(pfn)` returned.
        case psmash(pfn: UInt64, result: Int32)
        /// `sev_gmem_prepare(kvm, pfn, gfn, max_order)` entered (mainline 6.11+).
        case gmemPrepareEntry(pfn: UInt64, gfn: UInt64, maxOrder: Int32)
        /// `sev_gmem_prepare` returned.
        case gmemPrepareExit(result: Int32)
        /// `sev_gmem_invalidate(start, end)` entered (mainline 6.11+; void).
        case gmemInvalidateEntry(startPFN: UInt64, endPFN: UInt64)
        /// `sev_gmem_invalidate` returned.
        case gmemInvalidateExit
        /// `kvm_arch_post_set_memory_attributes(kvm, range)` entered (mainline): the attribute
        /// change of one memslot's part of a `KVM_SET_MEMORY_ATTRIBUTES` call.
        case postSetMemoryAttributes(start: UInt64, end: UInt64, attributes: UInt64)
    }

    public var description: String {
        let call: String
        switch kind {
        case let .updateMemAttrEntry(slotID, base, pages, attributes, start, end):
            call = "sev_update_mem_attr(slot \(slotID) [\(hexString(base)), +\(pages)), attr \(hexString(UInt64(attributes))), \(hexString(start)), \(hexString(end))) {"
        case let .updateMemAttrExit(result): call = "} sev_update_mem_attr = \(result)"
        case let .getPFN(gfn, pfn, order, result):
            call = "kvm_restrictedmem_get_pfn(gfn \(hexString(gfn))) = \(result): pfn \(hexString(pfn)) order \(order)"
        case let .rmpMakePrivate(pfn, gpa, level, asid, immutable, result):
            call = "rmp_make_private(\(hexString(pfn)), gpa \(hexString(gpa)), level \(level), asid \(asid)\(immutable ? ", immutable" : "")) = \(result)"
        case let .rmpMakeShared(pfn, level, result): call = "rmp_make_shared(\(hexString(pfn)), level \(level)) = \(result)"
        case let .psmash(pfn, result): call = "psmash(\(hexString(pfn))) = \(result)"
        case let .gmemPrepareEntry(pfn, gfn, maxOrder):
            call = "sev_gmem_prepare(pfn \(hexString(pfn)), gfn \(hexString(gfn)), max_order \(maxOrder)) {"
        case let .gmemPrepareExit(result): call = "} sev_gmem_prepare = \(result)"
        case let .gmemInvalidateEntry(start, end): call = "sev_gmem_invalidate(\(hexString(start)), \(hexString(end))) {"
        case .gmemInvalidateExit: call = "} sev_gmem_invalidate"
        case let .postSetMemoryAttributes(start, end, attributes):
            call = "kvm_arch_post_set_memory_attributes([\(hexString(start)), \(hexString(end))), attr \(hexString(attributes)))"
        }
        return "[\(thread)] \(call)"
    }
}
