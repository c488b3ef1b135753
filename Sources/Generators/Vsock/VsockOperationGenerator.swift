import Model

/// Draws vsock operations that make sense in the model's state, and simplifies them.
///
/// Arguments come from small pools that make collisions and special cases likely: CIDs 1, 2, 3,
/// ANY, 0 and an arbitrary guest CID; a handful of ports; `VMADDR_FLAG_TO_HOST` and an invalid
/// flag; lengths around the 64 KiB datagram limit.
public struct VsockOperationGenerator: OperationGenerator {
    public typealias Model = VsockModel

    /// The transport modules runs may load: those that load in the test VM (hv_sock needs Hyper-V).
    public var modules: [TransportModule]

    public init(modules: [TransportModule] = [.loopback, .virtio, .vhost, .vmci]) {
        self.modules = modules
    }

    public var kinds: [String] { VsockOperationKind.allCases.map(\.rawValue) + [Self.guestToHost] }
    /// A swarm switch drawn with the kinds (kept in ⅞ of runs): a run without it never loads the
    /// G2H transport (virtio). Only without G2H does loopback serve CID 2 (M 404-419) and do
    /// lookups of CIDs ≤ 2 find no G2H: configurations where most runs had virtio loaded.
    /// One module only: a swarm over every module cost more than it gained (docs, "Rejected").
    static let guestToHost = "with-g2h-transport"
    public var essentialKinds: Set<String> { [VsockOperationKind.loadTransport.rawValue, VsockOperationKind.socket.rawValue] }
    /// Kept in ⅞ of the swarm's runs (others ½): most operations need a bound socket to be
    /// interesting (a datagram has a receiver, a port a holder), and the data path needs a bind,
    /// a send and a receive in the same run: at ¾ each, 47% of runs had all three, at ⅞ 70%
    /// (docs/vsock-dgram-v5.md, generator d7: 38.3% → 41.9% of 32,000 simulated mutant runs diverge).
    public var frequentKinds: Set<String> {
        [VsockOperationKind.bind.rawValue, VsockOperationKind.sendto.rawValue, VsockOperationKind.recv.rawValue, Self.guestToHost]
    }
    public var frequentKindOdds: (kept: UInt64, outOf: UInt64) { (7, 8) }

    /// Canonical CIDs, simplest first; others simplify toward these. ANY comes first: a bind to
    /// it needs no transport that owns a CID, so a shrink can drop the load that made CID 1 valid.
    static let canonicalCIDs: [UInt32] = [VMAddr.cidAny, VMAddr.cidLocal, VMAddr.cidHost, 3, VMAddr.cidHypervisor]
    static let drawnCIDs: [(weight: UInt64, value: UInt32)] =
        [(4, VMAddr.cidLocal), (4, VMAddr.cidHost), (3, 3), (2, VMAddr.cidAny), (1, VMAddr.cidHypervisor), (1, 100)]
    /// A bind mostly to an address a socket of this VM can hold (ANY, or CID 1 with loopback
    /// loaded): a bound socket is what receives, and any other CID is one rule (EADDRNOTAVAIL).
    static let drawnBindCIDs: [(weight: UInt64, value: UInt32)] =
        [(4, VMAddr.cidAny), (4, VMAddr.cidLocal), (2, VMAddr.cidHost), (2, 3), (1, VMAddr.cidHypervisor), (1, 100)]
    static let drawnPorts: [(weight: UInt64, value: UInt32)] =
        [(4, 1024), (3, 1025), (3, 1234), (3, VMAddr.portAny), (1, 1), (1, 0), (1, 50_000)]
    static let drawnFlags: [(weight: UInt64, value: UInt8)] = [(12, 0), (5, VMAddr.flagToHost), (1, 0x02)]
    static let drawnTypes: [(weight: UInt64, value: SocketType)] = [(3, .dgram), (1, .stream), (1, .seqpacket)]
    /// A learned port itself (a collision) or the next ones (where the allocator goes next).
    static let drawnOffsets: [(weight: UInt64, value: UInt32)] = [(2, 0), (3, 1), (1, 2)]
    /// Mostly long enough to carry the whole tag (``DatagramPayload``), some empty, some at the limit.
    static let drawnLengths: [(weight: UInt64, value: Int)] =
        [(1, 0), (3, 1), (5, 8), (3, 16), (2, 4096), (1, 65_536), (1, 65_537)]
    /// Receive buffers, small (truncation) and large.
    static let drawnBuffers: [(weight: UInt64, value: Int)] = [(2, 1), (2, 4), (3, 16), (3, 4096), (2, 65_536)]

