import Model

extension VsockOperationGenerator {
    /// For the shrinker's ``RewriteThenDelete``: the sequence with two of its CIDs exchanged
    /// wherever an address names them, for each pair of the specific CIDs it names (ANY stays:
    /// it is no host). The same addressing bug often shows through either CID of a pair, and
    /// one of them may need a step the other does not (CID 2 is bindable only with vhost loaded,
    /// CID 1 with loopback).
    public func rewrites(of operations: [VsockOperation]) -> [[VsockOperation]] {
        var named: [UInt32] = []
        for operation in operations {
            for cid in Self.cids(of: operation) where cid != VMAddr.cidAny && !named.contains(cid) { named.append(cid) }
        }
        var rewrites: [[VsockOperation]] = []
        for (position, first) in named.enumerated() {
            for second in named[(position + 1)...] {
                let swap = { (cid: UInt32) in cid == first ? second : cid == second ? first : cid }
                rewrites.append(operations.map { Self.mappingCIDs(of: $0, swap) })
            }
        }
        return rewrites
    }

    /// The CIDs an operation's addresses name.
    static func cids(of operation: VsockOperation) -> [UInt32] {
        switch operation {
        case let .bind(_, address), let .sendto(_, address, _), let .connect(_, .address(address)): return [address.cid]
        case let .bindLearned(_, cid, _, _), let .sendtoLearned(_, cid, _, _): return [cid]
        default: return []
        }
    }

    /// The operation with every CID its addresses name passed through `map`.
    static func mappingCIDs(of operation: VsockOperation, _ map: (UInt32) -> UInt32) -> VsockOperation {
        func mapped(_ address: SockAddrVM) -> SockAddrVM { SockAddrVM(cid: map(address.cid), port: address.port, flags: address.flags) }
        switch operation {
        case let .bind(socket, address): return .bind(socket, mapped(address))
        case let .sendto(socket, address, length): return .sendto(socket, mapped(address), length: length)
        case let .connect(socket, .address(address)): return .connect(socket, .address(mapped(address)))
        case let .bindLearned(socket, cid, learned, offset): return .bindLearned(socket, cid: map(cid), learned: learned, offset: offset)
        case let .sendtoLearned(socket, cid, learned, length): return .sendtoLearned(socket, cid: map(cid), learned: learned, length: length)
        default: return operation
        }
    }
}
