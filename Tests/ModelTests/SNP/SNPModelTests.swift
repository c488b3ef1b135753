import Model
import Testing

/// The SNP model's verdicts on hand-built outcomes.
@Suite("SNP model")
struct SNPModelTests {
    let model = SNPModel()
    let slot = SNPMemslot(asid: 1, baseGFN: 0, pages: 2048)

    /// A state with the slot and the given folios.
    func state(_ folios: [(UInt64, Int)], slot: SNPMemslot? = nil) -> SNPModel.State {
        var state = model.initialState
        let applied = state.environment.apply(.setup(slot ?? self.slot))
        #expect(applied)
        for (index, order) in folios {
            let allocated = state.environment.apply(.allocate(index: index, order: order))
            #expect(allocated)
        }
        return state
    }

    func verdict(_ operation: SNPOperation, _ state: SNPModel.State, result: Int32, rmp: RMPTable,
                 leaked: Int = 0) -> Verdict {
        var state = state
        let expectation = model.expect(operation, in: state)
        return model.judge(.update(SNPUpdateOutcome(result: result, rmp: rmp, leakedReferences: leaked)),
                           of: operation, against: expectation, state: &state)
    }

    func privatised(_ state: SNPModel.State, _ gfns: Range<UInt64>) -> RMPTable {
        var rmp = state.environment.rmp
        for gfn in gfns {
            let pfn = state.environment.backing(of: gfn)!.pfn
            #expect(rmp.rmpupdate(pfn: pfn, RMPEntry(assigned: true, asid: 1, gpa: gfn << 12)) == .success)
        }
        return rmp
    }

    @Test("private: every backed page assigned at its GPA agrees, 4K or 2M alike")
    func privateAgrees() {
        let state = state([(0, 9)])
        let operation = SNPOperation.convert(start: 0, end: 512, toPrivate: true)
        #expect(verdict(operation, state, result: 0, rmp: privatised(state, 0..<512)) == .agrees(rule: SNPRules.toPrivate.id))
        var huge = state.environment.rmp
        let pfn = state.environment.backing(of: 0)!.pfn
        #expect(huge.rmpupdate(pfn: pfn, RMPEntry(assigned: true, pageSize: .size2M, asid: 1, gpa: 0)) == .success)
        #expect(verdict(operation, state, result: 0, rmp: huge) == .agrees(rule: SNPRules.toPrivate.id))
    }

    @Test("private: half a 4M folio left shared is a state divergence")
    func halfFolio() {
        let state = state([(0, 10)])
        let operation = SNPOperation.convert(start: 0, end: 1024, toPrivate: true)
        guard case let .diverges(mismatch) = verdict(operation, state, result: 0, rmp: privatised(state, 0..<512)) else {
            Issue.record("expected a divergence"); return
        }
        #expect(mismatch.kind == .state)
        #expect(mismatch.detail.contains("512 of 1024"))
    }

    @Test("unbacked gfns are skipped")
    func unbacked() {
        let state = state([(4, 0)])
        let operation = SNPOperation.convert(start: 0, end: 16, toPrivate: true)
        #expect(verdict(operation, state, result: 0, rmp: privatised(state, 4..<5)) == .agrees(rule: SNPRules.toPrivate.id))
    }

    @Test("wrong GPA or wrong ASID is not private")
    func wrongOwner() {
        let state = state([(0, 0)])
        var rmp = state.environment.rmp
        _ = rmp.rmpupdate(pfn: state.environment.backing(of: 0)!.pfn, RMPEntry(assigned: true, asid: 1, gpa: 0x1000))
        #expect(verdict(.convert(start: 0, end: 1, toPrivate: true), state, result: 0, rmp: rmp).isDivergence)
    }

    @Test("-EINVAL without a page that could fail is a result divergence")
    func spuriousFailure() {
        let state = state([(0, 0)])
        guard case let .diverges(mismatch) = verdict(.convert(start: 0, end: 1, toPrivate: true), state, result: -22,
                                                     rmp: state.environment.rmp) else {
            Issue.record("expected a divergence"); return
        }
        #expect(mismatch.kind == .result)
    }

