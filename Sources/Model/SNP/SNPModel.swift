import SystemPackage

/// The SNP memory attribute model: what `sev_update_mem_attr` (v8 48/56) should leave in the RMP.
///
/// Stated as end states, not as the patch's loop: after a conversion every backed gfn of the range
/// is in the requested state, pages outside it keep their owner, references balance. The model
/// never decides *how* (4K or 2M entries, which PSMASH): any RMP that meets the end state agrees,
/// and the model then continues from the RMP the system showed.
public struct SNPModel: ReferenceModel {
    public typealias Operation = SNPOperation
    public typealias Observation = SNPObservation
    public typealias Expectation = SNPExpectation

    public struct State: Hashable, Sendable {
        public var environment = SNPEnvironment()
        public init() {}
    }

    public init() {}

    public var initialState: State { State() }

    public func isApplicable(_ operation: SNPOperation, in state: State) -> Bool {
        switch operation {
        case .setup: return state.environment.slot == nil
        case .allocate, .preset:
            var trial = state.environment
            return trial.apply(operation)
        case let .convert(start, end, _):
            guard let slot = state.environment.slot else { return false }
            // The caller clips the range to the memslot (v8 02/56 kvm_post_mem_attrs_changed).
            return start < end && slot.gfns.contains(start) && end <= slot.gfns.upperBound
        }
    }

    public func expect(_ operation: SNPOperation, in state: State) -> SNPExpectation {
        guard case let .convert(start, end, toPrivate) = operation, let slot = state.environment.slot else {
            return SNPExpectation(results: [], summary: "applied", rule: SNPRules.setup)
        }
        if !slot.snpGuest { return SNPExpectation(results: [0], summary: "0, RMP unchanged", rule: SNPRules.nonSNP) }
        if !slot.canBePrivate {
            return SNPExpectation(results: [-Errno.notPermitted.rawValue], summary: "-EPERM, RMP unchanged",
                                  rule: SNPRules.notPrivateSlot)
        }
        let plan = ConversionPlan(environment: state.environment, start: start, end: end, toPrivate: toPrivate)
        var results: [Int32] = []
        if plan.mustFailAt == nil { results.append(0) }
        if plan.mayFailAt.first != nil { results.append(-Errno.invalidArgument.rawValue) }
        let target = toPrivate ? "private to ASID \(slot.asid) at their GPAs" : "shared"
        var summary = "\(results.map(SNPUpdateOutcome.name).joined(separator: " or ")); \(plan.pages.count) backed page(s) \(target)"
        if let stop = plan.mustFailAt { summary += ", stopping with -EINVAL at or before gfn \(hexString(stop))" }
        return SNPExpectation(results: results, summary: summary, rule: toPrivate ? SNPRules.toPrivate : SNPRules.toShared)
    }

    public func judge(_ observation: SNPObservation, of operation: SNPOperation, against expectation: SNPExpectation,
                      state: inout State) -> Verdict {
        if let crash = observation.crash {
            return .diverges(Mismatch(kind: .crash, detail: "expected \(expectation.summary); the patch's code \(crash.description)"))
        }
        guard case let .convert(start, end, toPrivate) = operation else {
            guard case .applied = observation else {
                return .diverges(Mismatch(kind: .state, detail: "expected the setup to apply, observed \(observation)"))
            }
            state.environment.apply(operation)
            return .agrees(rule: SNPRules.setup.id)
        }
        guard case let .update(outcome) = observation, let slot = state.environment.slot else {
            return .diverges(Mismatch(kind: .result, detail: "expected a return from sev_update_mem_attr, observed \(observation)"))
        }
        let before = state.environment
        defer { state.environment.rmp = outcome.rmp }
        guard expectation.results.contains(outcome.result) else {
            return .diverges(Mismatch(kind: .result, detail: "expected \(expectation.summary); observed \(outcome)"))
        }
        if outcome.leakedReferences != 0 {
            return .diverges(Mismatch(kind: .refcount, detail: "expected every page reference dropped [\(SNPRules.references.id)]; observed \(outcome.leakedReferences) leaked"))
        }
        if !slot.snpGuest || !slot.canBePrivate {
            if let changed = Self.firstOwnershipChange(before.rmp, outcome.rmp, among: nil) {
                return .diverges(Mismatch(kind: .state, detail: "expected the RMP unchanged [\(expectation.rule.id)]; observed \(changed)"))
            }
            return .agrees(rule: expectation.rule.id)
        }
        let plan = ConversionPlan(environment: before, start: start, end: end, toPrivate: toPrivate)
        let verdict = plan.judge(result: outcome.result, after: outcome.rmp, before: before.rmp)
        return verdict
    }

    public func nominalObservation(of operation: SNPOperation, for expectation: SNPExpectation,
                                   in state: State) -> SNPObservation {
        guard case let .convert(start, end, toPrivate) = operation, let slot = state.environment.slot else {
            return .applied
        }
        guard slot.snpGuest, slot.canBePrivate else {
            return .update(SNPUpdateOutcome(result: expectation.results.first ?? 0, rmp: state.environment.rmp))
        }
        let plan = ConversionPlan(environment: state.environment, start: start, end: end, toPrivate: toPrivate)
        let (result, rmp) = plan.reference(state.environment.rmp)
        return .update(SNPUpdateOutcome(result: result, rmp: rmp))
    }

    /// The first pfn whose owner differs between two RMPs, outside `excluded`.
    static func firstOwnershipChange(_ before: RMPTable, _ after: RMPTable, among excluded: Set<UInt64>?) -> String? {
        // The lowest changed pfn, so the message does not depend on dictionary order.
        var first: UInt64?
        func visit(_ pfn: UInt64) {
            guard pfn < (first ?? .max), !(excluded?.contains(pfn) ?? false),
                  before[pfn].ownership != after[pfn].ownership else { return }
            first = pfn
        }
        before.entries.keys.forEach(visit)
        after.entries.keys.forEach(visit)
        return first.map { "pfn \(hexString($0)) went from \(before[$0].ownership) to \(after[$0].ownership)" }
    }
}

/// What the SNP model allows for one operation.
public struct SNPExpectation: Hashable, Sendable, CustomStringConvertible {
    /// The return values allowed (empty for setup operations).
    public var results: [Int32]
    public var summary: String
    public var rule: Rule

    public var description: String { "\(summary)  [\(rule.id)]" }
}
