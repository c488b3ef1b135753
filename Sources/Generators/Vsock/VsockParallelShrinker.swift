import Model

/// Shrinks a parallel case whose history no order explains, keeping it failing.
///
/// Races are probabilistic: the predicate runs a candidate up to R times and accepts it when the
/// failure shows at least once. Candidates, coarse to fine (each adopted candidate is smaller, or
/// as small with simpler arguments, so the loop ends):
/// 1. a whole thread deleted;
/// 2. one thread operation deleted (a deleted `socket()` takes the operations on that socket
///    with it, and the thread's later sockets are renumbered);
/// 3. a thread's first operation moved to the end of the prefix (what needs no parallelism
///    leaves the parallel section; its socket, if it opens one, becomes a prefix socket);
/// 4. one prefix operation deleted;
/// 5. one operation's arguments lowered (the sequential generator's canonical values).
public struct VsockParallelShrinker {
    public let model: VsockModel
    public let generator: VsockOperationGenerator
    public let maxExecutions: Int
    public let timeLimit: Duration

    public init(model: VsockModel, generator: VsockOperationGenerator = VsockOperationGenerator(),
                maxExecutions: Int, timeLimit: Duration) {
        self.model = model
        self.generator = generator
        self.maxExecutions = maxExecutions
        self.timeLimit = timeLimit
    }

    public struct Result {
        public var minimal: VsockParallelCase
        /// Predicate calls (each up to R runs).
        public var executions: Int
        public var exitReason: ShrinkExitReason
    }

    public func shrink(_ initial: VsockParallelCase, reproduces: (VsockParallelCase) throws -> Bool) rethrows -> Result {
        let clock = ContinuousClock()
        let deadline = clock.now + timeLimit
        var current = initial
        var tried: Set<VsockParallelCase> = [initial]
        var executions = 0
        var improved = true
        while improved {
            improved = false
            for candidate in candidates(current) where tried.insert(candidate).inserted {
                if executions >= maxExecutions { return Result(minimal: current, executions: executions, exitReason: .executionLimit) }
                if clock.now >= deadline { return Result(minimal: current, executions: executions, exitReason: .timeLimit) }
                executions += 1
                if try reproduces(candidate) {
                    current = candidate
                    improved = true
                    break
                }
            }
        }
        return Result(minimal: current, executions: executions, exitReason: .fixpoint)
    }

    /// Smaller or simpler variants of `parallelCase`, coarse to fine.
    public func candidates(_ parallelCase: VsockParallelCase) -> [VsockParallelCase] {
        var candidates: [VsockParallelCase] = []
        let threads = parallelCase.threads
        if threads.count > 1 {
            for thread in threads.indices {
                var fewer = parallelCase
                fewer.threads.remove(at: thread)
                candidates.append(fewer)
            }
        }
        for thread in threads.indices {
            for index in threads[thread].indices.reversed() {
                candidates.append(deleting(index, ofThread: thread, from: parallelCase))
            }
        }
        for thread in threads.indices where !threads[thread].isEmpty {
            candidates.append(movingFirst(ofThread: thread, intoPrefixOf: parallelCase))
        }
        for index in parallelCase.prefix.indices.reversed() {
            var fewer = parallelCase
            fewer.prefix.remove(at: index)
            candidates.append(fewer)
        }
        for thread in threads.indices {
            for index in threads[thread].indices {
                let operation = threads[thread][index]
                for simpler in generator.simplifications(of: operation.operation) where simpler.socket == operation.operation.socket {
                    var variant = parallelCase
                    variant.threads[thread][index] = VsockThreadOperation(simpler, socket: operation.socket)
                    candidates.append(variant)
                }
            }
        }
        for index in parallelCase.prefix.indices {
            for simpler in generator.simplifications(of: parallelCase.prefix[index]) {
                var variant = parallelCase
                variant.prefix[index] = simpler
                candidates.append(variant)
            }
        }
        // Empty threads say nothing: drop them (a case keeps one thread at least).
        return candidates.map { candidate in
            var tidy = candidate
            tidy.threads.removeAll { $0.isEmpty }
            if tidy.threads.isEmpty { tidy.threads = [[]] }
            return tidy
        }
    }

    /// Thread `thread` without its `index`-th operation; a `socket()` takes the operations on its
    /// socket with it, and the thread's later sockets move down one.
    public func deleting(_ index: Int, ofThread thread: Int, from parallelCase: VsockParallelCase) -> VsockParallelCase {
        var result = parallelCase
        guard let own = parallelCase.ownIndex(thread: thread, index: index) else {
            result.threads[thread].remove(at: index)
            return result
        }
        result.threads[thread] = parallelCase.threads[thread].enumerated().compactMap { position, operation in
            if position == index { return nil }
            guard case let .own(named)? = operation.socket else { return operation }
            if named == own { return nil }
            return named > own ? VsockThreadOperation(operation.operation, socket: .own(named - 1)) : operation
        }
        return result
    }

    /// Thread `thread`'s first operation run at the end of the prefix instead.
    public func movingFirst(ofThread thread: Int, intoPrefixOf parallelCase: VsockParallelCase) -> VsockParallelCase {
        var result = parallelCase
        let first = result.threads[thread].removeFirst()
        switch first.socket {
        case let .prefix(position)?: result.prefix.append(first.resolved(at: position))
        case .own?: return parallelCase  // a first operation cannot name its thread's own socket
        case nil: result.prefix.append(first.operation)
        }
        guard case .socket = first.operation else { return result }
        // Its socket is now the prefix's next one (if the prefix leaves as many open as the model's
        // nominal outcomes say; if not, the candidate names another socket and simply fails).
        let opened = nominalSockets(after: parallelCase.prefix)
        result.threads[thread] = result.threads[thread].map { operation in
            guard case let .own(named)? = operation.socket else { return operation }
            return VsockThreadOperation(operation.operation, socket: named == 0 ? .prefix(opened) : .own(named - 1))
        }
        return result
    }

    /// How many sockets `prefix` leaves open, by the model's nominal outcomes.
    func nominalSockets(after prefix: [VsockOperation]) -> Int {
        var state = model.initialState
        for operation in prefix where model.isApplicable(operation, in: state) {
            model.takeNominal(operation, in: &state)
        }
        return state.sockets.count
    }
}
