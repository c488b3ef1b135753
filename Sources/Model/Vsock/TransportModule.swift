/// A vsock transport, named by the kernel module that provides it.
public enum TransportModule: String, CaseIterable, Hashable, Sendable, Codable, CodingKeyRepresentable, CustomStringConvertible {
    /// `vsock_loopback`: registers `VSOCK_TRANSPORT_F_LOCAL`.
    case loopback = "vsock_loopback"
    /// `vmw_vsock_virtio_transport`: registers `VSOCK_TRANSPORT_F_G2H` at init, device or not.
    case virtio = "vmw_vsock_virtio_transport"
    /// `vhost_vsock`: registers `VSOCK_TRANSPORT_F_H2G`.
    case vhost = "vhost_vsock"
    /// `vmw_vsock_vmci_transport`: registers `VSOCK_TRANSPORT_F_DGRAM` (renamed
    /// `_DGRAM_FALLBACK` by v5 03) at init; H2G/G2H only once a VMCI device appears.
    case vmci = "vmw_vsock_vmci_transport"
    /// `hv_sock`: registers G2H, and only on Hyper-V (else its init fails before registering).
    /// Modelled so the all-or-nothing registration rule can be stated; not loadable here.
    case hyperv = "hv_sock"

    public var description: String { rawValue }

    /// The short name used in tables and reproducers.
    public var shortName: String {
        switch self {
        case .loopback: return "loopback"
        case .virtio: return "virtio"
        case .vhost: return "vhost"
        case .vmci: return "vmci"
        case .hyperv: return "hyperv"
        }
    }

    /// Looks a transport up by module name or short name.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.rawValue == name || $0.shortName == name }) else {
            return nil
        }
        self = match
    }

    /// The registration slots this module claims in `vsock_core_register()` at module init.
    /// Sources: `vsock_loopback_init`, `virtio_vsock_init`, `vhost_vsock_init`,
    /// `vmci_transport_init`, `hvs_init` (6.1.176).
    public var registersSlots: [TransportSlot] {
        switch self {
        case .loopback: return [.local]
        case .virtio: return [.g2h]
        case .vhost: return [.h2g]
        case .vmci: return [.dgram]
        case .hyperv: return [.g2h]
        }
    }

    /// The module's index in `allCases`, for fixed tables.
    var ordinal: Int {
        switch self {
        case .loopback: return 0
        case .virtio: return 1
        case .vhost: return 2
        case .vmci: return 3
        case .hyperv: return 4
        }
    }

    /// The transports built on the virtio family's shared code (`virtio_transport_common`), whose
    /// packets leave through their own `send_pkt`.
    public var isVirtioFamily: Bool { self == .loopback || self == .virtio || self == .vhost }

    /// Whether the transport sets `.seqpacket_allow` (VMCI does not: SEQPACKET → ESOCKTNOSUPPORT).
    public var hasSeqpacketAllow: Bool { self != .vmci && self != .hyperv }
}

/// The four transport slots of `af_vsock.c`.
public enum TransportSlot: String, CaseIterable, Hashable, Sendable, Codable {
    /// `transport_h2g`: host → guest.
    case h2g
    /// `transport_g2h`: guest → host.
    case g2h
    /// `transport_local`: loopback.
    case local
    /// `transport_dgram` (mainline) / `transport_dgram_fallback` (v5 03).
    case dgram
}

/// The transport callbacks the models speak about (members of `struct vsock_transport`).
/// They are observed where they run; their *results* are the environment's, the model checks
/// which transport's callback the core called and how the core used its result.
public enum TransportHook: String, CaseIterable, Hashable, Sendable, Codable {
    case dgramBind = "dgram_bind"
    case dgramAllow = "dgram_allow"
    case dgramEnqueue = "dgram_enqueue"
    case streamAllow = "stream_allow"
    case seqpacketAllow = "seqpacket_allow"
    case connect = "connect"
    /// `virtio_transport.send_pkt`: puts a packet on the transport's wire (virtio family only).
    /// Observed as a transmission (``VsockObservation/transmissions``), not among the calls.
    case sendPkt = "send_pkt"

    /// Boolean callbacks return 1 (allowed) or 0; the others return 0/bytes or a negative errno.
    public var isPredicate: Bool { self == .dgramAllow || self == .streamAllow || self == .seqpacketAllow }
}
