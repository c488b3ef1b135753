import Model

/// How one generated run is drawn.
public struct RunConfiguration: Sendable, Hashable {
    public var seed: UInt64
    /// How many operations to generate (the run stops earlier at a divergence).
    public var operations: Int
    /// Swarm testing: each run enables a random subset of operation kinds.
    public var swarm: Bool

    public init(seed: UInt64, operations: Int, swarm: Bool = true) {
        self.seed = seed
        self.operations = operations
        self.swarm = swarm
    }
}

/// A generated run: its choices, its enabled kinds and its execution.
public struct GeneratedRun<Model: ReferenceModel>: Sendable {
    public let configuration: RunConfiguration
    public let enabledKinds: [String]
    /// Every draw of the run; replaying them regenerates the same operations.
    public let choices: [Choice]
    public let execution: Execution<Model>
}

/// Draws operations from a seed and runs each against the model and the system as it is drawn,
/// so that every draw sees the state the previous operations actually produced.
public struct Runner<Generator: OperationGenerator>: Sendable {
    public let model: Generator.Model
    public let generator: Generator

    public init(model: Generator.Model, generator: Generator) {
        self.model = model
        self.generator = generator
    }

    public func run(_ configuration: RunConfiguration,
                    against system: some SystemUnderTest<Generator.Model>) throws -> GeneratedRun<Generator.Model> {
        var source = ChoiceSource(seed: configuration.seed)
        let enabled = swarmKinds(configuration.swarm, source: &source)
        try system.reset()
        var execution = Execution<Generator.Model>()
        var state = model.initialState
        for _ in 0..<configuration.operations {
            let operation = generator.draw(from: &source, state: state, enabled: enabled)
            if try !execution.step(operation, model: model, system: system, state: &state) { break }
        }
        return GeneratedRun(configuration: configuration, enabledKinds: generator.kinds.filter(enabled.contains),
                            choices: source.recorded, execution: execution)
    }

    /// Without swarm: every kind. With swarm: the essential kinds, the frequent ones with the
    /// generator's odds (¾ unless it says otherwise) and each other kind with probability ½
    /// (Groce et al., "Swarm Testing", ISSTA 2012).
    /// The run's first draws; public so a run's choices can be replayed step by step.
    public func swarmKinds(_ swarm: Bool, source: inout ChoiceSource) -> Set<String> {
        guard swarm else { return Set(generator.kinds) }
        var enabled = generator.essentialKinds
        let frequent = generator.frequentKinds
        let odds = generator.frequentKindOdds
        for kind in generator.kinds where !enabled.contains(kind) {
            if frequent.contains(kind) ? source.chance(odds.kept, in: odds.outOf) : source.chance(1, in: 2) { enabled.insert(kind) }
        }
        return enabled
    }

    /// Generates the operations of a run from the model alone, taking each step's nominal
    /// outcome: for explaining the model, never for judging a system.
    public func explain(_ configuration: RunConfiguration)
        -> (enabledKinds: [String], steps: [(Generator.Model.Operation, Generator.Model.Expectation, Generator.Model.Observation)]) {
        var source = ChoiceSource(seed: configuration.seed)
        let enabled = swarmKinds(configuration.swarm, source: &source)
        var state = model.initialState
        var steps: [(Generator.Model.Operation, Generator.Model.Expectation, Generator.Model.Observation)] = []
        for _ in 0..<configuration.operations {
            let operation = generator.draw(from: &source, state: state, enabled: enabled)
            guard model.isApplicable(operation, in: state) else { continue }
            let (expectation, observation) = model.takeNominal(operation, in: &state)
            steps.append((operation, expectation, observation))
        }
        return (generator.kinds.filter(enabled.contains), steps)
    }
}
