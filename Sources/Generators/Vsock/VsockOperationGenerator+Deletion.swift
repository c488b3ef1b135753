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