    public func draw(from source: inout ChoiceSource, state: VsockState, enabled: Set<String>) -> VsockOperation {
        let unloaded = modules.filter { !state.loaded.contains($0) && ($0 != .virtio || enabled.contains(Self.guestToHost)) }
        let loaded = modules.filter { state.loaded.contains($0) }
        let sockets = Array(state.sockets.indices)
        let dgrams = sockets.filter { state.sockets[$0].type == .dgram }
        let connectable = sockets.filter {
            let socket = state.sockets[$0]
            return !(socket.type.isConnectible && (socket.connectAttempted || socket.connected))
        }
        var menu: [(weight: UInt64, value: VsockOperationKind)] = []
        func offer(_ kind: VsockOperationKind, _ weight: UInt64, when available: Bool) {
            if available && enabled.contains(kind.rawValue) { menu.append((weight, kind)) }
        }
        offer(.loadTransport, loaded.isEmpty ? 8 : 3, when: !unloaded.isEmpty)
        offer(.unloadTransport, 1, when: !loaded.isEmpty)
        offer(.socket, 3, when: true)
        // A datagram socket on loopback with no address yet: once bound, it is what loopback delivers to.
        let unboundReceivers = dgrams.filter { state.sockets[$0].transport == .loopback && state.sockets[$0].local == nil }
        offer(.bind, unboundReceivers.isEmpty ? 2 : 3, when: !sockets.isEmpty)
        // Next to a port the kernel chose: where an allocator that skips taken ports is tested.
        offer(.bindLearned, 2, when: !sockets.isEmpty && !state.learnedPorts.isEmpty)
        offer(.connect, 3, when: !connectable.isEmpty)
        // More often while a socket on loopback is bound where loopback also serves another
        // CID: a datagram to its port at that alias must not reach it.
        let aliased = dgrams.contains { index in
            let socket = state.sockets[index]
            guard socket.transport == .loopback, let local = socket.local, local.port != nil else { return false }
            return Self.loopbackAlias(of: local.cid, state) != nil
        }
        offer(.sendto, aliased ? 8 : 5, when: !dgrams.isEmpty)
        // To a port the kernel chose: where an auto-bound socket receives.
        offer(.sendtoLearned, 3, when: !dgrams.isEmpty && !state.learnedPorts.isEmpty)
        // send() needs a peer: mostly a connected datagram socket (an unconnected one is one rule).
        let connectedDgrams = dgrams.filter { state.sockets[$0].connected }
        offer(.send, connectedDgrams.isEmpty ? 1 : 3, when: !dgrams.isEmpty)
        // Bound at a port the kernel chose and has not shown yet.
        let unseen = sockets.filter { state.sockets[$0].local != nil && state.sockets[$0].local?.port == nil }
        offer(.getsockname, unseen.isEmpty ? 1 : 3, when: !sockets.isEmpty)
        let peered = sockets.filter {
            state.sockets[$0].connected || state.sockets[$0].connectAttempted || state.sockets[$0].everConnected
        }
        offer(.getpeername, peered.isEmpty ? 1 : 3, when: !sockets.isEmpty)
        // More often while the model has a datagram queued: a delivered datagram that is never
        // received shows nothing of how it arrived.
        let certain = state.queues.isEmpty ? [] : sockets.filter { state.queue(of: $0).contains(where: \.certain) }
        let nearMiss = Self.nearMisses(in: state)
        // A near miss is rarer than a queued datagram and gone within a few operations.
        let receiving: UInt64 = !nearMiss.isEmpty ? 8 : !certain.isEmpty ? 5 : 2
        offer(.recv, receiving, when: !sockets.isEmpty)
        offer(.recvfrom, receiving, when: !sockets.isEmpty)
        offer(.close, 2, when: !sockets.isEmpty)
        if menu.isEmpty { menu = [(1, .socket)] }

        let kind = source.weighted(menu)
        switch kind {
        case .loadTransport:
            // The first load is loopback half the time: sockets created while it is the only
            // transport sit on it, and only those receive what loopback delivers (the data path).
            if loaded.isEmpty && unloaded.contains(.loopback) && source.chance(1, in: 2) { return .loadTransport(.loopback) }
            return .loadTransport(source.pick(unloaded))
        case .unloadTransport: return .unloadTransport(source.pick(loaded))
        case .socket:
            return .socket(source.weighted(Self.drawnTypes))
        case .bind:
            // Half the binds go to a datagram socket on loopback with no address, two in three of
            // them at a CID of this VM: 1, or with an H2G transport half the time 2 (vsock_find_cid,
            // M 749). A socket bound there must get what is sent to (cid, port) and nothing sent
            // to the port at another CID that loopback also serves (``loopbackAlias``). The rest
            // mostly (3 in 5) to a socket with no address: binding a bound one is one rule (EINVAL).
            if !unboundReceivers.isEmpty && source.chance(1, in: 2) {
                var bound = address(&source, cids: Self.drawnBindCIDs)
                if source.chance(2, in: 3) { bound.cid = state.slots.h2g != nil && source.chance(1, in: 2) ? VMAddr.cidHost : VMAddr.cidLocal }
                return .bind(SocketRef(source.pick(unboundReceivers)), bound)
            }
            let unbound = sockets.filter { state.sockets[$0].local == nil }
            let socket = !unbound.isEmpty && source.chance(3, in: 5) ? source.pick(unbound) : source.pick(sockets)
            return .bind(SocketRef(socket), address(&source, cids: Self.drawnBindCIDs))
        case .bindLearned:
            return .bindLearned(SocketRef(source.pick(sockets)), cid: source.weighted(Self.drawnCIDs),
                                learned: source.pick(Array(0..<state.learnedPorts.count)),
                                offset: source.weighted(Self.drawnOffsets))
        case .connect:
            let socket = source.pick(connectable)
            // A connected socket is disconnected a third of the time: what a disconnect leaves
            // (getpeername's ENOTCONN, send's EINVAL) is only seen on one that had a peer.
            let disconnect = state.sockets[socket].connected ? source.chance(1, in: 3) : source.chance(1, in: 8)
            return .connect(SocketRef(socket), disconnect ? .unspec : .address(reusedOrDrawnAddress(&source, state: state).address))
        case .sendto:
            // The destination first: to a socket's address, half the time from another socket,
            // whose source a recvfrom() then shows apart from the destination.
            let (address, receiver) = reusedOrDrawnAddress(&source, state: state)
            let others = dgrams.filter { state.sockets[$0].serial != receiver }
            let sender = receiver != nil && !others.isEmpty && source.chance(1, in: 2) ? source.pick(others) : source.pick(dgrams)
            return .sendto(SocketRef(sender), address, length: source.weighted(Self.drawnLengths))
        case .sendtoLearned:
            // Mostly CID 1: a learned port is a socket of this VM, which loopback reaches there;
            // mostly the port of a socket on loopback, which is the one that can receive.
            let cid = source.chance(3, in: 4) ? VMAddr.cidLocal : source.weighted(Self.drawnCIDs)
            let learned = Array(0..<state.learnedPorts.count)
            let receiving = learned.filter { index in
                let port = state.learnedPorts.ports[index]
                return state.sockets.contains { $0.type == .dgram && $0.transport == .loopback && $0.local?.port == port }
            }
            return .sendtoLearned(SocketRef(source.pick(dgrams)), cid: cid,
                                  learned: source.pick(!receiving.isEmpty && source.chance(3, in: 4) ? receiving : learned),
                                  length: source.weighted(Self.drawnLengths))
        case .send:
            let socket = !connectedDgrams.isEmpty && source.chance(3, in: 4) ? source.pick(connectedDgrams) : source.pick(dgrams)
            return .send(SocketRef(socket), length: source.weighted(Self.drawnLengths))
        case .getsockname:
            // Mostly a socket whose port the kernel chose and has not shown (once shown, the port
            // is learned and `sendto-learned` reaches that socket); else mostly one with an
            // address: what binds, auto-binds and connects set is shown here.
            let bound = sockets.filter { state.sockets[$0].local != nil }
            if !unseen.isEmpty && source.chance(2, in: 3) { return .getsockname(SocketRef(source.pick(unseen))) }
            return .getsockname(SocketRef(!bound.isEmpty && source.chance(2, in: 3) ? source.pick(bound) : source.pick(sockets)))
        case .getpeername:
            // Mostly a socket that has (or had) a peer: connect and disconnect are what it reports.
            return .getpeername(SocketRef(!peered.isEmpty && source.chance(3, in: 4) ? source.pick(peered) : source.pick(sockets)))
        case .recv, .recvfrom:
            // Mostly where something is queued, so that receives see datagrams; else often a bound
            // datagram socket, where one the model does not expect would show up (a delivery to
            // the wrong socket).
            // (A datagram the model is sure of first: one that only may arrive mostly did not.)
            let queued = !certain.isEmpty ? certain : state.queues.isEmpty ? [] : sockets.filter { !state.queue(of: $0).isEmpty }
            let bound = dgrams.filter { state.sockets[$0].local != nil }
            let socket: Int
            if !nearMiss.isEmpty && source.chance(2, in: 3) {
                socket = source.pick(nearMiss)
            } else if !queued.isEmpty && source.chance(4, in: 5) {
                socket = source.pick(queued)
            } else if !bound.isEmpty && source.chance(1, in: 2) {
                socket = source.pick(bound)
            } else {
                // A connectible socket now and then: its receive is ENOTCONN, one rule.
                socket = !dgrams.isEmpty && source.chance(3, in: 4) ? source.pick(dgrams) : source.pick(sockets)
            }
            return .recv(SocketRef(socket), buffer: source.weighted(Self.drawnBuffers), source: kind == .recvfrom)
        case .close: return .close(SocketRef(source.pick(sockets)))
        }
    }

