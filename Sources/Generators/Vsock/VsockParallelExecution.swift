import Model

/// One operation a thread of a parallel section is to run, with its number (its datagram's tag).
public struct VsockThreadInvocation: Hashable, Sendable {
    public var operation: VsockThreadOperation
    public var number: Int

    public init(operation: VsockThreadOperation, number: Int) {
        self.operation = operation
        self.number = number
    }
}

/// What one thread's operation showed, and when it was invoked and returned (nanoseconds of
/// `CLOCK_MONOTONIC`).
public struct VsockThreadResult: Hashable, Sendable {
    public var observation: VsockThreadObservation
    public var invoked: UInt64
    public var responded: UInt64
    /// The probe events behind the observation, in words (empty where none were kept).
    public var evidence: [String]

    public init(observation: VsockThreadObservation, invoked: UInt64, responded: UInt64, evidence: [String] = []) {
        self.observation = observation
        self.invoked = invoked
        self.responded = responded
        self.evidence = evidence
    }
}

/// A system that can run a parallel section: its threads released together at a barrier.
public protocol VsockParallelSystem: SystemUnderTest where Model == VsockModel {
    /// Runs each thread's operations in its own thread, all released at once, after the
    /// operations already executed (the prefix); returns each thread's results in order and the
    /// module reference counts once every thread has returned and closed sockets have settled.
    func runThreads(_ threads: [[VsockThreadInvocation]]) throws -> (results: [[VsockThreadResult]], refcounts: ModuleRefcounts)
}

/// A parallel case run once: the prefix judged step by step as usual, then the threads' history
/// checked for linearizability against the model.
public struct VsockParallelRun: Sendable {
    public enum Verdict: Sendable {
        /// The sequential prefix diverged: an ordinary divergence, reported as such.
        case prefixDiverged(Divergence)
        /// Some order consistent with real time explains every observation; `order` lists the
        /// history's entries in it.
        case linearizable(order: [Int])
        /// No order does; the report names where the search got furthest.
        case notLinearizable([String])
        /// The search ran out of budget.
        case inconclusive(String)

        public var isNotLinearizable: Bool { if case .notLinearizable = self { return true } else { return false } }
    }

    public let prefix: Execution<VsockModel>
    public let history: ConcurrentHistory<VsockParallelStep, VsockThreadObservation>
    public let finalRefcounts: ModuleRefcounts
    public let verdict: Verdict
    /// Model steps the search took.
    public let searchSteps: Int

    /// Operations that ran (prefix steps and thread operations that were not skipped).
    public var operations: Int {
        prefix.steps.count + history.entries.filter { $0.observation != .skipped }.count
    }

    /// Runs `parallelCase` against `system` from a reset.
    public static func run(_ parallelCase: VsockParallelCase, model: VsockModel, system: some VsockParallelSystem,
                           budget: Int = 200_000) throws -> VsockParallelRun {
        try system.reset()
        var prefix = Execution<VsockModel>()
        var state = model.initialState
        for operation in parallelCase.prefix {
            if try !prefix.step(operation, model: model, system: system, state: &state) { break }
        }
        let empty = ConcurrentHistory<VsockParallelStep, VsockThreadObservation>([])
        if let divergence = prefix.divergence {
            return VsockParallelRun(prefix: prefix, history: empty, finalRefcounts: [:], verdict: .prefixDiverged(divergence),
                                    searchSteps: 0)
        }
        let prefixSteps = prefix.steps.count
        // Each thread's runnable operations (with their indices in the case) and invocations.
        let runnable = parallelCase.threads.indices.map { thread in
            parallelCase.threads[thread].indices.filter { parallelCase.canRun(thread: thread, index: $0, afterPrefix: state) }
        }
        let invocations = runnable.enumerated().map { thread, indices in
            indices.map { index in
                VsockThreadInvocation(operation: parallelCase.threads[thread][index],
                                      number: parallelCase.number(thread: thread, index: index, prefixSteps: prefixSteps))
            }
        }
        let (results, refcounts) = try system.runThreads(invocations)
        var entries: [ConcurrentHistory<VsockParallelStep, VsockThreadObservation>.Entry] = []
        for (thread, indices) in runnable.enumerated() {
            for (position, index) in indices.enumerated() {
                let result = results[thread][position]
                let step = VsockParallelStep(thread: thread, index: index, number: invocations[thread][position].number,
                                             operation: parallelCase.threads[thread][index],
                                             ownIndex: parallelCase.ownIndex(thread: thread, index: index), contended: false)
                entries.append(.init(thread: thread, index: index, operation: step, observation: result.observation,
                                     invoked: result.invoked, responded: result.responded))
            }
        }
        markContention(&entries)
        let history = ConcurrentHistory(entries)
        let specification = VsockLinearizability(model: model, finalRefcounts: refcounts, restingCount: state.operationsJudged)
        let checker = LinearizabilityChecker(specification, budget: budget)
        let verdict: Verdict
        let steps: Int
        switch checker.check(history, from: VsockParallelState(afterPrefix: state)) {
        case let .linearizable(order, taken):
            verdict = .linearizable(order: order)
            steps = taken
        case let .notLinearizable(counterexample, taken):
            verdict = .notLinearizable(describe(counterexample, history: history, results: results, specification: specification))
            steps = taken
        case let .inconclusive(taken):
            verdict = .inconclusive("the linearizability search took \(taken) model steps (its budget) without deciding")
            steps = taken
        }
        return VsockParallelRun(prefix: prefix, history: history, finalRefcounts: refcounts, verdict: verdict, searchSteps: steps)
    }

