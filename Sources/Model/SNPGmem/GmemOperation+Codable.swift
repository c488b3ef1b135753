/// Case files spell guest_memfd operations flat and readable:
///
///     {"op":"setup","snpGuest":true,"asid":1,"baseGFN":0,"pages":2048,"gmemOffset":0,"canBePrivate":true}
///     {"op":"allocate","index":1024,"order":9}
///     {"op":"preset","gfn":1261,"preset":"foreign-guest","asid":7}
///     {"op":"prepare","gfn":1100}
///     {"op":"invalidate","index":1024,"pages":512}
///     {"op":"max-level","gfn":1100}
///
/// Setup, allocate and preset are spelled as ``SNPOperation`` spells them (its decoder reads them).
extension GmemOperation: Codable {
    private enum CodingKeys: String, CodingKey {
        case op, gfn, index, pages
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .op)
        switch GmemOperationKind(rawValue: kind) {
        case .setup?, .allocate?, .preset?:
            switch try SNPOperation(from: decoder) {
            case let .setup(slot): self = .setup(slot)
            case let .allocate(index, order): self = .allocate(index: index, order: order)
            case let .preset(gfn, preset): self = .preset(gfn: gfn, preset)
            case .convert:
                throw DecodingError.dataCorruptedError(forKey: .op, in: container, debugDescription: "not a setup operation")
            }
        case .prepare?: self = .prepare(gfn: try container.decode(UInt64.self, forKey: .gfn))
        case .invalidate?:
            self = .invalidate(index: try container.decode(UInt64.self, forKey: .index),
                               pages: try container.decode(UInt64.self, forKey: .pages))
        case .maxLevel?: self = .maxLevel(gfn: try container.decode(UInt64.self, forKey: .gfn))
        case nil:
            throw DecodingError.dataCorruptedError(forKey: .op, in: container, debugDescription:
                "unknown operation \"\(kind)\" (" + GmemOperationKind.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case let .setup(slot): try SNPOperation.setup(slot).encode(to: encoder)
        case let .allocate(index, order): try SNPOperation.allocate(index: index, order: order).encode(to: encoder)
        case let .preset(gfn, preset): try SNPOperation.preset(gfn: gfn, preset).encode(to: encoder)
        case let .prepare(gfn):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind.rawValue, forKey: .op)
            try container.encode(gfn, forKey: .gfn)
        case let .invalidate(index, pages):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind.rawValue, forKey: .op)
            try container.encode(index, forKey: .index)
            try container.encode(pages, forKey: .pages)
        case let .maxLevel(gfn):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind.rawValue, forKey: .op)
            try container.encode(gfn, forKey: .gfn)
        }
    }
}