    /// Two times in three, when some socket's address is known, that address (where a datagram
    /// has a receiver; Hypothesis calls these bundles), mostly of a socket on loopback: the CID it bound, or CID 1 for one bound to ANY;
    /// a quarter of those keep the port and draw another CID (a datagram for the same port on
    /// another host must not reach it: what a delivery that ignores the CID gets wrong).
    ///
    /// Only ports the sequence names itself are reused: an operation holds its port as a number,
    /// and a port the kernel chose (an auto-bind's, learned from `getsockname`) is another one in
    /// every run, so a case that sent to it would not replay or shrink (what mutants 14 and 15's
    /// first live runs showed: detected, then 0 of 3 re-runs). `sendto-learned` sends there.
    /// Returns the address and, when it is a socket's, that socket's serial.
    private func reusedOrDrawnAddress(_ source: inout ChoiceSource, state: VsockState) -> (address: SockAddrVM, owner: Int?) {
        let named = state.sockets.filter { socket in
            socket.local?.port.map { port in Self.drawnPorts.contains { $0.value == port } } ?? false
        }
        // Mostly a socket that can receive: only one on loopback gets what loopback delivers.
        let receivers = named.filter { $0.type == .dgram && $0.transport == .loopback }
        let pool = !receivers.isEmpty && source.chance(3, in: 4) ? receivers : named
        if !pool.isEmpty && source.chance(2, in: 3) {
            let owner = source.pick(pool)
            let local = owner.local!
            let reused = SockAddrVM(cid: local.cid == VMAddr.cidAny ? VMAddr.cidLocal : local.cid, port: local.port!)
            // Where loopback also serves a CID other than the one the owner bound, two times in
            // three that alias: the datagram is carried to the same port and must not reach the owner;
            // else a quarter of the time another CID, half of those CID 2.
            let alias = owner.transport == .loopback ? Self.loopbackAlias(of: local.cid, state) : nil
            guard alias != nil ? source.chance(2, in: 3) : source.chance(1, in: 4) else { return (reused, owner.serial) }
            let cid = alias ?? (source.chance(1, in: 2) ? VMAddr.cidHost : source.weighted(Self.drawnCIDs))
            return (SockAddrVM(cid: cid, port: reused.port), nil)
        }
        return (address(&source), nil)
    }

