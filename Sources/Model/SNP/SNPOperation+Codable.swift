/// Case files spell SNP operations flat and readable:
///
///     {"op":"setup","snpGuest":true,"asid":1,"baseGFN":0,"pages":2048,"gmemOffset":256,"canBePrivate":true}
///     {"op":"allocate","index":1024,"order":9}
///     {"op":"preset","gfn":1261,"preset":"foreign-guest","asid":7}
///     {"op":"convert","start":98,"end":1962,"to":"private"}
extension SNPOperation: Codable {
    private enum CodingKeys: String, CodingKey {
        case op, snpGuest, asid, baseGFN, pages, gmemOffset, canBePrivate, index, order, gfn, preset, start, end, to
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .op)
        switch SNPOperationKind(rawValue: kind) {
        case .setup?:
            self = .setup(SNPMemslot(
                snpGuest: try container.decode(Bool.self, forKey: .snpGuest), asid: try container.decode(UInt32.self, forKey: .asid),
                baseGFN: try container.decode(UInt64.self, forKey: .baseGFN), pages: try container.decode(UInt64.self, forKey: .pages),
                gmemOffset: try container.decode(UInt64.self, forKey: .gmemOffset),
                canBePrivate: try container.decode(Bool.self, forKey: .canBePrivate)))
        case .allocate?:
            self = .allocate(index: try container.decode(UInt64.self, forKey: .index), order: try container.decode(Int.self, forKey: .order))
        case .preset?:
            let gfn = try container.decode(UInt64.self, forKey: .gfn)
            switch try container.decode(String.self, forKey: .preset) {
            case "foreign-guest": self = .preset(gfn: gfn, .foreignGuest(asid: try container.decode(UInt32.self, forKey: .asid)))
            case "firmware-immutable": self = .preset(gfn: gfn, .firmwareImmutable)
            case "huge-private": self = .preset(gfn: gfn, .hugePrivate)
            case let other:
                throw DecodingError.dataCorruptedError(forKey: .preset, in: container,
                    debugDescription: "unknown preset \"\(other)\" (foreign-guest, firmware-immutable, huge-private)")
            }
        case .convert?:
            let to = try container.decode(String.self, forKey: .to)
            guard to == "private" || to == "shared" else {
                throw DecodingError.dataCorruptedError(forKey: .to, in: container, debugDescription: "\"to\" is private or shared, not \"\(to)\"")
            }
            self = .convert(start: try container.decode(UInt64.self, forKey: .start), end: try container.decode(UInt64.self, forKey: .end),
                            toPrivate: to == "private")
        case nil:
            throw DecodingError.dataCorruptedError(forKey: .op, in: container, debugDescription:
                "unknown operation \"\(kind)\" (" + SNPOperationKind.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind.rawValue, forKey: .op)
        switch self {
        case let .setup(slot):
            try container.encode(slot.snpGuest, forKey: .snpGuest)
            try container.encode(slot.asid, forKey: .asid)
            try container.encode(slot.baseGFN, forKey: .baseGFN)
            try container.encode(slot.pages, forKey: .pages)
            try container.encode(slot.gmemOffset, forKey: .gmemOffset)
            try container.encode(slot.canBePrivate, forKey: .canBePrivate)
        case let .allocate(index, order):
            try container.encode(index, forKey: .index)
            try container.encode(order, forKey: .order)
        case let .preset(gfn, preset):
            try container.encode(gfn, forKey: .gfn)
            switch preset {
            case let .foreignGuest(asid):
                try container.encode("foreign-guest", forKey: .preset)
                try container.encode(asid, forKey: .asid)
            case .firmwareImmutable: try container.encode("firmware-immutable", forKey: .preset)
            case .hugePrivate: try container.encode("huge-private", forKey: .preset)
            }
        case let .convert(start, end, toPrivate):
            try container.encode(start, forKey: .start)
            try container.encode(end, forKey: .end)
            try container.encode(toPrivate ? "private" : "shared", forKey: .to)
        }
    }
}
