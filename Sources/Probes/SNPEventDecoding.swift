import CLibBPF

/// One observation of the SNP probes (`bpf/snp.bpf.c`): a policy function entered or returned,
/// or an RMP helper returned with its arguments.
///
/// Arguments arrive as whole 64-bit registers (or trampoline slots); only the bits of each
/// argument's C type are defined, so the decoder keeps exactly those: `int` values are the low 32
/// bits sign-extended (`-22` can arrive as `0xffffffea`), `u32 asid` the low 32 bits, `bool
/// immutable` the low byte.
///
/// ```swift
/// for event in session.drain() {
///     if case let .rmpMakePrivate(pfn, _, level, _, _, result) = event.kind { print(pfn, level, result) }
/// }
/// ```
public struct SNPProbeEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened, with the values the probe read. The cases follow `enum snp_event_type`.
    public enum Kind: Sendable, Hashable {
        /// `sev_update_mem_attr(slot, attr, start, end)` entered (v8 48/56); the slot's `id`,
        /// `base_gfn` and `npages` are read through CO-RE.
        case updateMemAttrEntry(slotID: UInt32, slotBaseGFN: UInt64, slotPages: UInt64,
                                attributes: UInt32, start: UInt64, end: UInt64)
        /// `sev_update_mem_attr` returned.
        case updateMemAttrExit(result: Int32)
        /// `kvm_restrictedmem_get_pfn(slot, gfn, &pfn, &order)` returned; `*pfn` and `*order`
        /// read after the call.
        case getPFN(gfn: UInt64, pfn: UInt64, order: Int32, result: Int32)
        /// `rmp_make_private(pfn, gpa, level, asid, immutable)` returned.
        case rmpMakePrivate(pfn: UInt64, gpa: UInt64, level: Int32, asid: UInt32, immutable: Bool,
                            result: Int32)
        /// `rmp_make_shared(pfn, level)` returned.
        case rmpMakeShared(pfn: UInt64, level: Int32, result: Int32)
        /// `psmash(pfn)` returned.
        case psmash(pfn: UInt64, result: Int32)
        /// `sev_gmem_prepare(kvm, pfn, gfn, max_order)` entered.
        case gmemPrepareEntry(pfn: UInt64, gfn: UInt64, maxOrder: Int32)
        /// `sev_gmem_prepare` returned.
        case gmemPrepareExit(result: Int32)
        /// `sev_gmem_invalidate(start, end)` entered.
        case gmemInvalidateEntry(startPFN: UInt64, endPFN: UInt64)
        /// `sev_gmem_invalidate` returned (it is `void`).
        case gmemInvalidateExit
        /// `kvm_arch_post_set_memory_attributes(kvm, range)` entered: `range->start`,
        /// `range->end`, `range->arg.attributes`.
        case postSetMemoryAttributes(start: UInt64, end: UInt64, attributes: UInt64)
    }

    /// Nanoseconds of `CLOCK_MONOTONIC` (`bpf_ktime_get_ns`).
    public var timestamp: UInt64
    /// The kernel thread the function ran on.
    public var tid: UInt32
    /// What happened.
    public var kind: Kind

    /// Creates an event.
    public init(timestamp: UInt64, tid: UInt32, kind: Kind) {
        self.timestamp = timestamp
        self.tid = tid
        self.kind = kind
    }

    /// The thread and the case, for example `[812] gmemInvalidateEntry(startPFN: 4660, endPFN: 4661)`.
    public var description: String { "[\(tid)] \(kind)" }
}

/// Why a `struct snp_event` record could not be decoded; the session counts such records as lost
/// events, since either way the observation is incomplete.
public enum SNPDecodeProblem: Error, Hashable, Sendable, CustomStringConvertible {
    /// The record is not `SNP_EVENT_SIZE` bytes: the object and this build disagree.
    case wrongSize(Int)
    /// `type` is no `enum snp_event_type` value.
    case unknownType(UInt32)
    /// The probe could not read everything (`SNP_FLAG_READ_FAILED`, `SNP_FLAG_NO_BTF`,
    /// `SNP_FLAG_NO_ENTRY`).
    case incomplete(type: UInt32, flags: UInt32)

