import Model
import Testing

/// The guest_memfd model's rules on hand-built observations.
struct GmemModelTests {
    let model = GmemModel()

    func state(_ operations: [GmemOperation]) -> GmemModel.State {
        var state = model.initialState
        for operation in operations { state.environment.apply(operation) }
        return state
    }

    @Test func aFaultThatLeavesTheFaultedPageSharedDiverges() {
        var state = state([.setup(SNPMemslot(baseGFN: 0, pages: 1024))])
        let operation = GmemOperation.prepare(gfn: 3)
        let expectation = model.expect(operation, in: state)
        let verdict = model.judge(.call(GmemCallOutcome(result: 0, rmp: state.environment.rmp)), of: operation,
                                  against: expectation, state: &state)
        #expect(verdict.isDivergence)
    }

    @Test func theNominalFaultAgreesAndPreparesTheFolio() {
        var state = state([.setup(SNPMemslot(baseGFN: 0, pages: 2048)), .allocate(index: 1024, order: 10)])
        let operation = GmemOperation.prepare(gfn: 1500)
        let expectation = model.expect(operation, in: state)
        let nominal = model.nominalObservation(of: operation, for: expectation, in: state)
        #expect(model.judge(nominal, of: operation, against: expectation, state: &state) == .agrees(rule: GmemRules.prepareWholeFolio.id))
        // Prepared: guest_memfd does not call the hook again for that folio.
        #expect(!model.isApplicable(.prepare(gfn: 1025), in: state))
    }

    @Test func onlyTheFirstTwoMegabytesOfAnOrder10FolioDiverges() {
        var state = state([.setup(SNPMemslot(baseGFN: 0, pages: 2048)), .allocate(index: 1024, order: 10)])
        let pfn = state.environment.world.folios[0].pfn
        var rmp = state.environment.rmp
        _ = rmp.rmpupdate(pfn: pfn, RMPEntry(assigned: true, pageSize: .size2M, asid: 1, gpa: 1024 << 12))
        let operation = GmemOperation.prepare(gfn: 1024)
        let verdict = model.judge(.call(GmemCallOutcome(result: 0, rmp: rmp)), of: operation,
                                  against: model.expect(operation, in: state), state: &state)
        guard case let .diverges(mismatch) = verdict else { Issue.record("agreed"); return }
        #expect(mismatch.detail.contains(GmemRules.prepareWholeFolio.id))
    }

    @Test func aCrashIsAlwaysADivergenceOfItsOwnKind() {
        var state = state([.setup(SNPMemslot(baseGFN: 0, pages: 1024)), .allocate(index: 0, order: 0)])
        let operation = GmemOperation.invalidate(index: 0, pages: 1)
        let verdict = model.judge(.crashed(HarnessCrash(kind: .timeout, signature: "stuck")), of: operation,
                                  against: model.expect(operation, in: state), state: &state)
        guard case let .diverges(mismatch) = verdict else { Issue.record("agreed"); return }
        #expect(mismatch.kind == .crash)
    }

    @Test func aWarnDuringAFreeDivergesUnlessAnImmutablePageIsThere() {
        var state = state([.setup(SNPMemslot(baseGFN: 0, pages: 1024)), .allocate(index: 0, order: 0)])
        let operation = GmemOperation.invalidate(index: 0, pages: 1)
        let verdict = model.judge(.call(GmemCallOutcome(result: 0, rmp: state.environment.rmp, warnings: ["WARNING"])),
                                  of: operation, against: model.expect(operation, in: state), state: &state)
        #expect(verdict.isDivergence)
    }
}
