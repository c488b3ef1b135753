/// Where a socket's local address is recorded, which decides who it can collide with.
public enum BindTable: String, Hashable, Sendable, Codable {
    /// The core's table of STREAM/SEQPACKET sockets (`vsock_bind_table`).
    case connectible
    /// The core's datagram table of v5 05 (`vsock_dgram_bind_table`).
    case dgram
    /// Kept by the transport itself (VMCI's datagram handles): the core never sees collisions.
    case transport
}

/// A socket's local address.
public struct LocalBinding: Hashable, Sendable {
    public var cid: UInt32
    /// nil: an ephemeral port the kernel chose and the model has not seen yet.
    public var port: UInt32?
    public var table: BindTable

    public init(cid: UInt32, port: UInt32?, table: BindTable) {
        self.cid = cid
        self.port = port
        self.table = table
    }

    /// The lowest port the kernel picks for an ephemeral binding: the core's allocator starts
    /// above `LAST_RESERVED_PORT`; VMCI picks its own resource ids.
    var ephemeralMinimum: UInt32 { table == .transport ? 0 : VMAddr.lastReservedPort + 1 }
}

/// One open socket of the model.
public struct VsockSocket: Hashable, Sendable {
    /// Creation number, for reports ("socket #3"); operations address sockets by position.
    public let serial: Int
    public let type: SocketType
    /// `vsk->transport`: holds one reference on the module. Set only through `VsockState`
    /// (`openSocket`, `assign(_:toSocketAt:)`), which keeps the reference counts.
    public fileprivate(set) var transport: TransportModule?
    /// `vsk->local_addr` once bound; nil while it is `(ANY, ANY)`.
    public var local: LocalBinding?
    /// `vsk->remote_addr`.
    public var remote: SockAddrVM = .any
    /// `sock->state == SS_CONNECTED`.
    public var connected = false
    /// Was connected at some point (a disconnect clears `connected`, not this): where what a
    /// disconnect leaves can be seen. Read by the generator; no rule depends on it.
    public var everConnected = false
    /// A connectible socket whose `connect()` reached its transport: the rest is asynchronous
    /// (peer reset, timeout), and the model does not state later connects.
    public var connectAttempted = false
    /// A loopback packet addressed to `(VMADDR_CID_ANY, port)` may have reached this bound socket,
    /// which then takes `VMADDR_CID_ANY` as its local CID (`VsockRules.getsocknameReaddressed`).
    public var mayBeReaddressedToAny = false
    /// `remote.cid` was CID ANY and a connected send replaced it with the transport's own CID,
    /// not yet seen (`VsockRules.sendResolvesCidAny`).
    public var remoteCIDUnknown = false

    public init(serial: Int, type: SocketType, transport: TransportModule?) {
        self.serial = serial
        self.type = type
        self.transport = transport
    }
}

/// The vsock model's state: transport registry, open sockets, and derived reference counts.
public struct VsockState: Hashable, Sendable {
    /// Loaded transport modules, in load order.
    public var loaded: [TransportModule] = [] {
        didSet { refcounts = recountedReferences() }
    }
    /// Which module fills each registration slot.
    public var slots = TransportSlots()
    /// Open sockets, in creation order; `SocketRef(n)` is `sockets[n]`. Sockets are added and
    /// removed only by `openSocket` and `removeSocket(at:)`, which keep ``refcounts``.
    public var sockets: [VsockSocket] = []
    /// Transports of closed connectible sockets that may still hold their module reference: a
    /// non-blocking connect's timeout work holds the socket for 2 s, a virtio-family close of an
    /// established socket for up to 8 s. Each entry is one reference that may or may not still be
    /// there; observations tell, and the model forgets the ones that are gone.
    public var lingering: [TransportModule] = []
    /// The ports `getsockname()` has shown, for `bind-learned`.
    public var learnedPorts = LearnedPorts()
    /// Operations judged since the start: the next operation's number is this plus one, which
    /// is the tag a datagram it sends carries (``DatagramPayload``).
    public var operationsJudged = 0
    /// Datagrams a delivering transport accepted whose receiver a later bind may still become.
    public var inFlight: [InFlightDatagram] = []
    /// Datagrams delivered to each socket (by serial) and not yet received, in arrival order as
    /// far as the model knows it (the order is unclear intent, N1). Kept apart from the sockets so
    /// that a socket stays plain data: every step copies the socket list.
    public var queues: [Int: [QueuedDatagram]] = [:]
    var nextSerial = 0

    public init() {}

    /// `/sys/module/<m>/refcnt` for every loaded transport: one reference per socket assigned to
    /// it (`try_module_get` in `vsock_assign_transport`, `module_put` in
    /// `vsock_deassign_transport`). No transport module has dependents, and the per-packet
    /// reference of v5 03 is dropped before `sendto()` returns. Kept as sockets change rather
    /// than counted on every step (it is compared on every step, and runs hold dozens of sockets).
    public private(set) var refcounts = ModuleRefcounts()

    /// ``refcounts`` counted from scratch.
    func recountedReferences() -> ModuleRefcounts {
        var counts = ModuleRefcounts()
        for module in loaded { counts[module] = 0 }
        for socket in sockets {
            if let transport = socket.transport { counts[transport, default: 0] += 1 }
        }
        return counts
    }

