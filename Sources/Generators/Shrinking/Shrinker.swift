/// Shrinks a failing operation sequence to a minimal one with the same divergence.
///
/// Designing shrink passes (after Hypothesis's shrinker and syzkaller's `prog.Minimize`):
/// - The shrinker knows nothing of kernels: it holds a target sequence and a predicate. The
///   predicate runs a candidate and returns the sequence that actually ran up to its divergence
///   (inapplicable steps dropped, the tail cut), or nil when the divergence did not reproduce
///   with the same signature.
/// - A pass only proposes candidates through ``consider(_:)``, which skips duplicates, counts
///   executions, enforces the limits and adopts a candidate that reproduces.
/// - Every adopted candidate is no longer than the target, and a same-length one only moves
///   arguments toward their canonical values, which are finitely many: the loop terminates.
/// - Passes run coarse to fine and repeat until none changes the target (a fixpoint), the
///   execution cap or the time limit is reached; the exit reason says which.
/// - Against a flaky system, a candidate must reproduce `confirmations` times in a row.
public final class Shrinker<Operation: Hashable & Sendable> {
    public typealias Predicate = ([Operation]) throws -> [Operation]?

    /// The smallest reproducing sequence so far.
    public private(set) var target: [Operation]
    let domain: ShrinkDomain<Operation>
    private let predicate: Predicate
    private let limits: ShrinkLimits
    private let clock = ContinuousClock()
    private let deadline: ContinuousClock.Instant
    private var tried: Set<[Operation]> = []
    private(set) var executions = 0
    private var executionsAtBest = 0
    private var duplicates = 0
    private var accepted: [String: Int] = [:]
    private var currentPass = ""

    /// The passes, coarse to fine.
    static var passes: [any ShrinkPass] {
        [DeleteTail(), DeleteChunks(), DeleteSingleOps(), LowerArguments(), DeletePairs(), RewriteThenDelete()]
    }
    /// For executions that cost a boot each (a kernel crash, reproduced in a fresh VM): chunks
    /// aligned as delta debugging partitions them, then single steps; no argument lowering and
    /// no pairs. The result is still 1-minimal: no single step can go.
    static var fewExecutionPasses: [any ShrinkPass] { [DeleteTail(), DeleteChunks(aligned: true), DeleteSingleOps()] }

    private let passes: [any ShrinkPass]

    public init(initial: [Operation], limits: ShrinkLimits = ShrinkLimits(),
                domain: ShrinkDomain<Operation>, strategy: ShrinkStrategy = .thorough, predicate: @escaping Predicate) {
        self.target = initial
        self.domain = domain
        self.predicate = predicate
        self.limits = limits
        self.deadline = clock.now.advanced(by: limits.timeLimit)
        self.passes = strategy == .thorough ? Self.passes : Self.fewExecutionPasses
    }

    /// Runs the passes to a fixpoint or a limit.
    public func shrink() throws -> ShrinkResult<Operation> {
        var reason = ShrinkExitReason.fixpoint
        do {
            var changed = true
            while changed {
                changed = false
                for pass in passes {
                    currentPass = pass.name
                    if try pass.run(self) { changed = true }
                }
            }
        } catch let stop as ShrinkStop {
            reason = stop.reason
        }
        return ShrinkResult(minimal: target, executions: executions, executionsToMinimal: executionsAtBest,
                            duplicatesSkipped: duplicates, acceptedByPass: accepted, exitReason: reason)
    }

    /// Tries every way the domain knows to delete `range`; true once one is adopted.
    func considerDeleting(_ range: Range<Int>) throws -> Bool {
        for candidate in domain.deleting(range, target) where try consider(candidate) { return true }
        return false
    }

    /// Tries deleting the steps at `earlier` and `later` (earlier < later) together, each the way
    /// the domain deletes one step (the later first, so that the earlier index still holds);
    /// true once one is adopted.
    func considerDeletingPair(_ earlier: Int, _ later: Int) throws -> Bool {
        for without in domain.deleting(later..<(later + 1), target).prefix(2) {
            for candidate in domain.deleting(earlier..<(earlier + 1), without).prefix(2) where try consider(candidate) {
                return true
            }
        }
        return false
    }

