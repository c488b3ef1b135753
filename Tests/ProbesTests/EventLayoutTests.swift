import CLibBPF
import Testing
@testable import Probes

/// The wire format is `bpf/events.h`, compiled by clang twice: for the BPF target and, through
/// the CLibBPF module, for Swift. These pin the layout both sides must agree on.
@Suite("kcc_event layout")
struct EventLayoutTests {
    @Test("MemoryLayout<kcc_event>.size == KCC_EVENT_SIZE (the _Static_assert) == 120")
    func sizeMatchesTheStaticAssert() {
        #expect(MemoryLayout<kcc_event>.size == Int(KCC_EVENT_SIZE))
        #expect(MemoryLayout<kcc_event>.size == 120)
        #expect(MemoryLayout<kcc_event>.stride == 120)
        #expect(MemoryLayout<kcc_event>.alignment == 8)
        #expect(EventDecoder.recordSize == 120)
    }

    @Test("fields sit where the BPF side writes them: no implicit padding")
    func fieldOffsets() {
        #expect(MemoryLayout<kcc_event>.offset(of: \.timestamp_ns) == 0)
        #expect(MemoryLayout<kcc_event>.offset(of: \.cookie) == 8)
        #expect(MemoryLayout<kcc_event>.offset(of: \.ret) == 16)
        #expect(MemoryLayout<kcc_event>.offset(of: \.args) == 24)
        #expect(MemoryLayout<kcc_event>.offset(of: \.tid) == 56)
        #expect(MemoryLayout<kcc_event>.offset(of: \.type) == 60)
        #expect(MemoryLayout<kcc_event>.offset(of: \.module) == 64)
        #expect(MemoryLayout.size(ofValue: kcc_event().module) == Int(KCC_NAME_LEN))
    }

    @Test("kcc_config is the whole .rodata: one __u32")
    func configSize() {
        #expect(MemoryLayout<kcc_config>.size == 4)
    }

    @Test("event types and cookie flags keep their wire values")
    func wireValues() {
        #expect(KCC_CALL.rawValue == 1)
        #expect(KCC_RETURN.rawValue == 2)
        #expect(KCC_MODULE_PUT.rawValue == 3)
        #expect(KCC_COOKIE_FLAG_SHIFT == 32)
        #expect(ProbeFlags.arg0IsVsockSock.rawValue == 1)
        #expect(ProbeFlags.arg0IsSocket.rawValue == 2)
        #expect(ProbeFlags.reportTransportAfterReturn.rawValue == 4)
    }
}
