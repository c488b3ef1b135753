import Generators
import Model
import SystemPackage

/// A simulated kernel: an imperative re-implementation of the vsock core, written from the C
/// functions of Debian's 6.1.176 and the v5 series, with a fixed environment standing in for
/// the transports (no VMCI device, no virtio device, no vhost guest).
///
/// It is a test double. It exists to test the engine (planted ``VsockMutant``s must be found and
/// shrunk) and to cross-check the declarative model against a second, independent statement
/// of the same code. It is never the live path.
public final class SimulatedVsockKernel: SystemUnderTest {
    public typealias Model = VsockModel

    final class Socket {
        let type: SocketType
        var transport: TransportModule?
        var local: (cid: UInt32, port: UInt32, table: BindTable)?
        var remote = SockAddrVM.any
        var connected = false
        /// skbs on `sk_receive_queue`: payload and the header's source and destination addresses.
        var queue: [(payload: [UInt8], source: SockAddrVM, destination: SockAddrVM)] = []
        init(type: SocketType) { self.type = type }
    }

    public let profile: VsockProfile
    public let mutant: VsockMutant?
    public var name: String { "simulated kernel (\(profile)\(mutant.map { ", mutant \($0.rawValue)" } ?? ""))" }

    private var loaded: [TransportModule] = []
    private var slots: [TransportSlot: TransportModule] = [:]
    private var sockets: [Socket] = []
    private var learnedPorts = LearnedPorts()
    private var references: [TransportModule: Int] = [:]
    private var calls: [TransportCall] = []
    private var transmissions: [TransportModule] = []
    private var nextEphemeralPort: UInt32 = 40_000
    private var nextVMCIPort: UInt32 = 60_000
    /// Operations executed since the reset: a datagram carries its operation's number as its tag.
    private var operations: UInt32 = 0

    public init(profile: VsockProfile, mutant: VsockMutant? = nil) {
        self.profile = profile
        self.mutant = mutant
    }

    public func reset() {
        loaded = []
        slots = [:]
        sockets = []
        learnedPorts = LearnedPorts()
        references = [:]
        nextEphemeralPort = 40_000
        nextVMCIPort = 60_000
        operations = 0
    }

    public func execute(_ operation: VsockOperation) -> VsockObservation {
        execute(operation, number: operations + 1)
    }

    /// The module reference counts now.
    public var refcounts: ModuleRefcounts {
        var counts = ModuleRefcounts()
        for module in loaded { counts[module] = references[module, default: 0] }
        return counts
    }

    /// Runs `operation` as the run's `number`-th (the tag its datagram carries): a parallel
    /// section's operations keep their numbers whatever order they run in.
    public func execute(_ operation: VsockOperation, number: UInt32) -> VsockObservation {
        calls = []
        transmissions = []
        operations = number
        let result = run(operation)
        var counts = ModuleRefcounts()
        for module in loaded { counts[module] = references[module, default: 0] }
        return VsockObservation(result: result, calls: calls, refcounts: counts, transmissions: transmissions)
    }

    private var isV5: Bool { profile.dgramLookup == .connectibleThenFallback }
    private var isSeed: Bool { profile.dgramCreation == .seedIntent }

    private func run(_ operation: VsockOperation) -> SyscallResult {
        switch operation {
        case let .loadTransport(module): return SyscallResult(kernelReturn: load(module))
        case let .unloadTransport(module): return SyscallResult(kernelReturn: unload(module))
        case let .socket(type): return create(type)
        case let .bind(ref, address):
            guard address.hasValidFlags else { return errno(.invalidArgument) }
            return SyscallResult(kernelReturn: bind(sockets[ref.position], address))
        case let .connect(ref, target):
            return SyscallResult(kernelReturn: connect(sockets[ref.position], target))
        case let .sendto(ref, address, length):
            return SyscallResult(kernelReturn: sendmsg(sockets[ref.position], address, length))
        case let .send(ref, length):
            return SyscallResult(kernelReturn: sendmsg(sockets[ref.position], nil, length))
        case .bindLearned, .sendtoLearned:
            return run(operation.resolving(learnedPorts))
        case let .getsockname(ref):
            let socket = sockets[ref.position]
            let address = socket.local.map { SockAddrVM(cid: $0.cid, port: $0.port) } ?? .any
            learnedPorts.learn(address.port)
            return .address(address)
        case let .getpeername(ref):
            // vsock_getname(peer = 1), 6.1.176 af_vsock.c:1016-1020.
            let socket = sockets[ref.position]
            return socket.connected ? .address(socket.remote) : .failure(.socketNotConnected)
        case let .recv(ref, buffer, source):
            return recvmsg(sockets[ref.position], buffer: buffer, source: source)
        case let .close(ref):
            let socket = sockets.remove(at: ref.position)
            if let transport = socket.transport { put(transport) }
            return .value(0)
        }
    }

