import Model

/// Draws operations that make sense in the model's current state, and knows how to make one
/// simpler for the shrinker.
public protocol OperationGenerator<Model>: Sendable {
    associatedtype Model: ReferenceModel

    /// Every operation kind this generator can draw (swarm testing switches some off).
    var kinds: [String] { get }
    /// Kinds no run can do without (nothing happens without sockets).
    var essentialKinds: Set<String> { get }
    /// Kinds a swarm run keeps more often than the rest (``frequentKindOdds`` instead of ½):
    /// those most other kinds build on, whose absence leaves a run exploring little.
    var frequentKinds: Set<String> { get }
    /// How often a swarm run keeps each frequent kind: `kept` in `outOf` (default ¾).
    var frequentKindOdds: (kept: UInt64, outOf: UInt64) { get }

    /// Draws one operation applicable in `state`, of an enabled kind where possible.
    func draw(from source: inout ChoiceSource, state: Model.State, enabled: Set<String>) -> Model.Operation

    /// Simpler variants of `operation`, simplest first: arguments moved toward canonical values.
    func simplifications(of operation: Model.Operation) -> [Model.Operation]

    /// Candidates for `operations` without the steps in `range`: the plain deletion first, then
    /// variants that keep later steps' handles pointing at the same resources.
    func deleting(_ range: Range<Int>, from operations: [Model.Operation]) -> [[Model.Operation]]

    /// Whole-sequence rewrites for the shrinker that are no simpler themselves (two values
    /// exchanged throughout) but may let a step go: ``ShrinkDomain/rewrites``.
    func rewrites(of operations: [Model.Operation]) -> [[Model.Operation]]
}

extension OperationGenerator {
    public var frequentKinds: Set<String> { [] }
    public var frequentKindOdds: (kept: UInt64, outOf: UInt64) { (3, 4) }

    public func deleting(_ range: Range<Int>, from operations: [Model.Operation]) -> [[Model.Operation]] {
        var remaining = operations
        remaining.removeSubrange(range)
        return [remaining]
    }

    public func rewrites(of operations: [Model.Operation]) -> [[Model.Operation]] { [] }

    /// What the shrinker needs to know of this generator's operations.
    public var shrinkDomain: ShrinkDomain<Model.Operation> {
        ShrinkDomain(simplify: simplifications(of:), deleting: deleting(_:from:), rewrites: rewrites(of:))
    }
}