    /// Near misses: datagram sockets on loopback bound at a specific CID with a datagram still in
    /// flight to their port at another CID, which must not reach them (a delivery that ignores
    /// the CID gives it there). Only a socket on loopback receives what loopback carries.
    /// Public for the bench, which counts the runs that reach one.
    public static func nearMisses(in state: VsockState) -> [Int] {
        guard !state.inFlight.isEmpty else { return [] }
        return state.sockets.indices.filter { index in
            let socket = state.sockets[index]
            guard socket.type == .dgram, socket.transport == .loopback, let local = socket.local, let port = local.port,
                  local.cid != VMAddr.cidAny else { return false }
            return state.inFlight.contains { $0.destination.port == port && $0.destination.cid != local.cid }
        }
    }

    /// Another CID that loopback serves besides `cid`, if any: for a socket bound at CID 2 (with
    /// H2G), CID 1; for one bound at CID 1, CID 2 while no G2H transport is loaded
    /// (vsock_use_local_transport, M 404-419). A datagram sent there reaches loopback with the
    /// socket's port but another CID, which a delivery that ignores the CID hands to the socket.
    static func loopbackAlias(of cid: UInt32, _ state: VsockState) -> UInt32? {
        guard state.slots.local != nil else { return nil }
        switch cid {
        case VMAddr.cidHost: return VMAddr.cidLocal
        case VMAddr.cidLocal: return state.slots.g2h == nil ? VMAddr.cidHost : nil
        default: return nil
        }
    }

