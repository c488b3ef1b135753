import Model
import Testing

/// Passive checking of synthetic SNP traces (the shapes bpf/snp.bpf.c reports).
@Suite("SNP trace checker")
struct SNPTraceCheckerTests {
    var clock: UInt64 = 0

    mutating func events(_ kinds: [SNPTraceEvent.Kind], thread: UInt32 = 10) -> [SNPTraceEvent] {
        kinds.map { kind in
            clock += 1
            return SNPTraceEvent(timestamp: clock, thread: thread, kind: kind)
        }
    }

    static func update(_ start: UInt64, _ end: UInt64, private: Bool) -> SNPTraceEvent.Kind {
        .updateMemAttrEntry(slotID: 1, slotBaseGFN: 0, slotPages: 4096, attributes: `private` ? 8 : 0, start: start, end: end)
    }

    @Test("v8 on an order-10 folio: one 2M RMPUPDATE, half the folio left shared")
    mutating func orderTenFolio() {
        let trace = events([
            Self.update(0, 1024, private: true),
            .getPFN(gfn: 0, pfn: 0x10_0000, order: 10, result: 0),
            .rmpMakePrivate(pfn: 0x10_0000, gpa: 0, level: PageLevel.size2M, asid: 1, immutable: false, result: 0),
            .updateMemAttrExit(result: 0),
        ])
        let assumed = SNPTraceChecker.check(trace, assumeSharedAtStart: true)
        #expect(assumed.checkedCalls == 1)
        #expect(assumed.divergences.count == 1)
        #expect(assumed.divergences.first?.contains("gfn 0x200") == true)
        // Without knowing the pages were shared before, the second half is reported unchecked.
        let unknown = SNPTraceChecker.check(trace)
        #expect(unknown.divergences.isEmpty)
        #expect(unknown.notChecked.contains { $0.contains("512 page(s)") })
    }

    @Test("a correct private conversion passes")
    mutating func correct() {
        let trace = events([
            Self.update(0, 513, private: true),
            .getPFN(gfn: 0, pfn: 0x10_0000, order: 9, result: 0),
            .rmpMakePrivate(pfn: 0x10_0000, gpa: 0, level: PageLevel.size2M, asid: 1, immutable: false, result: 0),
            .getPFN(gfn: 512, pfn: 0x20_0000, order: 0, result: 0),
            .rmpMakePrivate(pfn: 0x20_0000, gpa: 512 << 12, level: PageLevel.size4K, asid: 1, immutable: false, result: 0),
            .updateMemAttrExit(result: 0),
        ])
        let report = SNPTraceChecker.check(trace, assumeSharedAtStart: true)
        #expect(report.checkedCalls == 1)
        #expect(report.divergences.isEmpty, "\(report.divergences)")
        #expect(report.notChecked.isEmpty, "\(report.notChecked)")
    }

    @Test("a failed RMP helper must end the update with -EINVAL")
    mutating func failureEnds() {
        let swallowed = events([
            Self.update(0, 2, private: true),
            .rmpMakePrivate(pfn: 5, gpa: 0, level: PageLevel.size4K, asid: 1, immutable: false, result: -14),
            .updateMemAttrExit(result: 0),
        ])
        #expect(SNPTraceChecker.check(swallowed).divergences.count == 1)
        let continued = events([
            Self.update(0, 2, private: true),
            .rmpMakePrivate(pfn: 5, gpa: 0, level: PageLevel.size4K, asid: 1, immutable: false, result: -14),
            .rmpMakePrivate(pfn: 6, gpa: 0x1000, level: PageLevel.size4K, asid: 1, immutable: false, result: 0),
            .updateMemAttrExit(result: -22),
        ])
        #expect(SNPTraceChecker.check(continued).divergences.first?.contains("stop") == true)
    }

    @Test("-EPERM with RMP changes diverges")
    mutating func epermChanges() {
        let trace = events([
            Self.update(0, 1, private: false),
            .rmpMakeShared(pfn: 5, level: PageLevel.size4K, result: 0),
            .updateMemAttrExit(result: -1),
        ])
        #expect(SNPTraceChecker.check(trace).divergences.count == 1)
    }

    @Test("calls on different threads nest separately; a return without entry is not checked")
    mutating func threads() {
        var trace = events([Self.update(0, 1, private: true)], thread: 1)
        trace += events([.gmemInvalidateExit], thread: 2)
        trace += events([.updateMemAttrExit(result: 0)], thread: 1)
        let report = SNPTraceChecker.check(trace)
        #expect(report.checkedCalls == 1)
        #expect(report.notChecked.contains { $0.contains("without its entry") })
    }

