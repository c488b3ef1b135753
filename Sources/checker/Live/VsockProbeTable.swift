import Model
import Probes

/// Which kernel functions the live vsock backend probes, and what each one tells.
///
/// Transport callbacks are probed where they run. A function that belongs to one transport
/// (`vmci_transport_dgram_bind`) names its transport by itself. The virtio family shares its
/// functions between virtio, vhost and loopback (`virtio_transport_dgram_allow`, in
/// vmw_vsock_virtio_transport_common): for those the probe reports the module of the socket's
/// transport (`vsk->transport->module`), or, when a `sendto()` took and dropped a per-packet module
/// reference (v5 03), the module whose reference was dropped.
///
/// Functions a kernel lacks (v5 03 deletes `virtio_transport_dgram_bind`; v5 11–13 add
/// `vhost_transport_dgram_allow` and `vsock_loopback_dgram_allow`) are skipped by name.
struct VsockProbeTable {
    struct Callback {
        let function: String
        let hook: TransportHook
        /// nil: shared by the virtio family, attributed at run time.
        let transport: TransportModule?
        /// The kernel module the function lives in: probes attach after it loads, detach before it unloads.
        let module: String
        let arg0IsVsockSock: Bool
    }

    static let callbacks: [Callback] = [
        Callback(function: "vmci_transport_dgram_bind", hook: .dgramBind, transport: .vmci, module: TransportModule.vmci.rawValue, arg0IsVsockSock: true),
        Callback(function: "vmci_transport_dgram_allow", hook: .dgramAllow, transport: .vmci, module: TransportModule.vmci.rawValue, arg0IsVsockSock: false),
        Callback(function: "vmci_transport_dgram_enqueue", hook: .dgramEnqueue, transport: .vmci, module: TransportModule.vmci.rawValue, arg0IsVsockSock: true),
        Callback(function: "vmci_transport_stream_allow", hook: .streamAllow, transport: .vmci, module: TransportModule.vmci.rawValue, arg0IsVsockSock: false),
        Callback(function: "vmci_transport_connect", hook: .connect, transport: .vmci, module: TransportModule.vmci.rawValue, arg0IsVsockSock: true),
        Callback(function: "virtio_transport_seqpacket_allow", hook: .seqpacketAllow, transport: .virtio, module: TransportModule.virtio.rawValue, arg0IsVsockSock: false),
        Callback(function: "vhost_transport_seqpacket_allow", hook: .seqpacketAllow, transport: .vhost, module: TransportModule.vhost.rawValue, arg0IsVsockSock: false),
        Callback(function: "vsock_loopback_seqpacket_allow", hook: .seqpacketAllow, transport: .loopback, module: TransportModule.loopback.rawValue, arg0IsVsockSock: false),
        Callback(function: "vhost_transport_dgram_allow", hook: .dgramAllow, transport: .vhost, module: TransportModule.vhost.rawValue, arg0IsVsockSock: false),
        Callback(function: "vsock_loopback_dgram_allow", hook: .dgramAllow, transport: .loopback, module: TransportModule.loopback.rawValue, arg0IsVsockSock: false),
        Callback(function: "virtio_transport_dgram_bind", hook: .dgramBind, transport: nil, module: common, arg0IsVsockSock: true),
        Callback(function: "virtio_transport_dgram_allow", hook: .dgramAllow, transport: nil, module: common, arg0IsVsockSock: false),
        Callback(function: "virtio_transport_dgram_enqueue", hook: .dgramEnqueue, transport: nil, module: common, arg0IsVsockSock: true),
        Callback(function: "virtio_transport_stream_allow", hook: .streamAllow, transport: nil, module: common, arg0IsVsockSock: false),
        Callback(function: "virtio_transport_connect", hook: .connect, transport: nil, module: common, arg0IsVsockSock: true),
    ]

    /// The virtio family's shared code.
    static let common = "vmw_vsock_virtio_transport_common"

    /// The core's entry points: they mark which socket a thread is working on (so shared
    /// callbacks without a socket argument can be attributed) and give evidence for reports.
    static let core: [ProbeSpec] = [
        ProbeSpec(function: "vsock_dgram_sendmsg", flags: .arg0IsSocket),
        ProbeSpec(function: "vsock_dgram_connect", flags: .arg0IsSocket),
        ProbeSpec(function: "vsock_connect", flags: .arg0IsSocket),
        ProbeSpec(function: "vsock_bind", flags: .arg0IsSocket),
        ProbeSpec(function: "vsock_assign_transport", flags: .reportTransportAfterReturn),
    ]

    static func spec(_ callback: Callback) -> ProbeSpec {
        // A callback that names its transport by itself needs only its return.
        ProbeSpec(function: callback.function, flags: callback.arg0IsVsockSock ? .arg0IsVsockSock : [],
                  returnOnly: callback.transport != nil)
    }

    static func callback(named function: String) -> Callback? {
        callbacks.first { $0.function == function }
    }
}
