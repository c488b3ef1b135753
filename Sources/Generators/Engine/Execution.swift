import Model

/// One executed step: the operation, what the model allowed, what was observed, the verdict.
public struct StepRecord<Model: ReferenceModel>: Sendable {
    public let operation: Model.Operation
    public let expectation: Model.Expectation
    public let observation: Model.Observation
    public let verdict: Verdict
}

/// What identifies a divergence while shrinking: the kind of operation it happened at and the
/// kind of mismatch. A candidate that diverges differently is a different bug, not a shrink.
public struct DivergenceSignature: Hashable, Sendable, Codable, CustomStringConvertible {
    public let operationKind: String
    public let mismatch: Mismatch.Kind

    public init(operationKind: String, mismatch: Mismatch.Kind) {
        self.operationKind = operationKind
        self.mismatch = mismatch
    }

    public var description: String { "\(mismatch.rawValue) mismatch at \(operationKind)" }
}

/// The first divergence of an execution.
public struct Divergence: Sendable, Hashable {
    /// Index into ``Execution/steps`` (and ``Execution/operations``).
    public let step: Int
    public let signature: DivergenceSignature
    public let mismatch: Mismatch
}

/// Running an operation sequence against a model and a system under test.
public struct Execution<Model: ReferenceModel>: Sendable {
    /// The steps that ran; inapplicable operations were skipped and do not appear.
    public private(set) var steps: [StepRecord<Model>] = []
    public private(set) var divergence: Divergence?

    /// The operations that ran: a sequence that replays this execution exactly.
    public var operations: [Model.Operation] { steps.map(\.operation) }

    /// Runs `operations` from a fresh system, stopping at the first divergence, or with
    /// `pastDivergences` running on after it (a crash's reproduction: whether the kernel crashes
    /// matters, not what the model said on the way; ``divergence`` stays the first one).
    public static func run(_ operations: [Model.Operation], model: Model,
                           system: some SystemUnderTest<Model>, pastDivergences: Bool = false) throws -> Execution {
        try system.reset()
        var execution = Execution()
        var state = model.initialState
        for operation in operations {
            if try !execution.step(operation, model: model, system: system, state: &state), !pastDivergences { break }
        }
        return execution
    }

    /// Runs one operation if it applies; returns false once a divergence is recorded.
    mutating func step(_ operation: Model.Operation, model: Model, system: some SystemUnderTest<Model>,
                       state: inout Model.State) throws -> Bool {
        guard model.isApplicable(operation, in: state) else { return true }
        let expectation = model.expect(operation, in: state)
        let observation = try system.execute(operation)
        let verdict = model.judge(observation, of: operation, against: expectation, state: &state)
        steps.append(StepRecord(operation: operation, expectation: expectation, observation: observation,
                                verdict: verdict))
        if case let .diverges(mismatch) = verdict {
            guard divergence == nil else { return false }
            divergence = Divergence(step: steps.count - 1,
                                    signature: DivergenceSignature(operationKind: operation.kindName,
                                                                   mismatch: mismatch.kind),
                                    mismatch: mismatch)
            return false
        }
        return true
    }
}
