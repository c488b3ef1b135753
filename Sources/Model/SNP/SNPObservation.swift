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

/// Case files spell observations `"applied"`, `"refused"`, the update's outcome object, or
/// `{"crashed": {...}}`.
extension SNPObservation: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let word = try? container.decode(String.self) {
            switch word {
            case "applied": self = .applied
            case "refused": self = .refused
            default: throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(word)\" is not an observation (applied, refused or an update object)")
            }
        } else if let crashed = try? container.decode(CrashedObservation.self) {
            self = .crashed(crashed.crashed)
        } else {
            self = .update(try container.decode(SNPUpdateOutcome.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .applied: try container.encode("applied")
        case .refused: try container.encode("refused")
        case let .update(outcome): try container.encode(outcome)
        case let .crashed(crash): try container.encode(CrashedObservation(crashed: crash))
        }
    }
}

/// `{"crashed": {...}}`: how case files spell a crash observation.
public struct CrashedObservation: Codable, Sendable {
    public var crashed: HarnessCrash
    public init(crashed: HarnessCrash) { self.crashed = crashed }
}