    private func errno(_ value: Errno) -> SyscallResult { .failure(value) }
    private func neg(_ value: Errno) -> Int { -Int(value.rawValue) }

    // MARK: Modules and registration (vsock_core_register / delete_module)

    private func load(_ module: TransportModule) -> Int {
        if loaded.contains(module) { return neg(.fileExists) }
        for slot in module.registersSlots where slots[slot] != nil { return neg(.resourceBusy) }
        for slot in module.registersSlots { slots[slot] = module }
        loaded.append(module)
        return 0
    }

    private func unload(_ module: TransportModule) -> Int {
        guard loaded.contains(module) else { return neg(.noSuchFileOrDirectory) }
        if references[module, default: 0] > 0 && mutant != .unloadWhileReferenced { return neg(.wouldBlock) }
        for (slot, holder) in slots where holder == module { slots[slot] = nil }
        loaded.removeAll { $0 == module }
        return 0
    }

    private func get(_ module: TransportModule) { references[module, default: 0] += 1 }
    private func put(_ module: TransportModule) { references[module, default: 0] -= 1 }

    // MARK: Lookups

    private func localCID(_ transport: TransportModule) -> UInt32 {
        switch transport {
        case .loopback: return VMAddr.cidLocal
        case .vhost: return VMAddr.cidHost
        default: return VMAddr.cidAny  // virtio without a device; VMCI without one
        }
    }

    private func useLocal(_ cid: UInt32) -> Bool {
        guard slots[.local] != nil else { return false }
        if cid == VMAddr.cidLocal { return true }
        if let g2h = slots[.g2h], mutant != .useLocalIgnoresG2HCID { return cid == localCID(g2h) }
        return cid == VMAddr.cidHost
    }

    private func connectibleLookup(_ cid: UInt32, _ flags: UInt8) -> TransportModule? {
        if useLocal(cid) { return slots[.local] }
        let toHost = flags & VMAddr.flagToHost != 0 && mutant != .toHostIgnored
        if cid <= VMAddr.cidHost || slots[.h2g] == nil || toHost { return slots[.g2h] }
        return slots[.h2g]
    }

    private func dgramLookup(_ cid: UInt32, _ flags: UInt8) -> TransportModule? {
        guard isV5 else { return slots[.dgram] }
        if mutant == .fallbackFirst { return slots[.dgram] ?? connectibleLookup(cid, flags) }
        return connectibleLookup(cid, flags) ?? slots[.dgram]
    }

    private func findCID(_ cid: UInt32) -> Bool {
        if cid == (slots[.g2h].map(localCID) ?? VMAddr.cidAny) { return true }
        if slots[.h2g] != nil && cid == VMAddr.cidHost { return true }
        if slots[.local] != nil && cid == VMAddr.cidLocal { return true }
        return false
    }

    // MARK: The environment: transport callbacks without devices

    private func call(_ transport: TransportModule, _ hook: TransportHook, _ returned: Int) -> Int {
        calls.append(TransportCall(transport, hook, returned: returned))
        return returned
    }

    private func dgramAllow(_ transport: TransportModule, _ cid: UInt32, _ port: UInt32) -> Bool {
        let allowed: Bool
        switch transport {
        case .vmci: allowed = cid != VMAddr.cidHypervisor || port == 1  // vmci_transport_dgram_allow
        case .loopback: allowed = profile == .vsockDgramV5               // v5 12: always; before: stub false
        default: allowed = false                                         // no device, no guest
        }
        return call(transport, .dgramAllow, allowed ? 1 : 0) != 0
    }

    private func dgramEnqueue(_ transport: TransportModule, _ cid: UInt32, _ length: Int) -> Int {
        let returned: Int
        switch transport {
        case .vmci: returned = cid == VMAddr.cidHost ? neg(.noRouteToHost) : neg(.invalidArgument)  // measured in the VM
        case .loopback: returned = length > 65_536 ? neg(.messageTooLong) : length
        default: returned = neg(.operationNotSupportedByDevice)
        }
        return call(transport, .dgramEnqueue, returned)
    }

    // MARK: socket / bind

    private func create(_ type: SocketType) -> SyscallResult {
        let socket = Socket(type: type)
        if type == .dgram {
            var transport = dgramLookup(VMAddr.cidAny, 0)
            // The whole series' intent (docs/vsock-dgram-v5-intent.md, 2.3): with loopback
            // loaded, a datagram socket can be created; this kernel puts it on loopback.
            if transport == nil, isV5, !isSeed, loaded.contains(.loopback) { transport = .loopback }
            if let transport {
                get(transport)
                socket.transport = transport
            } else if mutant != .createWithoutTransport {
                return errno(.operationNotSupportedByDevice)
            }
        }
        sockets.append(socket)
        return .value(3 + sockets.count)
    }