    @Test("an immutable page stops the update with -EINVAL; pages before it converted")
    func immutableStops() {
        var immutable = self.state([(0, 0), (1, 0), (2, 0)])
        var rmp = immutable.environment.rmp
        let pfn1 = immutable.environment.backing(of: 1)!.pfn
        _ = rmp.rmpupdate(pfn: pfn1, RMPEntry(assigned: true, immutable: true, asid: 7, gpa: 0x1000))
        immutable.environment.rmp = rmp
        let operation = SNPOperation.convert(start: 0, end: 3, toPrivate: true)
        #expect(model.expect(operation, in: immutable).results == [-22])
        let converted = privatised(immutable, 0..<1)
        #expect(verdict(operation, immutable, result: -22, rmp: converted) == .agrees(rule: SNPRules.rmpFailure.id))
        #expect(verdict(operation, immutable, result: 0, rmp: converted).isDivergence)
    }

    @Test("a page of another ASID: converting or refusing both agree")
    func foreignIsAmbiguous() {
        var state = state([(0, 0)])
        let applied = state.environment.apply(.preset(gfn: 0, .foreignGuest(asid: 7)))
        #expect(applied)
        let operation = SNPOperation.convert(start: 0, end: 1, toPrivate: true)
        #expect(model.expect(operation, in: state).results == [0, -22])
        #expect(!verdict(operation, state, result: -22, rmp: state.environment.rmp).isDivergence)
        #expect(!verdict(operation, state, result: 0, rmp: privatised(state, 0..<1)).isDivergence)
    }

    @Test("non-SNP VM: 0 and nothing changes; a changed RMP diverges")
    func nonSNP() {
        let state = state([(0, 0)], slot: SNPMemslot(snpGuest: false, baseGFN: 0, pages: 16))
        let operation = SNPOperation.convert(start: 0, end: 1, toPrivate: true)
        #expect(verdict(operation, state, result: 0, rmp: state.environment.rmp) == .agrees(rule: SNPRules.nonSNP.id))
        #expect(verdict(operation, state, result: 0, rmp: privatised(state, 0..<1)).isDivergence)
    }

    @Test("a slot that cannot be private: -EPERM")
    func notPrivate() {
        let state = state([(0, 0)], slot: SNPMemslot(baseGFN: 0, pages: 16, canBePrivate: false))
        let operation = SNPOperation.convert(start: 0, end: 1, toPrivate: false)
        #expect(verdict(operation, state, result: -1, rmp: state.environment.rmp) == .agrees(rule: SNPRules.notPrivateSlot.id))
        #expect(verdict(operation, state, result: 0, rmp: state.environment.rmp).isDivergence)
    }

    @Test("leaked page references are a refcount divergence")
    func leaks() {
        let state = state([(0, 0)])
        guard case let .diverges(mismatch) = verdict(.convert(start: 0, end: 1, toPrivate: true), state, result: 0,
                                                     rmp: privatised(state, 0..<1), leaked: 1) else {
            Issue.record("expected a divergence"); return
        }
        #expect(mismatch.kind == .refcount)
    }

    @Test("shared inside a 2M private entry: the rest of the entry keeps its owner")
    func sharedSplit() {
        var state = state([(0, 9)])
        let applied = state.environment.apply(.preset(gfn: 0, .hugePrivate))
        #expect(applied)
        let operation = SNPOperation.convert(start: 1, end: 2, toPrivate: false)
        var split = state.environment.rmp
        let pfn = state.environment.backing(of: 0)!.pfn
        #expect(split.psmash(pfn: pfn) == .success)
        #expect(split.rmpupdate(pfn: pfn + 1, .hypervisor) == .success)
        #expect(verdict(operation, state, result: 0, rmp: split) == .agrees(rule: SNPRules.toShared.id))
        // Unassigning the whole 2M entry also makes gfn 1 shared, but takes gfn 0 and 2… with it.
        var whole = state.environment.rmp
        #expect(whole.rmpupdate(pfn: pfn, RMPEntry(assigned: false, pageSize: .size2M)) == .success)
        #expect(verdict(operation, state, result: 0, rmp: whole).isDivergence)
    }

    @Test("every rule cites patch 48 (or 02 for the ioctl) of the v8 series")
    func citations() {
        for rule in SNPRules.all {
            guard case let .hunk(series, patch, _, _, _) = rule.source else { Issue.record("\(rule.id)"); continue }
            #expect(series == "snp-v8" && [2, 48].contains(patch))
        }
    }
}