    /// One line naming the problem.
    public var description: String {
        switch self {
        case .wrongSize(let size):
            "an SNP event record of \(size) bytes, expected \(SNPEventDecoder.recordSize)"
        case .unknownType(let type): "an SNP event of unknown type \(type)"
        case .incomplete(let type, let flags):
            "an SNP event (type \(type)) the probe could not read fully (flags 0x\(String(flags, radix: 16)))"
        }
    }
}

/// Turns `struct snp_event` records (the wire format in `bpf/snp_events.h`) into
/// ``SNPProbeEvent``s.
public enum SNPEventDecoder {
    /// The size of one record: `sizeof(struct snp_event)`, `SNP_EVENT_SIZE`.
    public static let recordSize = MemoryLayout<snp_event>.size

    /// Copies a record out of ring buffer memory, or `nil` if `bytes` has the wrong size.
    static func record(from bytes: UnsafeRawBufferPointer) -> snp_event? {
        guard bytes.count == recordSize, let base = bytes.baseAddress else { return nil }
        return base.loadUnaligned(as: snp_event.self)
    }

    /// Decodes the bytes of one record, as the ring buffer delivers them.
    ///
    /// - Parameter bytes: Exactly ``recordSize`` bytes, little-endian as the kernel wrote them.
    public static func decode(bytes: [UInt8]) -> Result<SNPProbeEvent, SNPDecodeProblem> {
        let record = bytes.withUnsafeBytes { Self.record(from: $0) }
        guard let record else { return .failure(.wrongSize(bytes.count)) }
        return decode(record)
    }

    /// Decodes one record.
    static func decode(_ record: snp_event) -> Result<SNPProbeEvent, SNPDecodeProblem> {
        let a = [record.args.0, record.args.1, record.args.2, record.args.3, record.args.4,
                 record.args.5]
        let result = Int32(truncatingIfNeeded: record.ret)
        func int32(_ value: UInt64) -> Int32 { Int32(truncatingIfNeeded: value) }
        func uint32(_ value: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: value) }
        let kind: SNPProbeEvent.Kind
        switch record.type {
        case SNP_UPDATE_MEM_ATTR_ENTRY.rawValue:
            kind = .updateMemAttrEntry(slotID: uint32(a[0]), slotBaseGFN: a[1], slotPages: a[2],
                                       attributes: uint32(a[3]), start: a[4], end: a[5])
        case SNP_UPDATE_MEM_ATTR_EXIT.rawValue:
            kind = .updateMemAttrExit(result: result)
        case SNP_GET_PFN.rawValue:
            kind = .getPFN(gfn: a[0], pfn: a[1], order: int32(a[2]), result: result)
        case SNP_RMP_MAKE_PRIVATE.rawValue:
            kind = .rmpMakePrivate(pfn: a[0], gpa: a[1], level: int32(a[2]), asid: uint32(a[3]),
                                   immutable: a[4] & 0xff != 0, result: result)
        case SNP_RMP_MAKE_SHARED.rawValue:
            kind = .rmpMakeShared(pfn: a[0], level: int32(a[1]), result: result)
        case SNP_PSMASH.rawValue:
            kind = .psmash(pfn: a[0], result: result)
        case SNP_GMEM_PREPARE_ENTRY.rawValue:
            kind = .gmemPrepareEntry(pfn: a[0], gfn: a[1], maxOrder: int32(a[2]))
        case SNP_GMEM_PREPARE_EXIT.rawValue:
            kind = .gmemPrepareExit(result: result)
        case SNP_GMEM_INVALIDATE_ENTRY.rawValue:
            kind = .gmemInvalidateEntry(startPFN: a[0], endPFN: a[1])
        case SNP_GMEM_INVALIDATE_EXIT.rawValue:
            kind = .gmemInvalidateExit
        case SNP_POST_SET_MEMORY_ATTRIBUTES.rawValue:
            kind = .postSetMemoryAttributes(start: a[0], end: a[1], attributes: a[2])
        default:
            return .failure(.unknownType(record.type))
        }
        if record.flags != 0 { return .failure(.incomplete(type: record.type, flags: record.flags)) }
        return .success(SNPProbeEvent(timestamp: record.timestamp_ns, tid: record.tid, kind: kind))
    }
}
