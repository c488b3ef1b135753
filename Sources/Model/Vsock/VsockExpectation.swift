import SystemPackage

/// The outcomes the vsock model allows for one operation: one or more branches.
///
/// A branch says which transport callbacks must run (on which transport), what the syscall must
/// return, and what changes in the model's state if the kernel took that branch. Where a
/// callback's result is the environment's (VMCI refusing a bind, virtio without a device failing a
/// send), the branch constrains only its sign and requires the core to propagate it.
public struct VsockExpectation: Hashable, Sendable, CustomStringConvertible {
    public var branches: [VsockBranch]
    /// Several branches may admit the same result and differ only in their effects (which
    /// transport a socket took, where intent is unclear): the judge then lets the reference
    /// counts choose. Set only where the model builds such branches, so that every other step
    /// keeps the single pass (the model's throughput is a goal).
    public var refcountsDecide: Bool

    public init(_ branches: [VsockBranch], refcountsDecide: Bool = false) {
        self.branches = branches
        self.refcountsDecide = refcountsDecide
    }

    public var description: String {
        branches.map(\.description).joined(separator: "\n  or ")
    }
}

/// One allowed outcome.
public struct VsockBranch: Hashable, Sendable, CustomStringConvertible {
    public var calls: [ExpectedCall]
    public var result: ExpectedResult
    public var effects: [VsockEffect]
    /// The rule that decided this branch (the last decision on its path).
    public var rule: Rule

    public init(calls: [ExpectedCall] = [], result: ExpectedResult, effects: [VsockEffect] = [], rule: Rule) {
        self.calls = calls
        self.result = result
        self.effects = effects
        self.rule = rule
    }

    public var description: String {
        var text = "\(result)"
        if !calls.isEmpty { text += " via " + calls.map(\.description).joined(separator: ", ") }
        let changes = effects.compactMap(\.summary)
        if !changes.isEmpty { text += "; " + changes.joined(separator: ", ") }
        return text + "  [\(rule.id)]"
    }
}

/// A transport callback a branch requires, with the constraint on its return.
public struct ExpectedCall: Hashable, Sendable, CustomStringConvertible {
    public enum Returns: Hashable, Sendable {
        /// ≥ 0, or true for a predicate.
        case success
        /// < 0, or false for a predicate.
        case failure
        /// Anything: the core propagates it.
        case any
    }

    public var transport: TransportModule
    public var hook: TransportHook
    public var returns: Returns

    public init(_ transport: TransportModule, _ hook: TransportHook, _ returns: Returns) {
        self.transport = transport
        self.hook = hook
        self.returns = returns
    }

    func admits(_ call: TransportCall) -> Bool {
        guard call.transport == transport, call.hook == hook else { return false }
        let succeeded = hook.isPredicate ? call.returned != 0 : call.returned >= 0
        switch returns {
        case .success: return succeeded
        case .failure: return !succeeded
        case .any: return true
        }
    }

    public var description: String {
        let suffix: String
        switch (returns, hook.isPredicate) {
        case (.success, true): suffix = "→true"
        case (.failure, true): suffix = "→false"
        case (.success, false): suffix = "→ok"
        case (.failure, false): suffix = "→error"
        case (.any, _): suffix = ""
        }
        return "\(transport.shortName).\(hook.rawValue)\(suffix)"
    }
}

/// What a branch requires of the syscall's result.
public enum ExpectedResult: Hashable, Sendable, CustomStringConvertible {
    /// Exactly this result.
    case exactly(SyscallResult)
    /// Any non-negative value (a new file descriptor).
    case anyValue
    /// Any one of these.
    case oneOf([SyscallResult])
    /// The return of the branch's last callback, as the syscall's result.
    case propagated
    /// Any failure: the model does not know which errno is intended (said in the rule).
    case anyFailure
    /// `getsockname()`/`getpeername()`: this CID, a port as specified, these flags.
    case address(cid: UInt32, port: PortExpectation, flags: UInt8 = 0)
    /// `getpeername()` after a connected send resolved CID ANY to the transport's own CID, which
    /// is the environment's (VMCI's context id): any CID, this port and flags.
    case addressAnyCID(port: UInt32, flags: UInt8)
    /// `recv()`/`recvfrom()`: this datagram, as a buffer of the operation's size shows it.
    case datagram(DatagramExpectation)

