/// How case files spell a harness observation, for every harness (snp-v8, snp-gmem): `"applied"`
/// and `"refused"` for setup operations, `{"crashed": {...}}` for a crash, and the call's own
/// outcome object otherwise. Each observation type maps its cases to and from this one spelling.
public enum HarnessObservationSpelling<Outcome: Codable>: Codable {
    case applied
    case refused
    case outcome(Outcome)
    case crashed(HarnessCrash)

    private struct Crashed: Codable {
        var crashed: HarnessCrash
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let word = try? container.decode(String.self) {
            switch word {
            case "applied": self = .applied
            case "refused": self = .refused
            default:
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "\"\(word)\" is not an observation (applied, refused, crashed or a call's outcome object)")
            }
        } else if let crashed = try? container.decode(Crashed.self) {
            self = .crashed(crashed.crashed)
        } else {
            self = .outcome(try container.decode(Outcome.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .applied: try container.encode("applied")
        case .refused: try container.encode("refused")
        case let .outcome(outcome): try container.encode(outcome)
        case let .crashed(crash): try container.encode(Crashed(crashed: crash))
        }
    }
}
