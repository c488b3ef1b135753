import SystemPackage

/// What the system under test showed for one SNP operation.
public enum SNPObservation: Hashable, Sendable, CustomStringConvertible {
    /// A setup operation was applied.
    case applied
    /// A setup operation could not be applied (the system's world differs from the model's).
    case refused
    /// `sev_update_mem_attr` returned.
    case update(SNPUpdateOutcome)
    /// The patch's code crashed, aborted, exited or hung in the harness's sandbox.
    case crashed(HarnessCrash)

    public var description: String {
        switch self {
        case .applied: return "applied"
        case .refused: return "refused"
        case let .update(outcome): return outcome.description
        case let .crashed(crash): return crash.description
        }
    }
}

extension SNPObservation: CrashObservable {
    public var crash: HarnessCrash? { if case let .crashed(crash) = self { return crash } else { return nil } }
}

/// A memory attribute update as the harness saw it.
public struct SNPUpdateOutcome: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The hook's return value (which v8's caller discards).
    public var result: Int32
    /// The whole RMP afterwards.
    public var rmp: RMPTable
    /// Page references taken by `kvm_restrictedmem_get_pfn` and not dropped by `put_page`.
    public var leakedReferences: Int
    /// The RMP-level calls the code made, in order, with their results: the probe evidence.
    public var calls: [String]

    public init(result: Int32, rmp: RMPTable, leakedReferences: Int = 0, calls: [String] = []) {
        self.result = result
        self.rmp = rmp
        self.leakedReferences = leakedReferences
        self.calls = calls
    }

    public var description: String {
        "returned \(Self.name(result))" + (leakedReferences == 0 ? "" : ", \(leakedReferences) page reference(s) leaked")
            + " after \(calls.count) RMP call(s)"
    }

    /// `0`, `-EINVAL`, `-EPERM`…
    public static func name(_ result: Int32) -> String {
        result >= 0 ? "\(result)" : "-" + Errno(rawValue: -result).symbol
    }
}

/// Case files spell observations as every harness does (``HarnessObservationSpelling``).
extension SNPObservation: Codable {
    public init(from decoder: Decoder) throws {
        switch try HarnessObservationSpelling<SNPUpdateOutcome>(from: decoder) {
        case .applied: self = .applied
        case .refused: self = .refused
        case let .outcome(outcome): self = .update(outcome)
        case let .crashed(crash): self = .crashed(crash)
        }
    }

    public func encode(to encoder: Encoder) throws {
        let spelling: HarnessObservationSpelling<SNPUpdateOutcome>
        switch self {
        case .applied: spelling = .applied
        case .refused: spelling = .refused
        case let .update(outcome): spelling = .outcome(outcome)
        case let .crashed(crash): spelling = .crashed(crash)
        }
        try spelling.encode(to: encoder)
    }
}
