import Generators
import Model

/// A planted bug: one rule of the vsock core deliberately broken in ``SimulatedVsockKernel``.
///
/// Mutants exist to measure the engine: each must be found and shrunk to a sequence of exactly
/// ``minimalLength`` operations (the shortest sequence that can show the bug, argued per case).
public enum VsockMutant: String, CaseIterable, Sendable {
    /// `vsock_dgram_lookup_transport()` consults the fallback (VMCI) before the connectible
    /// lookup. Minimal: load vmci, load virtio, socket(DGRAM) → VMCI holds the reference.
    case fallbackFirst = "fallback-first"
    /// The connectible lookup ignores `VMADDR_FLAG_TO_HOST`. Minimal: load vhost, load virtio,
    /// socket, sendto/connect CID>2 with TO_HOST → H2G instead of G2H.
    case toHostIgnored = "to-host-ignored"
    /// `sendto()` keeps the per-packet module reference. Minimal: load, socket, sendto.
    case perPacketReferenceLeak = "per-packet-reference-leak"
    /// v5 `connect()` does not reassign the transport. Minimal: two loads, socket, connect.
    case connectKeepsTransport = "connect-keeps-transport"
    /// A per-packet lookup that finds nothing returns ENODEV instead of EINVAL. Minimal: load
    /// vhost, socket, sendto CID ≤ 2.
    case noTransportENODEV = "no-transport-enodev"
    /// A module whose transport is referenced unloads anyway. Minimal: load vmci, socket, unload.
    case unloadWhileReferenced = "unload-while-referenced"
    /// Mainline creates a datagram socket without a DGRAM transport (as v6 does). Minimal: socket.
    case createWithoutTransport = "create-without-transport"
    /// `vsock_use_local_transport()` ignores the G2H transport's own CID. Minimal: load virtio,
    /// load loopback, socket(DGRAM) → virtio instead of loopback.
    case useLocalIgnoresG2HCID = "use-local-ignores-g2h-cid"
    /// Datagram and connectible binds share one table (v5 05 undone). Minimal: load, socket
    /// STREAM, bind p, socket DGRAM, bind p → EADDRINUSE.
    case sharedBindTable = "shared-bind-table"
    /// Mainline `sendto()` passes a destination port `VMADDR_PORT_ANY` on to the transport
    /// instead of failing with EINVAL. Minimal: load vmci, socket, sendto port ANY.
    case portAnyAccepted = "port-any-accepted"
    /// A receive truncates a datagram without `MSG_TRUNC`. Minimal: load loopback, socket, bind
    /// (ANY, p), a sendto to itself at (1, p), a receive with a shorter buffer.
    case recvNoTruncFlag = "recv-no-trunc-flag"
    /// `recvfrom()` reports the header's destination, the address the sender named, as the
    /// source (live mutant 16's twin). Minimal: load loopback, two sockets, bind one (ANY, p),
    /// the other sends to (1, p), recvfrom: a socket sending to itself at (1, p) shows nothing
    /// (destination and source are one address), and one sending to itself at (ANY, p) is a
    /// delivery the model leaves unclear (docs/vsock-dgram-v5-intent.md, N1: to CID ANY it only
    /// may arrive).
    case sourceIsDestination = "source-is-destination"
    /// A datagram loopback accepted leaves through the socket's own transport's `send_pkt`
    /// (finding 5's shape, silent: the length is returned). Minimal: load virtio, socket (on
    /// virtio), load loopback, sendto CID 1 (loopback accepts, virtio sends).
    case sentBySocketTransport = "sent-by-socket-transport"
    /// Loopback delivers a datagram to the socket bound at its port whatever the CID (live
    /// mutant 13's twin). Minimal: load loopback, socket, bind (1, p), sendto (2, p) (loopback
    /// serves CID 2 while no G2H transport is loaded), a receive on that socket.
    case deliverIgnoresCID = "deliver-ignores-cid"
    /// A receive returns the datagram at the head of the queue without taking it off (live mutant
    /// 18's twin). Minimal: load loopback, socket, bind (ANY, p), sendto (1, p), two receives.
    case recvLeavesDatagramQueued = "recv-leaves-datagram-queued"
    /// A datagram `connect(AF_UNSPEC)` clears the peer but leaves the socket connected (live
    /// mutant 21's twin): `getpeername()` then returns (ANY, ANY) instead of ENOTCONN. Minimal:
    /// load loopback, socket, connect (1, p), connect AF_UNSPEC, getpeername.
    case disconnectKeepsConnected = "disconnect-keeps-connected"

