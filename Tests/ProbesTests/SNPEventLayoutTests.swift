import CLibBPF
import Testing
@testable import Probes

/// The SNP wire format is `bpf/snp_events.h`, compiled for the BPF target and, through CLibBPF,
/// for Swift. These pin the layout both sides must agree on, and the enum values the BPF
/// programs and the Swift tables share.
@Suite("snp_event layout")
struct SNPEventLayoutTests {
    @Test("MemoryLayout<snp_event>.size == SNP_EVENT_SIZE (the _Static_assert) == 80")
    func size() {
        #expect(MemoryLayout<snp_event>.size == Int(SNP_EVENT_SIZE))
        #expect(MemoryLayout<snp_event>.size == 80)
        #expect(MemoryLayout<snp_event>.stride == 80)
        #expect(MemoryLayout<snp_event>.alignment == 8)
        #expect(SNPEventDecoder.recordSize == 80)
    }

    @Test("fields sit where the BPF side writes them: no implicit padding")
    func offsets() {
        #expect(MemoryLayout<snp_event>.offset(of: \.timestamp_ns) == 0)
        #expect(MemoryLayout<snp_event>.offset(of: \.args) == 8)
        #expect(MemoryLayout<snp_event>.offset(of: \.ret) == 56)
        #expect(MemoryLayout<snp_event>.offset(of: \.tid) == 64)
        #expect(MemoryLayout<snp_event>.offset(of: \.type) == 68)
        #expect(MemoryLayout<snp_event>.offset(of: \.function) == 72)
        #expect(MemoryLayout<snp_event>.offset(of: \.flags) == 76)
    }

    @Test("SNPFunction raw values are enum snp_function (the kprobe cookies)")
    func functionValues() {
        #expect(SNPFunction.updateMemAttr.rawValue == SNP_FN_UPDATE_MEM_ATTR.rawValue)
        #expect(SNPFunction.getPFN.rawValue == SNP_FN_GET_PFN.rawValue)
        #expect(SNPFunction.rmpMakePrivate.rawValue == SNP_FN_RMP_MAKE_PRIVATE.rawValue)
        #expect(SNPFunction.rmpMakeShared.rawValue == SNP_FN_RMP_MAKE_SHARED.rawValue)
        #expect(SNPFunction.psmash.rawValue == SNP_FN_PSMASH.rawValue)
        #expect(SNPFunction.gmemPrepare.rawValue == SNP_FN_GMEM_PREPARE.rawValue)
        #expect(SNPFunction.gmemInvalidate.rawValue == SNP_FN_GMEM_INVALIDATE.rawValue)
        #expect(SNPFunction.postSetMemoryAttributes.rawValue == SNP_FN_POST_SET_MEMORY_ATTRIBUTES.rawValue)
    }

    @Test("event types and flags keep their wire values")
    func wireValues() {
        let types = [SNP_UPDATE_MEM_ATTR_ENTRY, SNP_UPDATE_MEM_ATTR_EXIT, SNP_GET_PFN, SNP_RMP_MAKE_PRIVATE,
                     SNP_RMP_MAKE_SHARED, SNP_PSMASH, SNP_GMEM_PREPARE_ENTRY, SNP_GMEM_PREPARE_EXIT,
                     SNP_GMEM_INVALIDATE_ENTRY, SNP_GMEM_INVALIDATE_EXIT, SNP_POST_SET_MEMORY_ATTRIBUTES]
        #expect(types.map(\.rawValue) == Array(1...11))
        #expect(SNP_FLAG_READ_FAILED.rawValue == 1)
        #expect(SNP_FLAG_NO_BTF.rawValue == 2)
        #expect(SNP_FLAG_NO_ENTRY.rawValue == 4)
    }
}
