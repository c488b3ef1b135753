import ArgumentParser

/// `--parallel` and how parallel cases are drawn and judged (`checker run`, `explain`, `replay`).
struct ParallelOptions: ParsableArguments {
    @Flag(help: "Parallel cases (--target vsock): a sequential prefix, then threads released together at a barrier; each history is checked for linearizability against the model.")
    var parallel = false

    @Option(help: "Threads of a parallel case.")
    var threads: Int = 3

    @Option(help: "Operations each thread of a parallel case draws.")
    var threadOps: Int = 4

    @Option(help: "Operations of a parallel case's sequential prefix.")
    var prefixOps: Int = 8

    @Option(help: "Runs of each parallel case (and of each shrink candidate, which counts when one run fails): races are probabilistic.")
    var repeats: Int = 3

    @Option(help: "Model steps the linearizability search may take on one history; a search that needs more is inconclusive.")
    var searchBudget: Int = 200_000

    var shape: ParallelShape { ParallelShape(prefixOperations: prefixOps, threads: threads, threadOperations: threadOps) }

    func validate() throws {
        guard (1...4).contains(threads) else { throw UsageProblem("--threads \(threads): a parallel case has 1 to 4 threads") }
        guard (1...8).contains(threadOps) else { throw UsageProblem("--thread-ops \(threadOps): each thread draws 1 to 8 operations") }
        guard prefixOps >= 0 else { throw UsageProblem("--prefix-ops must be 0 or more, not \(prefixOps)") }
        guard repeats > 0, searchBudget > 0 else { throw UsageProblem("--repeats and --search-budget must be positive") }
    }
}