    public var description: String {
        switch self {
        case let .exactly(result): return "\(result)"
        case .anyValue: return "fd≥0"
        case let .oneOf(results): return results.map(\.description).joined(separator: " | ")
        case .propagated: return "(callback's result)"
        case .anyFailure: return "-1 (any errno)"
        case let .addressAnyCID(port, flags):
            return "{cid=(the transport's own) port=\(VMAddr.portName(port))\(flags == 0 ? "" : " flags=\(flags)")}"
        case let .address(cid, port, flags):
            return "{cid=\(VMAddr.cidName(cid)) port=\(port)\(flags == VMAddr.flagToHost ? " TO_HOST" : flags == 0 ? "" : " flags=\(flags)")}"
        case let .datagram(expected): return expected.description
        }
    }
}

/// The datagram a receive must return, seen through the caller's buffer.
public struct DatagramExpectation: Hashable, Sendable, CustomStringConvertible {
    public var tag: UInt32
    /// min(buffer, length): the bytes copied and returned (N4).
    public var copied: Int
    /// `MSG_TRUNC`: the buffer was shorter than the datagram (N4).
    public var truncated: Bool
    /// `recvfrom()`: the CIDs and port the source may have (N2); nil for `recv()`.
    public var sourceCIDs: [UInt32]?
    public var sourcePort: PortExpectation

    public init(tag: UInt32, copied: Int, truncated: Bool, sourceCIDs: [UInt32]?, sourcePort: PortExpectation) {
        self.tag = tag
        self.copied = copied
        self.truncated = truncated
        self.sourceCIDs = sourceCIDs
        self.sourcePort = sourcePort
    }

    func admits(_ received: ReceivedDatagram) -> Bool {
        guard received.copied == copied, received.truncated == truncated, received.intact,
              DatagramPayload.head(received.head, matches: tag) else { return false }
        guard let sourceCIDs else { return received.source == nil }
        guard let source = received.source else { return false }
        // No CIDs listed: the environment's (VMCI's context id), any.
        return (sourceCIDs.isEmpty || sourceCIDs.contains(source.cid)) && sourcePort.admits(source.port) && source.flags == 0
    }

    public var description: String {
        var text = "\(copied) bytes #\(tag)\(truncated ? " MSG_TRUNC" : "")"
        if let sourceCIDs {
            let cids = sourceCIDs.isEmpty ? "(the environment's)" : sourceCIDs.map(VMAddr.cidName).joined(separator: "|")
            text += " from cid=\(cids) port=\(sourcePort)"
        }
        return text
    }
}

/// A local port the model knows exactly, or only knows to be ephemeral.
public enum PortExpectation: Hashable, Sendable, CustomStringConvertible {
    case exactly(UInt32)
    /// Chosen by the kernel: greater than `minimum - 1`, never `VMADDR_PORT_ANY`.
    /// `taken`: ports other sockets of the same table hold (with colliding CIDs), which a free
    /// port cannot be (`vsock.bind.ephemeral`).
    case ephemeral(minimum: UInt32, taken: [UInt32] = [])

    /// The lowest port this admits: what a nominal observation shows.
    public var lowest: UInt32 {
        switch self {
        case let .exactly(port): return port
        case let .ephemeral(minimum, taken):
            var port = minimum
            while taken.contains(port) { port += 1 }
            return port
        }
    }

    public func admits(_ port: UInt32) -> Bool {
        switch self {
        case let .exactly(expected): return port == expected
        case let .ephemeral(minimum, taken): return port >= minimum && port != VMAddr.portAny && !taken.contains(port)
        }
    }

    public var description: String {
        switch self {
        case let .exactly(port): return VMAddr.portName(port)
        case let .ephemeral(minimum, taken):
            return "ephemeral≥\(minimum)" + (taken.isEmpty ? "" : " not " + taken.map(String.init).joined(separator: ","))
        }
    }
}

