import Model

extension Shrinker {
    /// A shrinker whose predicate re-runs a candidate against `system` and accepts it when it
    /// diverges with `signature`; the executed steps up to the divergence become the candidate.
    public static func forDivergence<M: ReferenceModel, System: SystemUnderTest<M>>(
        of initial: [M.Operation], signature: DivergenceSignature, model: M, system: System,
        limits: ShrinkLimits, domain: ShrinkDomain<M.Operation>
    ) -> Shrinker<M.Operation> where Operation == M.Operation {
        Shrinker(initial: initial, limits: limits, domain: domain) { candidate in
            let execution = try Execution.run(candidate, model: model, system: system)
            guard let divergence = execution.divergence, divergence.signature == signature else { return nil }
            return execution.operations
        }
    }
}