    /// The profile the mutant is planted in.
    public var profile: VsockProfile {
        switch self {
        case .unloadWhileReferenced, .createWithoutTransport, .portAnyAccepted: return .mainline
        default: return .vsockDgramV5
        }
    }

    /// The length of the shortest sequence that shows the bug, for each divergence signature the
    /// bug can show as (the shrinker keeps the signature it started from). Argued per entry.
    public var minimalLengths: [DivergenceSignature: Int] {
        func at(_ kind: VsockOperationKind, _ mismatch: Mismatch.Kind) -> DivergenceSignature {
            DivergenceSignature(operationKind: kind.rawValue, mismatch: mismatch)
        }
        switch self {
        case .fallbackFirst:
            // load vmci, load virtio, socket → VMCI is referenced instead of virtio. Seen later
            // (socket first, vmci loaded after), a sendto/connect needs a fourth step.
            return [at(.socket, .refcount): 3, at(.sendto, .transport): 4, at(.connect, .transport): 4]
        case .toHostIgnored:
            // Both H2G and G2H loaded, a socket, one addressed step with TO_HOST.
            return [at(.sendto, .transport): 4, at(.connect, .transport): 4]
        case .perPacketReferenceLeak:
            // load, socket, sendto.
            return [at(.sendto, .refcount): 3]
        case .connectKeepsTransport:
            // Reassignment to another transport: two loads, socket, connect. Reassignment to none
            // (ENODEV expected, the old transport asked instead): load vhost, socket, connect CID 2.
            return [at(.connect, .transport): 4, at(.connect, .refcount): 4, at(.connect, .callbacks): 3]
        case .noTransportENODEV:
            // load vhost, socket (on H2G), sendto CID ≤ 2 (no G2H, no fallback).
            return [at(.sendto, .result): 3]
        case .unloadWhileReferenced:
            return [at(.unloadTransport, .result): 3]
        case .createWithoutTransport:
            return [at(.socket, .result): 1]
        case .useLocalIgnoresG2HCID:
            // load virtio, load loopback, socket → virtio instead of loopback; later steps need four.
            return [at(.socket, .refcount): 3, at(.sendto, .transport): 4, at(.connect, .transport): 4]
        case .sharedBindTable:
            // load, socket STREAM, socket DGRAM, bind, bind (either order); or through a port the
            // kernel chose: load, two sockets, an auto-bind (send or bind to port ANY),
            // getsockname, bind-learned to that port.
            return [at(.bind, .result): 5, at(.bindLearned, .result): 6]
        case .portAnyAccepted:
            return [at(.sendto, .callbacks): 3]
        case .recvNoTruncFlag:
            // 4 exists (a sendto to the port its own auto-bind takes, with no bind), but the
            // generator names a port the kernel chose only once getsockname showed it: 5, with
            // the bind that names the port.
            return [at(.recv, .result): 5, at(.recvfrom, .result): 5]
        case .sourceIsDestination:
            return [at(.recvfrom, .result): 6]
        case .sentBySocketTransport:
            return [at(.sendto, .transmission): 4]
        case .deliverIgnoresCID:
            // load loopback, socket, bind (1, p), sendto (2, p) (loopback serves CID 2 while no G2H
            // is loaded), a receive gets it. Found as often with CID 2 bound (vhost loaded first)
            // and CID 1 sent to: the rewrite-then-delete pass exchanges the CIDs and drops the load.
            return [at(.recv, .result): 5, at(.recvfrom, .result): 5]
        case .disconnectKeepsConnected:
            return [at(.getpeername, .result): 5]
        case .recvLeavesDatagramQueued:
            return [at(.recv, .result): 6, at(.recvfrom, .result): 6]
        }
    }
}