/// A change to the model's state, applied when the kernel took a branch.
public enum VsockEffect: Hashable, Sendable {
    case load(TransportModule)
    case unload(TransportModule)
    /// A new socket, appended to the open list.
    case open(SocketType, transport: TransportModule?)
    /// The target socket's transport (nil: deassigned; its module reference is dropped).
    case assign(TransportModule?)
    /// The target socket is bound.
    case bind(LocalBinding)
    case setRemote(SockAddrVM)
    case setConnected(Bool)
    /// A connectible socket's first `connect()` reached the transport: later connects are not modelled.
    case markConnectAttempted
    /// The target socket is closed: its transport reference and its binding go.
    case close
    /// `getsockname()` revealed the ephemeral port: from now on the model knows it.
    case learnLocalPort
    /// A transport that delivers inside this VM sent a packet to `(VMADDR_CID_ANY, port)`: every
    /// socket on that transport bound at that port (or at a port the model has not seen) may be
    /// the one that receives it.
    case packetToCidAny(port: UInt32, via: TransportModule)
    /// `getsockname()` showed the target's local CID rewritten to `VMADDR_CID_ANY`.
    case readdressedToAny
    /// A connected send found the remote CID ANY and replaced it with the transport's own CID,
    /// which the model does not know: `getpeername()` will tell (`learnRemoteCID`).
    case remoteCIDResolved
    /// `getpeername()` showed the resolved remote CID: from now on the model knows it.
    case learnRemoteCID
    /// If the send succeeded: the datagram tagged `tag` goes to the receiver bound at
    /// `destination`, through `carrier`, a transport that delivers in this VM: loopback (N1), or
    /// VMCI, whose host context delivers locally in a VM without a VMCI device.
    case deliver(tag: UInt32, length: Int, destination: SockAddrVM, carrier: TransportModule)
    /// The target received the datagram tagged `tag`.
    case receive(tag: UInt32)
    /// A receive waited for the loopback worker: nothing accepted before it is still in flight.
    case settleDeliveries
    /// The target's queue showed empty: datagrams that only might have been there were not.
    case dropUncertain

    /// What a kernel developer wants to read of the change, if anything.
    public var summary: String? {
        switch self {
        case let .load(module): return "\(module.shortName) registers \(module.registersSlots.map(\.rawValue).joined(separator: "+"))"
        case let .unload(module): return "\(module.shortName) unregisters"
        case let .open(_, transport): return "new socket" + (transport.map { " on \($0.shortName) (+1 ref)" } ?? ", no transport")
        case let .assign(transport): return transport.map { "transport → \($0.shortName) (+1 ref)" } ?? "transport released (−1 ref)"
        case let .bind(binding):
            return "bound cid=\(VMAddr.cidName(binding.cid)) port=\(binding.port.map(VMAddr.portName) ?? "ephemeral")"
        case .setConnected(true): return "connected"
        case .setConnected(false): return "unconnected"
        case .close: return "closed (its reference dropped)"
        case .readdressedToAny: return "local CID rewritten to ANY by a loopback packet"
        case let .deliver(tag, _, destination, carrier):
            return "if sent, #\(tag) is delivered to \(destination)" + (carrier == .loopback ? "" : " (it may be)")
        case .setRemote, .markConnectAttempted, .learnLocalPort, .packetToCidAny, .remoteCIDResolved, .learnRemoteCID,
             .receive, .settleDeliveries, .dropUncertain:
            return nil
        }
    }
}

/// Effect lists that recur on every run, built once: an array literal of effects is a heap
/// allocation each time it is evaluated, and these are on the model's most frequent steps.
enum SharedEffects {
    static let close: [VsockEffect] = [.close]
    static let learnLocalPort: [VsockEffect] = [.learnLocalPort]
    static let settleDeliveries: [VsockEffect] = [.settleDeliveries]
    static let settleAndDropUncertain: [VsockEffect] = [.settleDeliveries, .dropUncertain]

    /// `[.open(type, transport)]` for every socket type and transport (or none).
    static func open(_ type: SocketType, transport: TransportModule?) -> [VsockEffect] {
        opened[type.ordinal * (TransportModule.allCases.count + 1) + (transport.map(\.ordinal) ?? TransportModule.allCases.count)]
    }

    private static let opened: [[VsockEffect]] = SocketType.allCases.flatMap { type in
        (TransportModule.allCases.map(Optional.some) + [nil]).map { [VsockEffect.open(type, transport: $0)] }
    }
}