    private func address(_ source: inout ChoiceSource, cids: [(weight: UInt64, value: UInt32)] = Self.drawnCIDs) -> SockAddrVM {
        SockAddrVM(cid: source.weighted(cids), port: source.weighted(Self.drawnPorts),
                   flags: source.weighted(Self.drawnFlags))
    }

    public func simplifications(of operation: VsockOperation) -> [VsockOperation] {
        switch operation {
        case let .loadTransport(module):
            return Self.simpler(module, in: modules).map(VsockOperation.loadTransport)
        case let .unloadTransport(module):
            return Self.simpler(module, in: modules).map(VsockOperation.unloadTransport)
        case let .socket(type):
            return Self.simpler(type, in: SocketType.allCases).map(VsockOperation.socket)
        case let .bind(socket, address):
            return Self.simpler(socket).map { .bind($0, address) } + Self.simpler(address).map { .bind(socket, $0) }
        case let .bindLearned(socket, cid, learned, offset):
            // Toward earlier sockets, simpler CIDs, the first learned port, offset 0.
            return Self.simpler(socket).map { .bindLearned($0, cid: cid, learned: learned, offset: offset) }
                + Self.simplerCIDs(cid).map { .bindLearned(socket, cid: $0, learned: learned, offset: offset) }
                + (0..<learned).map { .bindLearned(socket, cid: cid, learned: $0, offset: offset) }
                + (0..<offset).map { .bindLearned(socket, cid: cid, learned: learned, offset: $0) }
        case let .connect(socket, target):
            var variants = Self.simpler(socket).map { VsockOperation.connect($0, target) }
            if case let .address(address) = target {
                variants += Self.simpler(address).map { .connect(socket, .address($0)) }
            }
            return variants
        case let .sendto(socket, address, length):
            return Self.simpler(socket).map { .sendto($0, address, length: length) }
                + Self.simpler(length).map { .sendto(socket, address, length: $0) }
                + Self.simpler(address).map { .sendto(socket, $0, length: length) }
        case let .sendtoLearned(socket, cid, learned, length):
            // Toward earlier sockets, shorter datagrams, simpler CIDs, the first learned port.
            return Self.simpler(socket).map { .sendtoLearned($0, cid: cid, learned: learned, length: length) }
                + Self.simpler(length).map { .sendtoLearned(socket, cid: cid, learned: learned, length: $0) }
                + Self.simplerCIDs(cid).map { .sendtoLearned(socket, cid: $0, learned: learned, length: length) }
                + (0..<learned).map { .sendtoLearned(socket, cid: cid, learned: $0, length: length) }
        case let .send(socket, length):
            return Self.simpler(socket).map { .send($0, length: length) }
                + Self.simpler(length).map { .send(socket, length: $0) }
        case let .getsockname(socket): return Self.simpler(socket).map(VsockOperation.getsockname)
        case let .getpeername(socket): return Self.simpler(socket).map(VsockOperation.getpeername)
        case let .recv(socket, buffer, from):
            // Toward earlier sockets, a buffer that truncates nothing, and recv() (no source address).
            return Self.simpler(socket).map { .recv($0, buffer: buffer, source: from) }
                + (buffer < 65_536 ? [.recv(socket, buffer: 65_536, source: from)] : [])
                + (from ? [.recv(socket, buffer: buffer, source: false)] : [])
        case let .close(socket): return Self.simpler(socket).map(VsockOperation.close)
        }
    }

