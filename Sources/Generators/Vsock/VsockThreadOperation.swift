import Foundation
import Model

/// Which socket an operation of a parallel thread means. A position (``SocketRef``) cannot say:
/// which sockets exist at a moment of a parallel run depends on how the threads interleaved.
public enum ThreadSocket: Hashable, Sendable, CustomStringConvertible {
    /// The n-th socket open when the sequential prefix ended (threads never close these, so the
    /// numbering holds for the whole run).
    case prefix(Int)
    /// The n-th `socket()` this thread called (counting the ones that failed).
    case own(Int)

    public var description: String {
        switch self {
        case let .prefix(index): return "p\(index)"
        case let .own(index): return "o\(index)"
        }
    }
}

extension ThreadSocket: Codable {
    /// Written as it is printed: `"p2"`, `"o0"`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let kind = text.first, let index = Int(text.dropFirst()), index >= 0, kind == "p" || kind == "o" else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription:
                "socket \"\(text)\" is neither p<N> (the prefix's N-th) nor o<N> (the thread's own N-th)")
        }
        self = kind == "p" ? .prefix(index) : .own(index)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// One operation of a parallel thread: a vsock operation whose socket is named by
/// ``ThreadSocket``; its own ``SocketRef`` is a placeholder, replaced when the socket is resolved.
public struct VsockThreadOperation: Hashable, Sendable, Codable, CustomStringConvertible {
    public var operation: VsockOperation
    public var socket: ThreadSocket?

    public init(_ operation: VsockOperation, socket: ThreadSocket?) {
        self.operation = operation.withSocket(SocketRef(0))
        self.socket = operation.socket == nil ? nil : socket
    }

    /// The operation on the socket at `position`.
    public func resolved(at position: Int) -> VsockOperation { operation.withSocket(SocketRef(position)) }

    public var kindName: String { operation.kindName }

    public var description: String {
        guard let socket else { return operation.description }
        // "sendto(s0, …)" with the placeholder's name replaced by the thread's name for it.
        return operation.description.replacingFirst("(s0", with: "(\(socket)")
    }
}

extension VsockOperation {
    /// The same operation on `socket` (unchanged when it names none).
    public func withSocket(_ socket: SocketRef) -> VsockOperation {
        switch self {
        case .loadTransport, .unloadTransport, .socket: return self
        case let .bind(_, address): return .bind(socket, address)
        case let .bindLearned(_, cid, learned, offset): return .bindLearned(socket, cid: cid, learned: learned, offset: offset)
        case let .connect(_, target): return .connect(socket, target)
        case let .sendto(_, address, length): return .sendto(socket, address, length: length)
        case let .sendtoLearned(_, cid, learned, length): return .sendtoLearned(socket, cid: cid, learned: learned, length: length)
        case let .send(_, length): return .send(socket, length: length)
        case .getsockname: return .getsockname(socket)
        case .getpeername: return .getpeername(socket)
        case let .recv(_, buffer, source): return .recv(socket, buffer: buffer, source: source)
        case .close: return .close(socket)
        }
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
