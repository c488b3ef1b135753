/// What the linearizability checker needs of a sequential model.
///
/// A model that allows several outcomes where intent is unclear, or whose state after a step
/// depends on which allowed branch the kernel took, returns every state the step may leave:
/// the search tries each. An observation no branch allows returns none.
public protocol LinearizabilitySpecification {
    associatedtype State: Hashable
    associatedtype Operation: Sendable
    associatedtype Observation: Sendable

    /// The states `operation` may leave when it showed `observation` in `state`; empty when the
    /// model allows no such observation there.
    func successors(of state: State, applying operation: Operation, observed observation: Observation) -> [State]

    /// Whether the state a whole linearization ends in agrees with what was observed once every
    /// thread had returned (vsock: the module reference counts, which no single operation of a
    /// parallel section can read without racing the others).
    func admitsFinal(_ state: State) -> Bool

    /// Groups of entries that cannot interact, each checkable on its own from the same start
    /// (Porcupine's partitions; a key-value store splits by key). The default is one group: a
    /// model whose operations share state (vsock's transport registry) must not be split.
    func partitions(of entries: [ConcurrentHistory<Operation, Observation>.Entry]) -> [[Int]]
}

extension LinearizabilitySpecification {
    public func admitsFinal(_ state: State) -> Bool { true }

    public func partitions(of entries: [ConcurrentHistory<Operation, Observation>.Entry]) -> [[Int]] {
        [Array(entries.indices)]
    }
}
