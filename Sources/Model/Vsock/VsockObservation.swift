import SystemPackage

/// What a syscall returned.
public enum SyscallResult: Hashable, Sendable, Codable, CustomStringConvertible {
    /// A non-negative return: 0, a byte count or a file descriptor.
    case value(Int)
    /// `-1` with this `errno`.
    case failure(Errno)
    /// `getsockname()` succeeded with this address.
    case address(SockAddrVM)
    /// `recv()`/`recvfrom()` returned a datagram.
    case received(ReceivedDatagram)

    /// The syscall result a kernel function's return value becomes (negative → errno).
    public init(kernelReturn: Int) {
        self = kernelReturn < 0 ? .failure(Errno(rawValue: CInt(-kernelReturn))) : .value(kernelReturn)
    }

    public var isSuccess: Bool { if case .failure = self { return false } else { return true } }

    /// The result's class, for counting what a run exercised: `ok`, the errno's name, `address`,
    /// `datagram` or `datagram MSG_TRUNC`.
    public var outcomeClass: String {
        switch self {
        case .value: return "ok"
        case let .failure(errno): return errno.symbol
        case .address: return "address"
        case let .received(datagram): return datagram.truncated ? "datagram MSG_TRUNC" : "datagram"
        }
    }

    public var description: String {
        switch self {
        case let .value(value): return "\(value)"
        case let .failure(errno): return "-1 \(errno.symbol)"
        case let .address(address): return "{\(address)}"
        case let .received(datagram): return datagram.description
        }
    }
}

extension SyscallResult {
    private enum CodingKeys: String, CodingKey { case value, errno, address, received }

    /// Case files spell errors by name: `{"errno":"ENODEV"}`, `{"value":0}`, `{"address":{…}}`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let value = try container.decodeIfPresent(Int.self, forKey: .value) {
            self = .value(value)
        } else if let symbol = try container.decodeIfPresent(String.self, forKey: .errno) {
            guard let errno = Errno(symbol: symbol) else {
                throw DecodingError.dataCorruptedError(forKey: .errno, in: container,
                                                       debugDescription: "unknown errno name \(symbol)")
            }
            self = .failure(errno)
        } else if let datagram = try container.decodeIfPresent(ReceivedDatagram.self, forKey: .received) {
            self = .received(datagram)
        } else {
            self = .address(try container.decode(SockAddrVM.self, forKey: .address))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case let .value(value): try container.encode(value, forKey: .value)
        case let .failure(errno): try container.encode(errno.symbol, forKey: .errno)
        case let .address(address): try container.encode(address, forKey: .address)
        case let .received(datagram): try container.encode(datagram, forKey: .received)
        }
    }
}

/// One transport callback that ran during an operation, with what it returned.
public struct TransportCall: Hashable, Sendable, Codable, CustomStringConvertible {
    public var transport: TransportModule
    public var hook: TransportHook
    /// The callback's return: 1/0 for predicates (`dgram_allow`), else bytes/0 or a negative errno.
    public var returned: Int

    public init(_ transport: TransportModule, _ hook: TransportHook, returned: Int) {
        self.transport = transport
        self.hook = hook
        self.returned = returned
    }

    public var description: String {
        if hook.isPredicate { return "\(transport.shortName).\(hook.rawValue)→\(returned != 0)" }
        return "\(transport.shortName).\(hook.rawValue)→\(SyscallResult(kernelReturn: returned))"
    }
}

/// What the system under test showed for one operation: the syscall's result, the transport
/// callbacks that ran (in order), the transports that put a packet on their wire, and module
/// reference counts afterwards.
public struct VsockObservation: Hashable, Sendable, Codable, CustomStringConvertible {
    public var result: SyscallResult
    public var calls: [TransportCall]
    /// `/sys/module/<transport>/refcnt` of every loaded transport module, after the operation.
    public var refcounts: ModuleRefcounts
    /// The virtio family's transports whose `send_pkt` ran in the calling thread, in order: where
    /// a datagram really left. nil where it was not observed (a recorded case from before, the
    /// simulated kernel, or a loaded transport whose `send_pkt` is not probed): never read as
    /// "nothing was sent".
    public var transmissions: [TransportModule]?

    public init(result: SyscallResult, calls: [TransportCall] = [], refcounts: ModuleRefcounts = [:],
                transmissions: [TransportModule]? = nil) {
        self.result = result
        self.calls = calls
        self.refcounts = refcounts
        self.transmissions = transmissions
    }

    public var description: String {
        var text = "\(result)"
        if !calls.isEmpty { text += " via " + calls.map(\.description).joined(separator: ", ") }
        if let transmissions, !transmissions.isEmpty {
            text += " sent by " + transmissions.map(\.shortName).joined(separator: ", ")
        }
        if !refcounts.isEmpty { text += " refcnt\(refcounts)" }
        return text
    }
}