    @Test("mainline prepare: 2M only for order >= 9; invalidate must unassign what was assigned")
    mutating func mainline() {
        let badPrepare = events([
            .gmemPrepareEntry(pfn: 0x200, gfn: 0, maxOrder: 0),
            .rmpMakePrivate(pfn: 0x200, gpa: 0, level: PageLevel.size2M, asid: 1, immutable: false, result: 0),
            .gmemPrepareExit(result: 0),
        ])
        #expect(SNPTraceChecker.check(badPrepare).divergences.count == 1)
        let leftAssigned = events([
            .gmemPrepareEntry(pfn: 0x200, gfn: 0, maxOrder: 0),
            .rmpMakePrivate(pfn: 0x200, gpa: 0, level: PageLevel.size4K, asid: 1, immutable: false, result: 0),
            .gmemPrepareExit(result: 0),
            .gmemInvalidateEntry(startPFN: 0x200, endPFN: 0x201),
            .gmemInvalidateExit,
        ])
        let report = SNPTraceChecker.check(leftAssigned)
        #expect(report.checkedCalls == 2)
        #expect(report.divergences.count == 1)
    }

    @Test("mainline prepare, judged by the snp-gmem rules: GPAs, whole large folios, assigned pages, the invalidated range")
    mutating func gmemRules() {
        // docs/snp-gmem.md class 2: a 2M folio at gfn 0x500 (base gfn not 2M-aligned) gets a 2M
        // entry at gpa 0x400000: every page 0x100 pages below its GPA.
        let wrongGPA = events([
            .gmemPrepareEntry(pfn: 0x10_0000, gfn: 0x500, maxOrder: 9),
            .rmpMakePrivate(pfn: 0x10_0000, gpa: 0x40_0000, level: PageLevel.size2M, asid: 1, immutable: false, result: 0),
            .gmemPrepareExit(result: 0),
        ])
        let gpa = SNPTraceChecker.check(wrongGPA, assumeSharedAtStart: true)
        #expect(gpa.divergences.count == 1 && gpa.divergences[0].contains(GmemRules.preparePrivate.id), "\(gpa.divergences)")
        let aligned = events([
            .gmemPrepareEntry(pfn: 0x10_0000, gfn: 0x400, maxOrder: 9),
            .rmpMakePrivate(pfn: 0x10_0000, gpa: 0x40_0000, level: PageLevel.size2M, asid: 1, immutable: false, result: 0),
            .gmemPrepareExit(result: 0),
        ])
        let good = SNPTraceChecker.check(aligned, assumeSharedAtStart: true)
        #expect(good.divergences.isEmpty && good.notChecked.isEmpty, "\(good.divergences) \(good.notChecked)")
        // docs/snp-gmem.md class 1: an order-10 folio, one 2M entry, its second 2M left shared.
        let half = events([
            .gmemPrepareEntry(pfn: 0x10_0000, gfn: 0, maxOrder: 10),
            .rmpMakePrivate(pfn: 0x10_0000, gpa: 0, level: PageLevel.size2M, asid: 1, immutable: false, result: 0),
            .gmemPrepareExit(result: 0),
        ])
        let whole = SNPTraceChecker.check(half, assumeSharedAtStart: true)
        #expect(whole.divergences.count == 1 && whole.divergences[0].contains(GmemRules.prepareWholeFolio.id), "\(whole.divergences)")
        // Without knowing the second 2M was shared, it is not judged, and says so.
        let unknown = SNPTraceChecker.check(half)
        #expect(unknown.divergences.isEmpty)
        #expect(unknown.notChecked.contains { $0.contains("512 page(s) of the folio") }, "\(unknown.notChecked)")
        // An assigned page is left as it is.
        let retaken = events([
            .rmpMakePrivate(pfn: 0x300, gpa: 0x1000, level: PageLevel.size4K, asid: 7, immutable: false, result: 0),
            .gmemPrepareEntry(pfn: 0x300, gfn: 1, maxOrder: 0),
            .rmpMakePrivate(pfn: 0x300, gpa: 0x1000, level: PageLevel.size4K, asid: 1, immutable: false, result: 0),
            .gmemPrepareExit(result: 0),
        ])
        let assigned = SNPTraceChecker.check(retaken)
        #expect(assigned.divergences.count == 1 && assigned.divergences[0].contains(GmemRules.prepareAssigned.id), "\(assigned.divergences)")
        // An invalidation changes nothing outside its range.
        let outside = events([
            .gmemInvalidateEntry(startPFN: 0x400, endPFN: 0x401),
            .rmpMakeShared(pfn: 0x401, level: PageLevel.size4K, result: 0),
            .gmemInvalidateExit,
        ])
        let freed = SNPTraceChecker.check(outside)
        #expect(freed.divergences.count == 1 && freed.divergences[0].contains(GmemRules.invalidateOutside.id), "\(freed.divergences)")
    }
}