    private func bind(_ socket: Socket, _ address: SockAddrVM) -> Int {
        if socket.local != nil { return neg(.invalidArgument) }
        if address.cid != VMAddr.cidAny && !findCID(address.cid) { return neg(.addressNotAvailable) }
        if socket.type.isConnectible { return bindTable(socket, address, .connectible) }
        if let transport = socket.transport, !isV5 || transport == .vmci {
            let port = address.port == VMAddr.portAny ? nextVMCIPort : address.port
            if address.port == VMAddr.portAny { nextVMCIPort += 1 }
            let returned = call(transport, .dgramBind, transport == .vmci ? 0 : neg(.notSupportedOnSocket))
            if returned == 0 { socket.local = (address.cid, port, .transport) }
            return returned
        }
        if profile == .vsockDgramV5Upto03 { return neg(.invalidArgument) }
        return bindTable(socket, address, .dgram)
    }

    private func bindTable(_ socket: Socket, _ address: SockAddrVM, _ table: BindTable) -> Int {
        func taken(_ port: UInt32, _ cid: UInt32) -> Bool {
            sockets.contains { other in
                guard let local = other.local, other !== socket else { return false }
                let sameTable = local.table == table || (mutant == .sharedBindTable && local.table != .transport)
                return sameTable && local.port == port
                    && (local.cid == cid || local.cid == VMAddr.cidAny || cid == VMAddr.cidAny)
            }
        }
        var port = address.port
        if port == VMAddr.portAny {
            repeat {
                port = nextEphemeralPort
                nextEphemeralPort += 1
            } while taken(port, address.cid)
        } else if taken(port, address.cid) {
            return neg(.addressInUse)
        }
        socket.local = (address.cid, port, table)
        return 0
    }

    private func autobind(_ socket: Socket) -> Int {
        socket.local == nil ? bind(socket, .any) : 0
    }

    // MARK: connect

    private func assign(_ socket: Socket) -> Int {
        let chosen = socket.type == .dgram ? dgramLookup(socket.remote.cid, socket.remote.flags)
            : connectibleLookup(socket.remote.cid, socket.remote.flags)
        if let current = socket.transport, current == chosen { return 0 }
        guard let chosen else { return neg(.operationNotSupportedByDevice) }
        get(chosen)
        if let current = socket.transport {
            put(current)
            socket.transport = nil
        }
        if socket.type == .seqpacket {
            let allowed = chosen.hasSeqpacketAllow && call(chosen, .seqpacketAllow, chosen == .loopback ? 1 : 0) != 0
            if !allowed {
                put(chosen)
                return neg(.socketTypeNotSupported)
            }
        }
        socket.transport = chosen
        return 0
    }

    private func connect(_ socket: Socket, _ target: ConnectTarget) -> Int {
        if socket.type.isConnectible {
            guard case let .address(address) = target, address.hasValidFlags else { return neg(.invalidArgument) }
            socket.remote = address
            let assigned = assign(socket)
            if assigned != 0 { return assigned }
            let transport = socket.transport!
            if call(transport, .streamAllow, transport == .vmci && address.cid == VMAddr.cidHypervisor ? 0 : 1) == 0 {
                return neg(.networkUnreachable)
            }
            let bound = autobind(socket)
            if bound != 0 { return bound }
            let connected = call(transport, .connect, transport == .loopback ? 0
                                 : transport == .vmci ? neg(.noRouteToHost) : neg(.operationNotSupportedByDevice))
            return connected < 0 ? connected : neg(.nowInProgress)
        }
        guard case let .address(address) = target else {
            socket.remote = .any
            if mutant != .disconnectKeepsConnected { socket.connected = false }
            return 0
        }
        guard address.hasValidFlags else { return neg(.invalidArgument) }
        let bound = autobind(socket)
        if bound != 0 { return bound }
        if isV5 {
            // The series' intent (docs/vsock-dgram-v5-intent.md, 2.5): a failed connect leaves
            // the remote, the state and a connected socket's transport as they were.
            let (oldRemote, oldTransport, wasConnected) = (socket.remote, socket.transport, socket.connected)
            socket.remote = address
            if mutant != .connectKeepsTransport {
                let assigned = assign(socket)
                if assigned != 0 {
                    socket.remote = oldRemote
                    return assigned
                }
            }
            if !dgramAllow(socket.transport!, address.cid, address.port) {
                socket.remote = oldRemote
                if wasConnected, let oldTransport, socket.transport != oldTransport {
                    put(socket.transport!)
                    get(oldTransport)
                    socket.transport = oldTransport
                }
                return neg(.invalidArgument)
            }
        } else {
            if !dgramAllow(socket.transport!, address.cid, address.port) { return neg(.invalidArgument) }
            socket.remote = address
        }
        socket.connected = true
        return 0
    }

