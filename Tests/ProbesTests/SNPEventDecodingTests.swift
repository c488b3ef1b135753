import CLibBPF
import Testing
@testable import Probes

/// Byte-level decoding of `struct snp_event`: records are built as raw little-endian bytes at
/// the offsets `bpf/snp_events.h` defines (not through the Swift struct), as the ring buffer
/// delivers them.
@Suite("SNP event decoding")
struct SNPEventDecodingTests {
    /// An 80-byte record: timestamp @0, args[6] @8, ret @56, tid @64, type @68, function @72,
    /// flags @76.
    func record(type: UInt32, function: UInt32 = 0, args: [UInt64] = [], ret: Int64 = 0,
                tid: UInt32 = 812, flags: UInt32 = 0, timestamp: UInt64 = 5_000_000_123) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 80)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + $0.count, with: $0) }
        }
        put(timestamp, at: 0)
        for (index, arg) in args.enumerated() { put(arg, at: 8 + 8 * index) }
        put(ret, at: 56)
        put(tid, at: 64)
        put(type, at: 68)
        put(function, at: 72)
        put(flags, at: 76)
        return bytes
    }

    func decode(_ bytes: [UInt8]) throws -> SNPProbeEvent {
        try SNPEventDecoder.decode(bytes: bytes).get()
    }

    @Test("sev_update_mem_attr entry: slot id, base_gfn, npages, attr, start, end in args[0...5]")
    func updateEntry() throws {
        let event = try decode(record(type: 1, function: 1,
                                      args: [7, 0x100000, 0x80000, 0x8, 0x100200, 0x100400]))
        #expect(event.kind == .updateMemAttrEntry(slotID: 7, slotBaseGFN: 0x100000, slotPages: 0x80000,
                                                  attributes: 8, start: 0x100200, end: 0x100400))
        #expect(event.tid == 812)
        #expect(event.timestamp == 5_000_000_123)
    }

    @Test("int results: the low 32 bits, sign-extended (-EINVAL can arrive as 0xffffffea)")
    func intResult() throws {
        let full = try decode(record(type: 2, function: 1, ret: -22))
        #expect(full.kind == .updateMemAttrExit(result: -22))
        let lowHalf = try decode(record(type: 2, function: 1, ret: 0xffff_ffea))
        #expect(lowHalf.kind == .updateMemAttrExit(result: -22))
        let garbageAbove = try decode(record(type: 8, function: 6, ret: 0x1234_5678_0000_0000))
        #expect(garbageAbove.kind == .gmemPrepareExit(result: 0))
    }

    @Test("kvm_restrictedmem_get_pfn: gfn, *pfn, *order (sign-extended int), result")
    func getPFN() throws {
        let event = try decode(record(type: 3, function: 2, args: [0x1234, 0xabcde, 9], ret: 0))
        #expect(event.kind == .getPFN(gfn: 0x1234, pfn: 0xabcde, order: 9, result: 0))
    }

    @Test("rmp_make_private: level is int, asid the low 32 bits, immutable the low byte")
    func makePrivate() throws {
        let event = try decode(record(type: 4, function: 3,
                                      args: [0x42000, 0x8000_0000, 2, 0xdead_0000_0000_0005, 0xff00], ret: -14))
        #expect(event.kind == .rmpMakePrivate(pfn: 0x42000, gpa: 0x8000_0000, level: 2, asid: 5,
                                              immutable: false, result: -14))
        let immutable = try decode(record(type: 4, function: 3, args: [1, 2, 1, 3, 0x01]))
        #expect(immutable.kind == .rmpMakePrivate(pfn: 1, gpa: 2, level: 1, asid: 3, immutable: true, result: 0))
    }

    @Test("rmp_make_shared, psmash: pfn, level, result")
    func sharedAndPsmash() throws {
        #expect(try decode(record(type: 5, function: 4, args: [0x42200, 1], ret: 0)).kind
                == .rmpMakeShared(pfn: 0x42200, level: 1, result: 0))
        #expect(try decode(record(type: 6, function: 5, args: [0x42000], ret: 3)).kind
                == .psmash(pfn: 0x42000, result: 3))
    }

    @Test("sev_gmem_prepare and sev_gmem_invalidate entries and exits")
    func gmem() throws {
        #expect(try decode(record(type: 7, function: 6, args: [0x42001, 0x801, 0xffff_ffff])).kind
                == .gmemPrepareEntry(pfn: 0x42001, gfn: 0x801, maxOrder: -1))
        #expect(try decode(record(type: 9, function: 7, args: [0x5000, 0x5001])).kind
                == .gmemInvalidateEntry(startPFN: 0x5000, endPFN: 0x5001))
        #expect(try decode(record(type: 10, function: 7)).kind == .gmemInvalidateExit)
    }

    @Test("kvm_arch_post_set_memory_attributes: range start, end, attributes")
    func postSet() throws {
        #expect(try decode(record(type: 11, function: 8, args: [0x10, 0x20, 8])).kind
                == .postSetMemoryAttributes(start: 0x10, end: 0x20, attributes: 8))
    }

    @Test("undecodable: wrong size, unknown type, a flagged (incomplete) record")
    func problems() {
        #expect(SNPEventDecoder.decode(bytes: Array(record(type: 1).prefix(79))) == .failure(.wrongSize(79)))
        #expect(SNPEventDecoder.decode(bytes: record(type: 1) + [0]) == .failure(.wrongSize(81)))
        #expect(SNPEventDecoder.decode(bytes: record(type: 0)) == .failure(.unknownType(0)))
        #expect(SNPEventDecoder.decode(bytes: record(type: 12)) == .failure(.unknownType(12)))
        #expect(SNPEventDecoder.decode(bytes: record(type: 3, function: 2, flags: 1))
                == .failure(.incomplete(type: 3, flags: 1)))
        #expect(SNPEventDecoder.decode(bytes: record(type: 4, function: 3, flags: 4))
                == .failure(.incomplete(type: 4, flags: 4)))
    }
}
