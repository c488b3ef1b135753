/// Is there an order of a history's operations, consistent with real time, in which every
/// observation is one the sequential model allows?
///
/// The search is Wing and Gong's ("Testing and verifying concurrent objects", JPDC 1993): take
/// any operation that no other pending one precedes in real time, let the model take it with
/// its observation, go on; back up when the model allows none. Lowe's memoisation ("Testing for
/// linearizability", CCPE 2017) makes it practical: a set of operations taken with the state
/// they left is explored once, whatever order reached it. Porcupine (Go) is built the same way;
/// this one also lets a step leave several states (a model's unclear intent) and checks the
/// final state against what was read once every thread had returned.
///
/// The search is bounded: one that runs out of `budget` model steps is inconclusive, never a pass.
public struct LinearizabilityChecker<Spec: LinearizabilitySpecification> {
    public typealias History = ConcurrentHistory<Spec.Operation, Spec.Observation>

    public enum Verdict {
        /// Every partition has a linearization; `order` lists the entries (indices into the
        /// history) in one valid order, partition after partition.
        case linearizable(order: [Int], steps: Int)
        /// No order explains the observations.
        case notLinearizable(Counterexample, steps: Int)
        /// The budget ran out before the search could decide.
        case inconclusive(steps: Int)
    }

    /// Where the search got furthest: the longest order it found that the model allows, and the
    /// operations that could have come next, none of which the model allowed there (or, with all
    /// taken, the final state that did not match).
    public struct Counterexample {
        public var partition: [Int]
        public var longest: [Int]
        public var stuck: [Int]
        public var finalStateRejected: Bool
        /// The state the longest order left.
        public var state: Spec.State
    }

    public let specification: Spec
    public let budget: Int

    public init(_ specification: Spec, budget: Int = 200_000) {
        self.specification = specification
        self.budget = budget
    }

    public func check(_ history: History, from initial: Spec.State) -> Verdict {
        var steps = 0
        var order: [Int] = []
        for partition in specification.partitions(of: history.entries) {
            var search = Search(spec: specification, entries: partition.map { history.entries[$0] }, budget: budget - steps)
            let outcome = search.run(from: initial)
            steps += search.steps
            switch outcome {
            case let .found(local):
                order += local.map { partition[$0] }
            case .exhausted:
                return .inconclusive(steps: steps)
            case .impossible:
                return .notLinearizable(Counterexample(partition: partition, longest: search.deepest.map { partition[$0] },
                                                       stuck: search.stuckAtDeepest.map { partition[$0] },
                                                       finalStateRejected: search.finalRejected,
                                                       state: search.deepestState ?? initial),
                                        steps: steps)
            }
        }
        return .linearizable(order: order, steps: steps)
    }

    /// One partition's depth-first search.
    struct Search {
        enum Outcome { case found([Int]), impossible, exhausted }

        struct Visited: Hashable {
            var taken: [UInt64]
            var state: Spec.State
        }

        let spec: Spec
        let entries: [History.Entry]
        let budget: Int
        var steps = 0
        var visited: Set<Visited> = []
        var path: [Int] = []
        var taken: [UInt64]
        var deepest: [Int] = []
        var stuckAtDeepest: [Int] = []
        var finalRejected = false
        var deepestState: Spec.State?

        init(spec: Spec, entries: [History.Entry], budget: Int) {
            self.spec = spec
            self.entries = entries
            self.budget = budget
            taken = Array(repeating: 0, count: (entries.count + 63) / 64)
        }

        func isTaken(_ index: Int) -> Bool { taken[index / 64] & (1 << UInt64(index % 64)) != 0 }
        mutating func flip(_ index: Int) { taken[index / 64] ^= 1 << UInt64(index % 64) }

        mutating func run(from state: Spec.State) -> Outcome {
            switch explore(state) {
            case .some(true): return .found(path)
            case .some(false): return .impossible
            case .none: return .exhausted
            }
        }

        /// true: a linearization of the rest exists (``path`` holds it); false: none; nil: budget.
        mutating func explore(_ state: Spec.State) -> Bool? {
            if path.count == entries.count {
                if spec.admitsFinal(state) { return true }
                if path.count >= deepest.count {
                    deepest = path
                    stuckAtDeepest = []
                    finalRejected = true
                    deepestState = state
                }
                return false
            }
            guard visited.insert(Visited(taken: taken, state: state)).inserted else { return false }
            // Candidates: pending entries that no pending entry precedes in real time.
            var earliestResponse = UInt64.max
            for index in entries.indices where !isTaken(index) { earliestResponse = min(earliestResponse, entries[index].responded) }
            var stuck: [Int] = []
            for index in entries.indices where !isTaken(index) && entries[index].invoked <= earliestResponse {
                steps += 1
                if steps > budget { return nil }
                let next = spec.successors(of: state, applying: entries[index].operation, observed: entries[index].observation)
                if next.isEmpty { stuck.append(index) }
                for successor in next {
                    path.append(index)
                    flip(index)
                    let found = explore(successor)
                    if found != false { return found }
                    flip(index)
                    path.removeLast()
                }
            }
            if path.count > deepest.count || (path.count == deepest.count && deepest.isEmpty) {
                deepest = path
                stuckAtDeepest = stuck
                finalRejected = false
                deepestState = state
            }
            return false
        }
    }
}
