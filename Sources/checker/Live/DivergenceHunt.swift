import Generators
import Model

/// A system under test that can say what its probes (or its harness) showed for the last
/// operation: the evidence behind an observation, printed with a divergence.
protocol EvidencedSystem<Model>: SystemUnderTest {
    var lastEvidence: [String] { get }
}

/// One seed's generated run against a system under test, and what came of it: the run passed,
/// diverged (then shrunk and re-checked), could not be trusted, or could not run.
enum SeedOutcome<Model: ReferenceModel> {
    case passed(operations: Int)
    case diverged(DivergenceFinding<Model>, operations: Int)
    case inconclusive(String, operations: Int)
    case skipped(String)
}

/// A divergence, shrunk, with how often the minimal case reproduced.
struct DivergenceFinding<Model: ReferenceModel> {
    let seed: UInt64
    let signature: DivergenceSignature
    /// The divergent step of the original run.
    let step: Int
    let operation: String
    let expected: String
    let observed: String
    /// Probe events behind the observation at the divergent step.
    let evidence: [String]
    /// The minimal sequence and what the system showed for it on the last reproduction.
    let minimal: [(Model.Operation, Model.Observation)]
    let shrinkExecutions: Int
    let shrinkExit: ShrinkExitReason
    let reproduced: Int
    let attempts: Int
    /// Why shrinking could not run at all (the divergence left the kernel in a state the
    /// checker cannot reset, e.g. a module reference that is never dropped): the minimal
    /// sequence is then the original run up to the divergent step.
    var notShrunk: String? = nil
}

/// Generates, runs, shrinks and re-checks, seed by seed.
struct DivergenceHunt<Generator: OperationGenerator> {
    typealias Model = Generator.Model
    let model: Model
    let generator: Generator
    let operations: Int
    let swarm: Bool
    let limits: ShrinkLimits
    /// How many times the minimal case is run again before it is reported.
    let reproductions: Int

    func run(seed: UInt64, on system: some EvidencedSystem<Model>) -> SeedOutcome<Model> {
        let runner = Runner(model: model, generator: generator)
        let run: GeneratedRun<Model>
        do {
            run = try runner.run(RunConfiguration(seed: seed, operations: operations, swarm: swarm), against: system)
        } catch let error as SystemError {
            return Self.outcome(of: error, operations: 0)
        } catch {
            return .inconclusive("\(error)", operations: 0)
        }
        let steps = run.execution.steps
        guard let divergence = run.execution.divergence else { return .passed(operations: steps.count) }
        let record = steps[divergence.step]
        let evidence = system.lastEvidence
        func finding(_ minimal: [(Model.Operation, Model.Observation)], _ executions: Int, _ exit: ShrinkExitReason,
                     _ reproduced: Int, _ attempts: Int, notShrunk: String? = nil) -> DivergenceFinding<Model> {
            DivergenceFinding(
                seed: seed, signature: divergence.signature, step: divergence.step + 1,
                operation: record.operation.description, expected: record.expectation.description,
                observed: record.observation.description, evidence: evidence, minimal: minimal,
                shrinkExecutions: executions, shrinkExit: exit, reproduced: reproduced, attempts: attempts,
                notShrunk: notShrunk)
        }
        do {
            let shrinker = Shrinker.forDivergence(of: run.execution.operations, signature: divergence.signature,
                                                  model: model, system: system, limits: limits,
                                                  domain: generator.shrinkDomain)
            let shrunk = try shrinker.shrink()
            var reproduced = 0
            var last: Execution<Model>?
            var lastAttempt: Execution<Model>?
            for _ in 0..<reproductions {
                let again = try Execution.run(shrunk.minimal, model: model, system: system)
                lastAttempt = again
                if again.divergence?.signature == divergence.signature {
                    reproduced += 1
                    last = again
                }
            }
            // A case that never reproduced (flaky, "reproduced 0/3") is still reported with its
            // operations, as the last attempt ran them.
            let minimal = ((last ?? lastAttempt)?.steps ?? []).map { ($0.operation, $0.observation) }
            return .diverged(finding(minimal, shrunk.executions, shrunk.exitReason, reproduced, reproductions),
                             operations: steps.count)
        } catch let SystemError.unreliable(reason) {
            // The divergence was observed; only shrinking failed. A kernel that cannot be reset
            // after it (a leaked module reference) is part of the finding, not a reason to
            // drop it: report the original run up to the divergent step.
            let prefix = steps[...divergence.step].map { ($0.operation, $0.observation) }
            return .diverged(finding(Array(prefix), 0, .fixpoint, 0, 0, notShrunk: reason), operations: steps.count)
        } catch let error as SystemError {
            return Self.outcome(of: error, operations: steps.count)
        } catch {
            return .inconclusive("while shrinking: \(error)", operations: steps.count)
        }
    }

    static func outcome(of error: SystemError, operations: Int) -> SeedOutcome<Model> {
        switch error {
        case let .unavailable(reason): return .skipped(reason)
        case let .unreliable(reason): return .inconclusive(reason, operations: operations)
        }
    }
}