    /// Tries a candidate; adopts it and returns true if it reproduces and is no larger.
    func consider(_ candidate: [Operation]) throws -> Bool {
        guard candidate != target, candidate.count <= target.count else { return false }
        guard tried.insert(candidate).inserted else {
            duplicates += 1
            return false
        }
        var reproduced: [Operation]?
        for attempt in 0..<limits.confirmations {
            if executions >= limits.maxExecutions { throw ShrinkStop(reason: .executionLimit) }
            if clock.now >= deadline { throw ShrinkStop(reason: .timeLimit) }
            executions += 1
            guard let result = try predicate(candidate), attempt == 0 || result == reproduced else { return false }
            reproduced = result
        }
        guard let reproduced, reproduced.count <= target.count, reproduced != target else { return false }
        target = reproduced
        executionsAtBest = executions
        accepted[currentPass, default: 0] += 1
        return true
    }
}

/// How hard the shrinker works for a smaller case.
public enum ShrinkStrategy: Sendable {
    /// Every pass, sliding chunks, lowered arguments, pairs: for executions of milliseconds.
    case thorough
    /// Aligned chunks and single steps only: for executions of tens of seconds.
    case fewExecutions
}

/// Bounds on shrinking.
public struct ShrinkLimits: Sendable, Hashable {
    /// Executions of the system under test, confirmations included.
    public var maxExecutions: Int
    public var timeLimit: Duration
    /// How many times in a row a candidate must reproduce (1 for deterministic systems).
    public var confirmations: Int

    public init(maxExecutions: Int = 2_000, timeLimit: Duration = .seconds(300), confirmations: Int = 1) {
        self.maxExecutions = maxExecutions
        self.timeLimit = timeLimit
        self.confirmations = max(1, confirmations)
    }
}

/// Why shrinking stopped.
public enum ShrinkExitReason: String, Sendable, Codable {
    /// No pass could make the sequence smaller: it is minimal for these passes.
    case fixpoint
    case executionLimit = "execution-limit"
    case timeLimit = "time-limit"
}

/// The outcome of shrinking.
public struct ShrinkResult<Operation: Hashable & Sendable>: Sendable {
    public let minimal: [Operation]
    public let executions: Int
    /// Executions spent until the minimal sequence was first reached.
    public let executionsToMinimal: Int
    public let duplicatesSkipped: Int
    public let acceptedByPass: [String: Int]
    public let exitReason: ShrinkExitReason
}

/// What the shrinker knows of the operations it shrinks, supplied by their generator.
public struct ShrinkDomain<Operation>: Sendable {
    /// Simpler variants of one operation, simplest first.
    public let simplify: @Sendable (Operation) -> [Operation]
    /// Candidate sequences without the steps in a range.
    public let deleting: @Sendable (Range<Int>, [Operation]) -> [[Operation]]
    /// Whole-sequence rewrites that are no simpler themselves but may open a deletion: two
    /// values exchanged wherever they occur (``RewriteThenDelete``). Empty where none makes sense.
    public let rewrites: @Sendable ([Operation]) -> [[Operation]]

    public init(simplify: @escaping @Sendable (Operation) -> [Operation],
                deleting: @escaping @Sendable (Range<Int>, [Operation]) -> [[Operation]],
                rewrites: @escaping @Sendable ([Operation]) -> [[Operation]] = { _ in [] }) {
        self.simplify = simplify
        self.deleting = deleting
        self.rewrites = rewrites
    }
}

struct ShrinkStop: Error {
    let reason: ShrinkExitReason
}

/// One shrink pass: proposes candidates to the shrinker; returns whether the target changed.
protocol ShrinkPass {
    var name: String { get }
    func run<Operation>(_ shrinker: Shrinker<Operation>) throws -> Bool
}
