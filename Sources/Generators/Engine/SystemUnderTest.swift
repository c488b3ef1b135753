import Model

/// What operations run against: a live kernel, or (in Tests) a simulated one.
///
/// `reset()` brings the system to the model's initial state; `execute` runs one operation and
/// reports what was observed. A system that cannot observe reliably throws ``SystemError``.
public protocol SystemUnderTest<Model>: AnyObject {
    associatedtype Model: ReferenceModel

    /// A name for reports ("live kernel 6.1.0-50-amd64", "simulated").
    var name: String { get }
    func reset() throws
    func execute(_ operation: Model.Operation) throws -> Model.Observation
}

/// Why a system under test could not give an observation: the run is inconclusive or skipped,
/// never passed.
public enum SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Something needed is absent (a probe could not attach, a module is missing): skip.
    case unavailable(String)
    /// The observation cannot be trusted (lost events, a flaky reading): inconclusive.
    case unreliable(String)

    public var description: String {
        switch self {
        case let .unavailable(reason): return "unavailable: \(reason)"
        case let .unreliable(reason): return "unreliable: \(reason)"
        }
    }
}
