import Model
import Testing

/// The v8 ioctl front: validation, clipping to the memslot, the hook's result discarded.
@Suite("SNP ioctl front")
struct SNPIoctlFrontTests {
    let slot = SNPMemslot(baseGFN: 0x100, pages: 0x200)

    @Test("the hook runs on the range clipped to the memslot; the ioctl returns 0")
    func clipped() {
        let outcome = SNPIoctlFront.setMemoryAttributes(address: 0, size: 0x400 << 12, attributes: 8, flags: 0, slot: slot)
        #expect(outcome.result == 0)
        #expect(outcome.hookCalls == [0x100..<0x300])
        #expect(outcome.writtenBack?.address == 0x400 << 12 && outcome.writtenBack?.size == 0)
    }

    @Test("outside every memslot: no hook call, still 0")
    func outside() {
        let outcome = SNPIoctlFront.setMemoryAttributes(address: 0x1000 << 12, size: 4096, attributes: 0, flags: 0, slot: slot)
        #expect(outcome.result == 0 && outcome.hookCalls.isEmpty)
    }

    @Test("validation failures never reach the hook", arguments: [
        (UInt64(0), UInt64(4096), UInt64(8), UInt64(1)),      // flags
        (0, 4096, 0x10, 0),                                    // unsupported attribute
        (0, 0, 8, 0),                                          // zero size
        (UInt64.max - 4095, 8192, 8, 0),                       // wraps
        (1, 4096, 8, 0),                                       // unaligned
    ])
    func rejected(request: (UInt64, UInt64, UInt64, UInt64)) {
        let outcome = SNPIoctlFront.setMemoryAttributes(address: request.0, size: request.1, attributes: request.2,
                                                        flags: request.3, slot: slot)
        #expect(outcome.result == -22 && outcome.hookCalls.isEmpty)
    }
}
