/// Case files hold one operation per line in a flat, readable form:
/// `{"op":"sendto","socket":0,"cid":2,"port":1234,"flags":0,"length":1}`.
extension VsockOperation {
    private enum CodingKeys: String, CodingKey {
        case op, module, type, socket, cid, port, flags, length, family, learned, offset, buffer
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .op)
        guard let kind = VsockOperationKind(rawValue: name) else {
            throw DecodingError.dataCorruptedError(forKey: .op, in: container, debugDescription:
                "unknown operation \"\(name)\" (expected one of \(VsockOperationKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        func module() throws -> TransportModule {
            let text = try container.decode(String.self, forKey: .module)
            guard let module = TransportModule(name: text) else {
                throw DecodingError.dataCorruptedError(forKey: .module, in: container,
                                                       debugDescription: "unknown transport module \"\(text)\"")
            }
            return module
        }
        func socket() throws -> SocketRef { SocketRef(try container.decode(Int.self, forKey: .socket)) }
        func address() throws -> SockAddrVM {
            SockAddrVM(cid: try container.decode(UInt32.self, forKey: .cid),
                       port: try container.decode(UInt32.self, forKey: .port),
                       flags: try container.decodeIfPresent(UInt8.self, forKey: .flags) ?? 0)
        }
        switch kind {
        case .loadTransport: self = .loadTransport(try module())
        case .unloadTransport: self = .unloadTransport(try module())
        case .socket:
            let text = try container.decode(String.self, forKey: .type)
            guard let type = SocketType(name: text) else {
                throw DecodingError.dataCorruptedError(forKey: .type, in: container,
                                                       debugDescription: "unknown socket type \"\(text)\"")
            }
            self = .socket(type)
        case .bind: self = .bind(try socket(), try address())
        case .bindLearned:
            self = .bindLearned(try socket(), cid: try container.decode(UInt32.self, forKey: .cid),
                                learned: try container.decode(Int.self, forKey: .learned),
                                offset: try container.decodeIfPresent(UInt32.self, forKey: .offset) ?? 0)
        case .connect:
            if try container.decodeIfPresent(String.self, forKey: .family) == "AF_UNSPEC" {
                self = .connect(try socket(), .unspec)
            } else {
                self = .connect(try socket(), .address(try address()))
            }
        case .sendto: self = .sendto(try socket(), try address(), length: try container.decode(Int.self, forKey: .length))
        case .sendtoLearned:
            self = .sendtoLearned(try socket(), cid: try container.decode(UInt32.self, forKey: .cid),
                                  learned: try container.decode(Int.self, forKey: .learned),
                                  length: try container.decode(Int.self, forKey: .length))
        case .send: self = .send(try socket(), length: try container.decode(Int.self, forKey: .length))
        case .getsockname: self = .getsockname(try socket())
        case .getpeername: self = .getpeername(try socket())
        case .recv, .recvfrom:
            self = .recv(try socket(), buffer: try container.decode(Int.self, forKey: .buffer), source: kind == .recvfrom)
        case .close: self = .close(try socket())
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind.rawValue, forKey: .op)
        func encode(_ address: SockAddrVM) throws {
            try container.encode(address.cid, forKey: .cid)
            try container.encode(address.port, forKey: .port)
            try container.encode(address.flags, forKey: .flags)
        }
        if let socket { try container.encode(socket.position, forKey: .socket) }
        switch self {
        case let .loadTransport(module), let .unloadTransport(module):
            try container.encode(module.shortName, forKey: .module)
        case let .socket(type): try container.encode(type.rawValue, forKey: .type)
        case let .bind(_, address): try encode(address)
        case let .bindLearned(_, cid, learned, offset):
            try container.encode(cid, forKey: .cid)
            try container.encode(learned, forKey: .learned)
            try container.encode(offset, forKey: .offset)
        case let .connect(_, .address(address)): try encode(address)
        case .connect(_, .unspec): try container.encode("AF_UNSPEC", forKey: .family)
        case let .sendto(_, address, length):
            try encode(address)
            try container.encode(length, forKey: .length)
        case let .sendtoLearned(_, cid, learned, length):
            try container.encode(cid, forKey: .cid)
            try container.encode(learned, forKey: .learned)
            try container.encode(length, forKey: .length)
        case let .send(_, length): try container.encode(length, forKey: .length)
        case let .recv(_, buffer, _): try container.encode(buffer, forKey: .buffer)
        case .getsockname, .getpeername, .close: break
        }
    }
}