    /// A new socket on `transport` (or none), appended to the open list.
    mutating func openSocket(_ type: SocketType, transport: TransportModule?) {
        sockets.append(VsockSocket(serial: nextSerial, type: type, transport: transport))
        nextSerial += 1
        if let transport { countReference(transport, by: 1) }
    }

    /// The socket at `index` takes `transport` (nil: deassigned), its old module's reference dropped.
    public mutating func assign(_ transport: TransportModule?, toSocketAt index: Int) {
        let old = sockets[index].transport
        guard old != transport else { return }
        sockets[index].transport = transport
        if let old { countReference(old, by: -1) }
        if let transport { countReference(transport, by: 1) }
    }

    /// The socket at `index` is closed: it leaves the list, and its module reference goes.
    mutating func removeSocket(at index: Int) -> VsockSocket {
        let closed = sockets.remove(at: index)
        if let transport = closed.transport { countReference(transport, by: -1) }
        return closed
    }

    private mutating func countReference(_ module: TransportModule, by delta: Int) {
        count(module, by: delta, in: &refcounts)
    }

    private func count(_ module: TransportModule, by delta: Int, in counts: inout ModuleRefcounts) {
        let count = counts[module, default: 0] + delta
        counts[module] = count == 0 && !loaded.contains(module) ? nil : count
    }

    /// The reference counts `effects` would leave on the socket at `target`, without applying
    /// them (judging several branches then needs no copy of the state); nil where an effect
    /// changes them otherwise than by opening or assigning a socket.
    func refcounts(after effects: [VsockEffect], target: Int?) -> ModuleRefcounts? {
        var counts = refcounts
        var targetTransport = target.map { sockets[$0].transport }
        for effect in effects {
            switch effect {
            case let .open(_, transport):
                if let transport { count(transport, by: 1, in: &counts) }
            case let .assign(transport):
                guard let old = targetTransport else { continue }  // no target: apply ignores it too
                if old == transport { continue }
                if let old { count(old, by: -1, in: &counts) }
                if let transport { count(transport, by: 1, in: &counts) }
                targetTransport = transport
            case .load, .unload, .close:
                return nil
            default:
                continue
            }
        }
        return counts
    }

    /// Whether `observed` holds exactly the reference counts of ``refcounts``, without building
    /// a dictionary (this runs on every step).
    public func refcountsEqual(_ observed: ModuleRefcounts) -> Bool {
        assert(refcounts == recountedReferences(), "reference counts kept out of step with the sockets")
        return refcountsAdmit(observed, definite: refcounts)
    }

    /// Whether `observed` holds the counts `definite`, give or take the lingering references.
    func refcountsAdmit(_ observed: ModuleRefcounts, definite: ModuleRefcounts) -> Bool {
        if lingering.isEmpty { return definite == observed }
        for module in TransportModule.allCases {
            guard let expected = definite[module] else {
                if observed[module] != nil { return false }
                continue
            }
            guard let seen = observed[module] else { return false }
            if seen < expected || seen > expected + lingeringCount(module) { return false }
        }
        return true
    }

    /// After an agreeing observation: keep only as many lingering references as were still seen.
    mutating func forgetReleasedReferences(_ observed: ModuleRefcounts) {
        guard !lingering.isEmpty else { return }
        let definite = refcounts
        var kept: [TransportModule] = []
        for module in TransportModule.allCases where lingeringCount(module) > 0 {
            let stillHeld = max(0, (observed[module] ?? 0) - (definite[module] ?? 0))
            kept += Array(repeating: module, count: min(stillHeld, lingeringCount(module)))
        }
        lingering = kept
    }

    /// How many lingering references `module` may still have.
    func lingeringCount(_ module: TransportModule) -> Int {
        lingering.reduce(0) { $0 + ($1 == module ? 1 : 0) }
    }

    /// The transport in `slot`, if any.
    public func transport(in slot: TransportSlot) -> TransportModule? { slots[slot] }

    /// The datagrams queued on the socket at `index`.
    public func queue(of index: Int) -> [QueuedDatagram] { queues[sockets[index].serial] ?? [] }

    /// The socket a reference resolves to.
    public func socket(_ ref: SocketRef) -> VsockSocket? {
        sockets.indices.contains(ref.position) ? sockets[ref.position] : nil
    }
}

/// The four registration slots of `af_vsock.c` (`transport_h2g`, `_g2h`, `_local`, `_dgram`).
public struct TransportSlots: Hashable, Sendable {
    public var h2g: TransportModule?
    public var g2h: TransportModule?
    public var local: TransportModule?
    public var dgram: TransportModule?

    public init() {}

    public subscript(slot: TransportSlot) -> TransportModule? {
        get {
            switch slot {
            case .h2g: return h2g
            case .g2h: return g2h
            case .local: return local
            case .dgram: return dgram
            }
        }
        set {
            switch slot {
            case .h2g: h2g = newValue
            case .g2h: g2h = newValue
            case .local: local = newValue
            case .dgram: dgram = newValue
            }
        }
    }

    /// `vsock_core_unregister()`: every slot `module` holds becomes empty.
    public mutating func clear(_ module: TransportModule) {
        for slot in TransportSlot.allCases where self[slot] == module { self[slot] = nil }
    }
}