    // MARK: Canonical orders ("simpler" is defined here and nowhere else)

    /// Elements earlier in `order`.
    static func simpler<T: Equatable>(_ value: T, in order: [T]) -> [T] {
        guard let rank = order.firstIndex(of: value) else { return order }
        return Array(order[..<rank])
    }

    /// Earlier sockets.
    static func simpler(_ socket: SocketRef) -> [SocketRef] { (0..<socket.position).map(SocketRef.init) }

    /// Toward 1.
    static func simpler(_ length: Int) -> [Int] { length > 1 ? unique([1, length / 2]).filter { $0 < length && $0 >= 1 } : [] }

    /// CIDs toward 1/2/3/ANY/0; ports toward small; flags toward 0; one argument at a time.
    static func simpler(_ address: SockAddrVM) -> [SockAddrVM] {
        var variants: [SockAddrVM] = []
        for cid in simplerCIDs(address.cid) { variants.append(SockAddrVM(cid: cid, port: address.port, flags: address.flags)) }
        for port in simplerPorts(address.port) { variants.append(SockAddrVM(cid: address.cid, port: port, flags: address.flags)) }
        for flags in simplerFlags(address.flags) { variants.append(SockAddrVM(cid: address.cid, port: address.port, flags: flags)) }
        return variants
    }

    static func simplerCIDs(_ cid: UInt32) -> [UInt32] { simpler(cid, in: canonicalCIDs) }

    static func simplerPorts(_ port: UInt32) -> [UInt32] {
        unique([0, 1, 1024, port / 2]).filter { $0 < port }
    }

    static func simplerFlags(_ flags: UInt8) -> [UInt8] {
        flags == 0 ? [] : flags == VMAddr.flagToHost ? [0] : [0, VMAddr.flagToHost]
    }

    private static func unique<T: Hashable>(_ values: [T]) -> [T] {
        var seen = Set<T>()
        return values.filter { seen.insert($0).inserted }
    }
}