    /// Flags module loads and unloads that overlapped another of the same module, and unloads and
    /// `sendto()`s with an address that overlapped each other, in real time.
    public static func markContention(_ entries: inout [ConcurrentHistory<VsockParallelStep, VsockThreadObservation>.Entry]) {
        func isUnload(_ index: Int) -> Bool {
            if case .unloadTransport = entries[index].operation.operation.operation { return true } else { return false }
        }
        func isAddressedSend(_ index: Int) -> Bool {
            if case .sendto = entries[index].operation.operation.operation { return true } else { return false }
        }
        for index in entries.indices {
            if isUnload(index) {
                entries[index].operation.overlapsAddressedSend = entries.indices.contains { isAddressedSend($0) && entries[index].overlaps(entries[$0]) }
            }
            if isAddressedSend(index) {
                entries[index].operation.overlapsUnload = entries.indices.contains { isUnload($0) && entries[index].overlaps(entries[$0]) }
            }
        }
        func module(_ step: VsockParallelStep) -> TransportModule? {
            switch step.operation.operation {
            case let .loadTransport(module), let .unloadTransport(module): return module
            default: return nil
            }
        }
        for index in entries.indices {
            guard let mine = module(entries[index].operation) else { continue }
            entries[index].operation.contended = entries.indices.contains { other in
                module(entries[other].operation) == mine && entries[index].overlaps(entries[other])
            }
        }
    }

    /// A history no order explains, in words: every thread's operations on one time line, the
    /// longest order the model allows, and what it allowed for each operation that could have
    /// come next (or the reference counts the order ends in, when every operation fitted).
    static func describe(_ counterexample: LinearizabilityChecker<VsockLinearizability>.Counterexample,
                         history: ConcurrentHistory<VsockParallelStep, VsockThreadObservation>,
                         results: [[VsockThreadResult]], specification: VsockLinearizability) -> [String] {
        var lines = ["no order of the threads' operations, consistent with when each was called and returned, is one the model allows:"]
        lines += diagram(history)
        let longest = counterexample.longest.map { "t\(history.entries[$0].thread).\(history.entries[$0].index + 1)" }
        lines.append("longest order the model allows: " + (longest.isEmpty ? "(none: no operation can go first)" : longest.joined(separator: " → ")))
        if counterexample.finalStateRejected {
            lines.append("every operation fits, but the order ends with refcnt \(counterexample.state.model.refcounts)"
                         + (counterexample.state.model.lingering.isEmpty ? "" : " (+ lingering \(counterexample.state.model.lingering.map(\.shortName)))")
                         + ", and \(specification.finalRefcounts) was read once every thread had returned")
        }
        for index in counterexample.stuck {
            let entry = history.entries[index]
            lines.append("next, t\(entry.thread).\(entry.index + 1) \(entry.operation) showed \(entry.observation);")
            lines.append("  the model allows there: " + specification.describeExpectation(of: entry.operation, in: counterexample.state)
                .replacingNewlines())
            if let position = history.threads[entry.thread].firstIndex(where: { $0.index == entry.index }) {
                for evidence in results[entry.thread][position].evidence { lines.append("  probe: \(evidence)") }
            }
        }
        return lines
    }

    /// One line per operation, in order of invocation: thread, call and return times (ms from
    /// the first call), the operation and what it showed.
    public static func diagram(_ history: ConcurrentHistory<VsockParallelStep, VsockThreadObservation>) -> [String] {
        guard let origin = history.entries.map(\.invoked).min() else { return [] }
        func ms(_ time: UInt64) -> String {
            let value = Double(time - origin) / 1e6
            let text = String(Int(value * 1000)).leftPadded(to: 4, with: "0")
            return "\(text.dropLast(3)).\(text.suffix(3))".leftPadded(to: 9, with: " ")
        }
        return history.entries.sorted { ($0.invoked, $0.thread) < ($1.invoked, $1.thread) }.map { entry in
            let indent = String(repeating: "    ", count: entry.thread)
            return "  \(ms(entry.invoked)) → \(ms(entry.responded)) ms  \(indent)t\(entry.thread).\(entry.index + 1) \(entry.operation) ⇒ \(entry.observation)"
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int, with pad: Character) -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }

    fileprivate func replacingNewlines() -> String {
        split(separator: "\n").map { $0.trimmingCharacters() }.joined(separator: " ")
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(drop { $0 == " " })
    }
}
