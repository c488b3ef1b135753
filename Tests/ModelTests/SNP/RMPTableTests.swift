import Model
import Testing

/// RMPUPDATE and PSMASH as research/snp.md §3.2–3.3 states them.
@Suite("RMP table")
struct RMPTableTests {
    let base: UInt64 = 0x200   // 2M-aligned pfn

    @Test("a 2M RMPUPDATE needs a 2M-aligned pfn")
    func hugeNeedsAlignment() {
        var rmp = RMPTable()
        #expect(rmp.rmpupdate(pfn: base + 1, RMPEntry(assigned: true, pageSize: .size2M, asid: 1)) == .failInput)
        #expect(rmp.entries.isEmpty)
    }

    @Test("a 2M RMPUPDATE assigns all 512 pages at consecutive GPAs")
    func hugeAssignsRegion() {
        var rmp = RMPTable()
        #expect(rmp.rmpupdate(pfn: base, RMPEntry(assigned: true, pageSize: .size2M, asid: 1, gpa: 0x40_0000)) == .success)
        #expect(rmp[base + 511].ownership == .guest(asid: 1, gpa: 0x40_0000 + 511 * 4096, immutable: false))
        #expect(rmp.lookup(base + 7) == (true, .size2M))
        #expect(rmp[base + 512].ownership == .hypervisor)
    }

    @Test("a 4K RMPUPDATE inside an assigned 2M page overlaps; after PSMASH it works")
    func fourKInsideHuge() {
        var rmp = RMPTable()
        _ = rmp.rmpupdate(pfn: base, RMPEntry(assigned: true, pageSize: .size2M, asid: 1, gpa: 0))
        #expect(rmp.rmpupdate(pfn: base + 3, .hypervisor) == .failOverlap)
        #expect(rmp.psmash(pfn: base) == .success)
        #expect(rmp.lookup(base + 3) == (true, .size4K))
        #expect(rmp[base + 3].gpa == 3 * 4096)
        #expect(rmp.rmpupdate(pfn: base + 3, .hypervisor) == .success)
        #expect(!rmp[base + 3].assigned && rmp[base + 4].assigned)
    }

    @Test("a 2M private RMPUPDATE over assigned 4K pages overlaps")
    func hugeOverFourK() {
        var rmp = RMPTable()
        _ = rmp.rmpupdate(pfn: base + 9, RMPEntry(assigned: true, asid: 1))
        #expect(rmp.rmpupdate(pfn: base, RMPEntry(assigned: true, pageSize: .size2M, asid: 1)) == .failOverlap)
    }

    @Test("PSMASH needs an aligned, assigned 2M page")
    func psmashRules() {
        var rmp = RMPTable()
        #expect(rmp.psmash(pfn: base) == .failBadAddress)
        _ = rmp.rmpupdate(pfn: base, RMPEntry(assigned: true, pageSize: .size2M, asid: 1))
        #expect(rmp.psmash(pfn: base + 1) == .failInput)
    }

    @Test("immutable entries refuse RMPUPDATE")
    func immutable() {
        var rmp = RMPTable()
        _ = rmp.rmpupdate(pfn: 5, RMPEntry(assigned: true, immutable: true, asid: 1))
        #expect(rmp.rmpupdate(pfn: 5, .hypervisor) == .failPermission)
        #expect(rmp[5].assigned)
    }

    @Test("RMPUPDATE clears validated; a shared page leaves no entry")
    func validatedAndSparse() {
        var rmp = RMPTable()
        _ = rmp.rmpupdate(pfn: 5, RMPEntry(assigned: true, asid: 1, validated: true))
        #expect(!rmp[5].validated)
        _ = rmp.rmpupdate(pfn: 5, .hypervisor)
        #expect(rmp.entries.isEmpty)
    }
}
