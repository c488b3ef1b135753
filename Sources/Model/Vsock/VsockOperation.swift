/// A handle to an open socket by position: "the n-th socket still open, in order of creation".
///
/// Deleting a step from a sequence never leaves a dangling handle: a position either resolves
/// to some open socket or the step is not applicable and is skipped on both sides.
public struct SocketRef: Hashable, Sendable, Codable, CustomStringConvertible {
    public var position: Int
    public init(_ position: Int) { self.position = position }
    public var description: String { "s\(position)" }
}

/// What a `connect()` passes: a vsock address, or `AF_UNSPEC` (disconnect).
public enum ConnectTarget: Hashable, Sendable, Codable, CustomStringConvertible {
    case address(SockAddrVM)
    /// A full-length `sockaddr_vm` with `svm_family = AF_UNSPEC`.
    case unspec

    public var description: String {
        switch self {
        case let .address(address): return address.description
        case .unspec: return "AF_UNSPEC"
        }
    }
}

/// One operation of a vsock test case. Socket operations are the syscalls of the same name;
/// module operations are `finit_module`/`delete_module` of the transport's module.
public enum VsockOperation: KindedOperation {
    case loadTransport(TransportModule)
    case unloadTransport(TransportModule)
    case socket(SocketType)
    case bind(SocketRef, SockAddrVM)
    /// `bind()` to a port the kernel chose earlier in this run, plus `offset`: the `learned`-th
    /// port a `getsockname()` revealed (``VsockState/learnedPorts``). Symbolic, so that a case
    /// replays on a kernel whose ephemeral ports start elsewhere.
    case bindLearned(SocketRef, cid: UInt32, learned: Int, offset: UInt32)
    case connect(SocketRef, ConnectTarget)
    case sendto(SocketRef, SockAddrVM, length: Int)
    /// `sendto()` to the `learned`-th port the kernel showed, at `cid`: to a socket whose port
    /// the kernel chose (an auto-bind's), which only `getsockname` or a received datagram's
    /// source reveals. Symbolic for the reason `bindLearned` is.
    case sendtoLearned(SocketRef, cid: UInt32, learned: Int, length: Int)
    case send(SocketRef, length: Int)
    case getsockname(SocketRef)
    case getpeername(SocketRef)
    /// `recvmsg(MSG_DONTWAIT)` into a buffer of `buffer` bytes, once datagrams in flight have had
    /// time to arrive; `source`: with `msg_name` (`recvfrom()`), else without (`recv()`).
    case recv(SocketRef, buffer: Int, source: Bool)
    case close(SocketRef)

    /// The operation's kind, as it appears in divergence signatures and swarm configurations.
    public var kind: VsockOperationKind {
        switch self {
        case .loadTransport: return .loadTransport
        case .unloadTransport: return .unloadTransport
        case .socket: return .socket
        case .bind: return .bind
        case .bindLearned: return .bindLearned
        case .connect: return .connect
        case .sendto: return .sendto
        case .sendtoLearned: return .sendtoLearned
        case .send: return .send
        case .getsockname: return .getsockname
        case .getpeername: return .getpeername
        case let .recv(_, _, source): return source ? .recvfrom : .recv
        case .close: return .close
        }
    }

    public var kindName: String { kind.rawValue }

    /// The operation with its learned ports put in: `bind-learned` becomes the `bind`,
    /// `sendto-learned` the `sendto` it names (port ANY for an index not learned yet), on the
    /// ports this run's kernel showed. The model, the simulated kernel and the live system each
    /// resolve with their own ``LearnedPorts``, built from the same results.
    public func resolving(_ learned: LearnedPorts) -> VsockOperation {
        switch self {
        case let .bindLearned(socket, cid, index, offset):
            return .bind(socket, SockAddrVM(cid: cid, port: learned.port(index, offset: offset) ?? VMAddr.portAny))
        case let .sendtoLearned(socket, cid, index, length):
            return .sendto(socket, SockAddrVM(cid: cid, port: learned.port(index, offset: 0) ?? VMAddr.portAny), length: length)
        default:
            return self
        }
    }

    /// The operation's kind and the result's class (`recv → datagram`, `sendto → ENODEV`): what a
    /// run's outcome counts are keyed by, live and in the bench.
    public func outcome(_ result: SyscallResult) -> String { kindName + " → " + result.outcomeClass }

    /// The index into ``LearnedPorts`` the operation names, if any.
    public var learnedIndex: Int? {
        switch self {
        case let .bindLearned(_, _, index, _), let .sendtoLearned(_, _, index, _): return index
        default: return nil
        }
    }

    /// The socket the operation acts on, if any.
    public var socket: SocketRef? {
        switch self {
        case .loadTransport, .unloadTransport, .socket: return nil
        case let .bind(socket, _), let .bindLearned(socket, _, _, _), let .connect(socket, _), let .sendto(socket, _, _),
             let .sendtoLearned(socket, _, _, _),
             let .send(socket, _), let .getsockname(socket), let .getpeername(socket), let .recv(socket, _, _),
             let .close(socket):
            return socket
        }
    }

    public var description: String {
        switch self {
        case let .loadTransport(module): return "load \(module)"
        case let .unloadTransport(module): return "unload \(module)"
        case let .socket(type): return "socket(AF_VSOCK, \(type))"
        case let .bind(socket, address): return "bind(\(socket), \(address))"
        case let .bindLearned(socket, cid, learned, offset):
            return "bind(\(socket), cid=\(VMAddr.cidName(cid)) port=learned#\(learned)\(offset == 0 ? "" : "+\(offset)"))"
        case let .connect(socket, target): return "connect(\(socket), \(target))"
        case let .sendto(socket, address, length): return "sendto(\(socket), len=\(length), \(address))"
        case let .sendtoLearned(socket, cid, learned, length):
            return "sendto(\(socket), len=\(length), cid=\(VMAddr.cidName(cid)) port=learned#\(learned))"
        case let .send(socket, length): return "send(\(socket), len=\(length))"
        case let .getsockname(socket): return "getsockname(\(socket))"
        case let .getpeername(socket): return "getpeername(\(socket))"
        case let .recv(socket, buffer, source): return "\(source ? "recvfrom" : "recv")(\(socket), len=\(buffer))"
        case let .close(socket): return "close(\(socket))"
        }
    }
}

/// The kinds of vsock operations.
public enum VsockOperationKind: String, CaseIterable, Hashable, Sendable, Codable {
    case loadTransport = "load"
    case unloadTransport = "unload"
    case socket, bind
    case bindLearned = "bind-learned"
    case connect, sendto
    case sendtoLearned = "sendto-learned"
    case send, getsockname, getpeername, recv, recvfrom, close
}
