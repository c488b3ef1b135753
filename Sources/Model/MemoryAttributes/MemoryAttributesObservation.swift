import SystemPackage

/// What one ioctl returned: a non-negative value (0, a capability's answer, a VM fd) or -1 with
/// an errno. On 6.12 this is all there is to observe: there is no `KVM_GET_MEMORY_ATTRIBUTES`,
/// so the attributes the model tracks per gfn are never read back, only their consequences (a
/// no-op and a store both return 0; only probes could tell them apart).
public enum MemoryAttributesObservation: Hashable, Sendable, CustomStringConvertible {
    case returned(UInt64)
    case failed(Errno)

    public static let success = MemoryAttributesObservation.returned(0)

    /// The observation an ioctl's C return and errno make.
    public init(ioctlReturn: Int64, errno: Int32) {
        self = ioctlReturn < 0 ? .failed(Errno(rawValue: errno)) : .returned(UInt64(ioctlReturn))
    }

    public var description: String {
        switch self {
        case let .returned(value): return "\(value)"
        case let .failed(errno): return "-1 \(errno.symbol)"
        }
    }
}

extension MemoryAttributesObservation: Codable {
    private enum CodingKeys: String, CodingKey { case value, errno }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let symbol = try container.decodeIfPresent(String.self, forKey: .errno) {
            guard let errno = Errno(symbol: symbol) ?? Int32(symbol).map(Errno.init(rawValue:)) else {
                throw DecodingError.dataCorruptedError(forKey: .errno, in: container,
                                                       debugDescription: "unknown errno \"\(symbol)\"")
            }
            self = .failed(errno)
        } else {
            self = .returned(try container.decode(UInt64.self, forKey: .value))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case let .returned(value): try container.encode(value, forKey: .value)
        case let .failed(errno):
            try container.encode(Errno.symbols[errno.rawValue] ?? "\(errno.rawValue)", forKey: .errno)
        }
    }
}