    // MARK: sendmsg

    private func sendmsg(_ socket: Socket, _ address: SockAddrVM?, _ length: Int) -> Int {
        let bound = autobind(socket)
        if bound != 0 { return bound }
        var transport = socket.transport
        var perPacket: TransportModule?
        defer { if let perPacket, mutant != .perPacketReferenceLeak { put(perPacket) } }
        let destination: SockAddrVM
        if let address, address.hasValidFlags {
            if isV5 {
                transport = dgramLookup(address.cid, address.flags)
                guard let found = transport else {
                    return neg(mutant == .noTransportENODEV ? .operationNotSupportedByDevice : .invalidArgument)
                }
                get(found)
                perPacket = found
            }
            if address.port == VMAddr.portAny && mutant != .portAnyAccepted { return neg(.invalidArgument) }
            destination = address
        } else if socket.connected {
            // The real v5 kernel dereferences a NULL transport here; the simulation fails instead.
            guard let current = transport else { return neg(.badAddress) }
            // af_vsock.c:1259: CID ANY becomes the transport's own (VMCI: the host context, 2, as
            // in the test VM).
            if socket.remote.cid == VMAddr.cidAny {
                socket.remote.cid = current == .vmci ? VMAddr.cidHost : VsockConfiguration().localCID(of: current)
            }
            if socket.remote.port == VMAddr.portAny { return neg(.invalidArgument) }
            destination = socket.remote
        } else {
            return neg(.invalidArgument)
        }
        guard let transport else { return neg(.badAddress) }
        if !dgramAllow(transport, destination.cid, destination.port) { return neg(.invalidArgument) }
        let sent = dgramEnqueue(transport, destination.cid, length)
        if sent >= 0, transport == .loopback {
            // loopback's send_pkt; the mutant sends with the socket's own transport's (finding 5)
            // and, like a kernel whose other transport had a device, still returns the length.
            transmissions.append(mutant == .sentBySocketTransport ? socket.transport ?? transport : transport)
            loopbackDeliver(from: socket, to: destination, length: length)
        }
        return sent
    }

    // MARK: Loopback delivery and recvmsg

    /// vsock_loopback's worker, run at once: virtio_transport_recv_pkt() finds the datagram
    /// socket bound at the destination (patches 08-09) and queues the skb on it, if it is on
    /// loopback (the stable check the adaptation keeps); otherwise the packet is dropped.
    private func loopbackDeliver(from sender: Socket, to destination: SockAddrVM, length: Int) {
        let payload = DatagramPayload.bytes(tag: operations, length: length)
        let source = SockAddrVM(cid: VMAddr.cidLocal, port: sender.local?.port ?? VMAddr.portAny)
        let receiver = sockets.first { socket in
            guard socket.type == .dgram, let local = socket.local, local.table == .dgram, local.port == destination.port else {
                return false
            }
            return local.cid == destination.cid || local.cid == VMAddr.cidAny || destination.cid == VMAddr.cidAny
                || mutant == .deliverIgnoresCID
        }
        guard let receiver, receiver.transport == .loopback else { return }
        receiver.queue.append((payload, source, destination))
    }

    /// vsock_connectible_recvmsg() (not established: ENOTCONN) or patch 01's generic
    /// vsock_dgram_recvmsg() with MSG_DONTWAIT.
    private func recvmsg(_ socket: Socket, buffer: Int, source: Bool) -> SyscallResult {
        if socket.type.isConnectible { return errno(.socketNotConnected) }
        guard !socket.queue.isEmpty else { return errno(.resourceTemporarilyUnavailable) }
        let (payload, sender, destination) = mutant == .recvLeavesDatagramQueued ? socket.queue[0] : socket.queue.removeFirst()
        let copied = min(buffer, payload.count)
        let (head, intact) = payload.prefix(copied).withUnsafeBytes { DatagramPayload.inspect($0) }
        var reported = sender
        // Live mutant 16: the header's destination, as the sender named it, for its source.
        if mutant == .sourceIsDestination { reported = SockAddrVM(cid: destination.cid, port: destination.port) }
        if source { learnedPorts.learn(reported.port) }
        return .received(ReceivedDatagram(copied: copied, truncated: copied < payload.count && mutant != .recvNoTruncFlag,
                                          head: head, intact: intact, source: source ? reported : nil))
    }
}
