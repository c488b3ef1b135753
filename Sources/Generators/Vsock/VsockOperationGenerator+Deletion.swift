import Model

extension VsockOperationGenerator {
    /// Deleting steps shifts the positions of sockets opened after them. Besides the plain
    /// deletion, this offers the deletion with every later handle re-pointed at the socket it
    /// named before (sockets identified by the step that opened them; `socket()` is assumed to
    /// succeed, which at worst yields a candidate that does not reproduce).
    ///
    /// Deleting one `socket()` step also offers the merge of that socket into another of its type
    /// (the nearest one opened after it, else before): its steps then name the other socket, so
    /// that a sender and a receiver, say, can become one socket that sends to itself.
    public func deleting(_ range: Range<Int>, from operations: [VsockOperation]) -> [[VsockOperation]] {
        var plain = operations
        plain.removeSubrange(range)
        let kept = operations.indices.filter { !range.contains($0) }
        let identities = Self.socketIdentities(operations)
        var candidates = [plain]
        let reindexed = Self.reindexed(kept, of: operations, identities: identities)
        if reindexed != plain { candidates.append(reindexed) }
        if range.count == 1, let named = Self.namingLearnedPort(deleting: range.lowerBound, from: operations),
           !candidates.contains(named) {
            candidates.append(named)
        }
        if range.count == 1, case let .socket(type) = operations[range.lowerBound] {
            let deleted = range.lowerBound
            let sameType = operations.indices.filter { $0 != deleted && operations[$0] == .socket(type) }
            if let into = sameType.first(where: { $0 > deleted }) ?? sameType.last {
                let merged = Self.reindexed(kept, of: operations,
                                            identities: identities.mapValues { $0 == deleted ? into : $0 })
                if !candidates.contains(merged) { candidates.append(merged) }
            }
        }
        return candidates
    }

    /// The port a named bind takes where a learned port was (the first of the drawn ports).
    static let namedPort: UInt32 = 1024

    /// Deleting the step that auto-bound a datagram socket (a send or connect on an unbound
    /// socket), with the port it learned named instead: the socket's next `getsockname()` becomes
    /// a bind to (ANY, 1024) — where the auto-bind put it, at a port the sequence names — and the
    /// `sendto-learned`/`bind-learned` steps that named the learned port name 1024. Without this
    /// a case through a kernel-chosen port stays one step longer than the same case through a
    /// named one (mutant 14's live case: 6 operations for an argued 5). The learned port's index
    /// is taken as the number of learning steps before the `getsockname()`; where that is not
    /// how the run learned, the candidate does not reproduce and costs one execution.
    static func namingLearnedPort(deleting index: Int, from operations: [VsockOperation]) -> [VsockOperation]? {
        let autoBinding = operations[index]
        switch autoBinding {
        case .sendto, .sendtoLearned, .send, .connect: break
        default: return nil
        }
        guard let socket = autoBinding.socket,
              !operations[..<index].contains(where: { $0.socket == socket && $0.binds }),
              let learning = operations.indices.first(where: { $0 > index && operations[$0] == .getsockname(socket) }),
              !operations[index..<learning].contains(where: { $0.socket == socket && ($0.binds || $0.closes) }) else { return nil }
        let learnedIndex = operations[..<learning].filter(\.learnsPort).count
        var result: [VsockOperation] = []
        for (position, operation) in operations.enumerated() where position != index {
            if position == learning {
                result.append(.bind(socket, SockAddrVM(cid: VMAddr.cidAny, port: namedPort)))
                continue
            }
            switch operation {
            case let .sendtoLearned(ref, cid, learned, length) where learned == learnedIndex:
                result.append(.sendto(ref, SockAddrVM(cid: cid, port: namedPort), length: length))
            case let .sendtoLearned(ref, cid, learned, length) where learned > learnedIndex:
                result.append(.sendtoLearned(ref, cid: cid, learned: learned - 1, length: length))
            case let .bindLearned(ref, cid, learned, offset) where learned == learnedIndex:
                result.append(.bind(ref, SockAddrVM(cid: cid, port: namedPort &+ offset)))
            case let .bindLearned(ref, cid, learned, offset) where learned > learnedIndex:
                result.append(.bindLearned(ref, cid: cid, learned: learned - 1, offset: offset))
            default:
                result.append(operation)
            }
        }
        return result
    }

    /// The `kept` steps with every handle re-pointed at the socket `identities` names (the
    /// index of its `socket()` step); a step whose socket is not open there is left out.
    static func reindexed(_ kept: [Int], of operations: [VsockOperation], identities: [Int: Int]) -> [VsockOperation] {
        var open: [Int] = []
        var result: [VsockOperation] = []
        for index in kept {
            var operation = operations[index]
            if case .socket = operation { open.append(index) }
            if let identity = identities[index] {
                guard let position = open.firstIndex(of: identity) else { continue }  // its socket is gone
                operation = operation.with(socket: SocketRef(position))
                if case .close = operation { open.remove(at: position) }
            }
            result.append(operation)
        }
        return result
    }

    /// For each step that names a socket, the index of the `socket()` step that opened it.
    static func socketIdentities(_ operations: [VsockOperation]) -> [Int: Int] {
        var open: [Int] = []
        var identities: [Int: Int] = [:]
        for (index, operation) in operations.enumerated() {
            if case .socket = operation { open.append(index) }
            guard let ref = operation.socket, open.indices.contains(ref.position) else { continue }
            identities[index] = open[ref.position]
            if case .close = operation { open.remove(at: ref.position) }
        }
        return identities
    }
}

extension VsockOperation {
    /// Gives its socket an address explicitly.
    var binds: Bool {
        switch self {
        case .bind, .bindLearned: return true
        default: return false
        }
    }

    var closes: Bool { if case .close = self { return true } else { return false } }

    /// The same operation on another socket.
    func with(socket ref: SocketRef) -> VsockOperation {
        switch self {
        case .loadTransport, .unloadTransport, .socket: return self
        case let .bind(_, address): return .bind(ref, address)
        case let .bindLearned(_, cid, learned, offset): return .bindLearned(ref, cid: cid, learned: learned, offset: offset)
        case let .connect(_, target): return .connect(ref, target)
        case let .sendto(_, address, length): return .sendto(ref, address, length: length)
        case let .sendtoLearned(_, cid, learned, length): return .sendtoLearned(ref, cid: cid, learned: learned, length: length)
        case let .send(_, length): return .send(ref, length: length)
        case .getsockname: return .getsockname(ref)
        case .getpeername: return .getpeername(ref)
        case let .recv(_, buffer, source): return .recv(ref, buffer: buffer, source: source)
        case .close: return .close(ref)
        }
    }
}
