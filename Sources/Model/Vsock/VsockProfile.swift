/// A semantics profile: which version of the vsock core the model states.
///
/// `mainline` is Debian's unpatched 6.1.176; `vsock-dgram-v5` is the whole v5 series
/// ("virtio/vsock: support datagrams", 01–14); `vsock-dgram-v5-03` stops after patch 03, the
/// seed, where datagram sockets without a `dgram_bind` callback cannot bind at all.
public struct VsockProfile: Hashable, Sendable, CustomStringConvertible {
    /// How a datagram socket's transport is chosen.
    public enum DgramLookup: Hashable, Sendable {
        /// Mainline: only the DGRAM slot (`transport_dgram`, i.e. VMCI) serves SOCK_DGRAM.
        case dgramSlotOnly
        /// v5 03: `vsock_dgram_lookup_transport()` = connectible lookup, then the fallback slot;
        /// at socket creation, on `connect()`, and per packet on `sendto()` with an address.
        case connectibleThenFallback
    }

    /// How `bind()` treats a datagram socket whose transport has no `dgram_bind` callback.
    public enum DgramBindWithoutCallback: Hashable, Sendable {
        /// Mainline: every transport that can serve SOCK_DGRAM has the callback.
        case notReachable
        /// v5 03: `__vsock_bind_dgram()` returns `-EINVAL`.
        case einval
        /// v5 05: the socket binds in the core's separate datagram bind table.
        case dgramBindTable
    }

    /// What `socket(SOCK_DGRAM)` may do (docs/vsock-dgram-v5-intent.md, 2.3).
    public enum DgramCreation: Hashable, Sendable {
        /// Mainline: the DGRAM slot's transport, or ENODEV.
        case dgramSlot
        /// Patches 01-03: VMCI when it is the only transport; otherwise unclear (ENODEV, the
        /// lookup's transport, or none).
        case seedIntent
        /// The whole series: must succeed once a local, G2H or H2G transport is loaded; which
        /// transport it takes is unclear.
        case seriesIntent
    }

    public let name: String
    public let dgramLookup: DgramLookup
    public let dgramBindWithoutCallback: DgramBindWithoutCallback
    public let dgramCreation: DgramCreation

    /// Whether `transport` has a `.dgram_bind` callback under this profile. v5 03 removes it
    /// from virtio, vhost, loopback and hyperv; only VMCI keeps it.
    public func hasDgramBind(_ transport: TransportModule) -> Bool {
        switch dgramLookup {
        case .dgramSlotOnly: return true
        case .connectibleThenFallback: return transport == .vmci
        }
    }

    /// Unpatched Debian 6.1.176.
    public static let mainline = VsockProfile(
        name: "mainline", dgramLookup: .dgramSlotOnly, dgramBindWithoutCallback: .notReachable, dgramCreation: .dgramSlot)
    /// Patches 01–03 of the v5 series.
    public static let vsockDgramV5Upto03 = VsockProfile(
        name: "vsock-dgram-v5-03", dgramLookup: .connectibleThenFallback, dgramBindWithoutCallback: .einval,
        dgramCreation: .seedIntent)
    /// The whole v5 series (01–14).
    public static let vsockDgramV5 = VsockProfile(
        name: "vsock-dgram-v5", dgramLookup: .connectibleThenFallback, dgramBindWithoutCallback: .dgramBindTable,
        dgramCreation: .seriesIntent)

    /// Every profile, by name.
    public static let all: [VsockProfile] = [.mainline, .vsockDgramV5, .vsockDgramV5Upto03]

    /// Looks a profile up by name.
    public static func named(_ name: String) -> VsockProfile? { all.first { $0.name == name } }

    public var description: String { name }
}

/// Facts about the machine the model cannot derive and does not guess: they are inputs.
public struct VsockConfiguration: Hashable, Sendable {
    /// What `transport_g2h->get_local_cid()` answers. virtio without a device answers
    /// `VMADDR_CID_ANY` (`virtio_transport_get_local_cid`, 6.1.176), which is the default.
    public var g2hLocalCID: UInt32
    /// Whether the caller has `CAP_NET_BIND_SERVICE` (ports ≤ 1023 need it).
    public var privileged: Bool

    public init(g2hLocalCID: UInt32 = VMAddr.cidAny, privileged: Bool = true) {
        self.g2hLocalCID = g2hLocalCID
        self.privileged = privileged
    }

    /// The local CID a transport reports, where the model needs it.
    public func localCID(of transport: TransportModule) -> UInt32 {
        switch transport {
        case .loopback: return VMAddr.cidLocal          // vsock_loopback_get_local_cid
        case .vhost: return VMAddr.cidHost               // vhost_transport_get_local_cid
        case .virtio, .hyperv: return g2hLocalCID
        case .vmci: return VMAddr.cidAny                 // vmci_get_context_id(): the environment's, not known here
        }
    }
}
