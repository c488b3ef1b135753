/// The socket types AF_VSOCK accepts in `vsock_create()`.
public enum SocketType: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    case dgram = "SOCK_DGRAM"
    case stream = "SOCK_STREAM"
    case seqpacket = "SOCK_SEQPACKET"

    public var description: String { rawValue }

    /// `sock_type_connectible()`: STREAM and SEQPACKET.
    public var isConnectible: Bool { self != .dgram }

    /// The `socket(2)` type value (`SOCK_DGRAM` 2, `SOCK_STREAM` 1, `SOCK_SEQPACKET` 5).
    public var cValue: Int32 {
        switch self {
        case .dgram: return 2
        case .stream: return 1
        case .seqpacket: return 5
        }
    }

    /// The type's index in `allCases`, for fixed tables.
    var ordinal: Int {
        switch self {
        case .dgram: return 0
        case .stream: return 1
        case .seqpacket: return 2
        }
    }

    /// Looks a type up by C name or by `dgram`/`stream`/`seqpacket`.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: {
            $0.rawValue == name || $0.rawValue.lowercased() == "sock_" + name.lowercased()
        }) else { return nil }
        self = match
    }
}
