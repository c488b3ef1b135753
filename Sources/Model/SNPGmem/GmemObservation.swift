/// What the system under test showed for one guest_memfd operation.
public enum GmemObservation: Hashable, Sendable, CustomStringConvertible {
    /// A setup operation was applied.
    case applied
    /// A setup operation could not be applied (the system's world differs from the model's).
    case refused
    /// A hook returned (`sev_gmem_invalidate` returns nothing: its result is 0).
    case call(GmemCallOutcome)
    /// The code under check crashed, aborted, exited or hung.
    case crashed(HarnessCrash)

    public var description: String {
        switch self {
        case .applied: return "applied"
        case .refused: return "refused"
        case let .call(outcome): return outcome.description
        case let .crashed(crash): return crash.description
        }
    }
}

extension GmemObservation: CrashObservable {
    public var crash: HarnessCrash? { if case let .crashed(crash) = self { return crash } else { return nil } }
}

/// One hook call as the harness saw it.
public struct GmemCallOutcome: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The hook's return value (0 for `sev_gmem_invalidate`, which returns void).
    public var result: Int32
    /// The whole RMP afterwards.
    public var rmp: RMPTable
    /// The WARNs the call fired, each a kernel bug report.
    public var warnings: [String]
    /// The RMP-level calls the code made, in order, with their results: the evidence.
    public var calls: [String]

    public init(result: Int32, rmp: RMPTable, warnings: [String] = [], calls: [String] = []) {
        self.result = result
        self.rmp = rmp
        self.warnings = warnings
        self.calls = calls
    }

    public var description: String {
        "returned \(SNPUpdateOutcome.name(result)) after \(calls.count) RMP call(s)"
            + (warnings.isEmpty ? "" : ", \(warnings.count) WARN(s): \(warnings[0])")
    }
}

/// Case files spell observations as every harness does (``HarnessObservationSpelling``).
extension GmemObservation: Codable {
    public init(from decoder: Decoder) throws {
        switch try HarnessObservationSpelling<GmemCallOutcome>(from: decoder) {
        case .applied: self = .applied
        case .refused: self = .refused
        case let .outcome(outcome): self = .call(outcome)
        case let .crashed(crash): self = .crashed(crash)
        }
    }

    public func encode(to encoder: Encoder) throws {
        let spelling: HarnessObservationSpelling<GmemCallOutcome>
        switch self {
        case .applied: spelling = .applied
        case .refused: spelling = .refused
        case let .call(outcome): spelling = .outcome(outcome)
        case let .crashed(crash): spelling = .crashed(crash)
        }
        try spelling.encode(to: encoder)
    }
}
