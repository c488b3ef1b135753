import Model
import Foundation
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

/// Case-file spelling of the SNP types.
@Suite("SNP case files")
struct SNPCodingTests {
    @Test("an RMP table round-trips as runs")
    func rmpRuns() throws {
        var rmp = RMPTable()
        _ = rmp.rmpupdate(pfn: 0x200, RMPEntry(assigned: true, pageSize: .size2M, asid: 1, gpa: 0x40_0000))
        _ = rmp.psmash(pfn: 0x200)
        _ = rmp.rmpupdate(pfn: 0x205, .hypervisor)
        _ = rmp.rmpupdate(pfn: 0x900, RMPEntry(assigned: true, immutable: true, asid: 7, gpa: 0x1000))
        let data = try JSONEncoder().encode(rmp)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.components(separatedBy: "\"pfn\"").count - 1 == 3, "\(text)")
        #expect(try JSONDecoder().decode(RMPTable.self, from: data) == rmp)
    }

    @Test("operations and observations round-trip", arguments: [
        SNPOperation.setup(SNPMemslot(snpGuest: false, asid: 5, baseGFN: 0x100, pages: 1024, gmemOffset: 1, canBePrivate: false)),
        .allocate(index: 512, order: 9), .preset(gfn: 3, .foreignGuest(asid: 7)), .preset(gfn: 0, .hugePrivate),
        .preset(gfn: 1, .firmwareImmutable), .convert(start: 1, end: 513, toPrivate: true), .convert(start: 0, end: 1, toPrivate: false),
    ])
    func operations(operation: SNPOperation) throws {
        let data = try JSONEncoder().encode(operation)
        #expect(try JSONDecoder().decode(SNPOperation.self, from: data) == operation)
        #expect(String(decoding: data, as: UTF8.self).contains("\"op\":\"\(operation.kindName)\""))
    }

    @Test("observations round-trip")
    func observations() throws {
        var rmp = RMPTable()
        _ = rmp.rmpupdate(pfn: 4, RMPEntry(assigned: true, asid: 1, gpa: 0))
        for observation in [SNPObservation.applied, .refused,
                            .update(SNPUpdateOutcome(result: -22, rmp: rmp, leakedReferences: 1, calls: ["x"]))] {
            #expect(try JSONDecoder().decode(SNPObservation.self, from: JSONEncoder().encode(observation)) == observation)
        }
    }

    @Test("an unknown operation names the known ones")
    func unknown() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SNPOperation.self, from: Data(#"{"op":"munge"}"#.utf8)) }
    }
}
