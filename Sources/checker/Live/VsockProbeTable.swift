import Model
import Probes

/// Which kernel functions the live vsock backend probes, and what each one tells.
///
/// Transport callbacks are probed where they run, and where that is is read from
/// `/proc/kallsyms` when a module loads, not assumed: a series may move a callback between
/// modules (v5 13 turns the virtio family's shared `virtio_transport_dgram_allow` into virtio's
/// own). A callback in a transport's module names that transport by itself. One in the virtio
/// family's shared code (vmw_vsock_virtio_transport_common) is attributed at run time: to the
/// module of the socket's transport (`vsk->transport->module`), or, when a `sendto()` took and
/// dropped a per-packet module reference (v5 03), to the module whose reference was dropped.
///
/// Functions a kernel lacks (v5 03 deletes `virtio_transport_dgram_bind`; v5 11–13 add
/// `vhost_transport_dgram_allow` and `vsock_loopback_dgram_allow`) are not probed.
struct VsockProbeTable {
    struct Callback {
        let function: String
        let hook: TransportHook
        let arg0IsVsockSock: Bool
    }

    static let callbacks: [Callback] = [
        Callback(function: "vmci_transport_dgram_bind", hook: .dgramBind, arg0IsVsockSock: true),
        Callback(function: "vmci_transport_dgram_allow", hook: .dgramAllow, arg0IsVsockSock: false),
        Callback(function: "vmci_transport_dgram_enqueue", hook: .dgramEnqueue, arg0IsVsockSock: true),
        Callback(function: "vmci_transport_stream_allow", hook: .streamAllow, arg0IsVsockSock: false),
        Callback(function: "vmci_transport_connect", hook: .connect, arg0IsVsockSock: true),
        Callback(function: "virtio_transport_seqpacket_allow", hook: .seqpacketAllow, arg0IsVsockSock: false),
        Callback(function: "vhost_transport_seqpacket_allow", hook: .seqpacketAllow, arg0IsVsockSock: false),
        Callback(function: "vsock_loopback_seqpacket_allow", hook: .seqpacketAllow, arg0IsVsockSock: false),
        Callback(function: "vhost_transport_dgram_allow", hook: .dgramAllow, arg0IsVsockSock: false),
        Callback(function: "vsock_loopback_dgram_allow", hook: .dgramAllow, arg0IsVsockSock: false),
        Callback(function: "virtio_transport_dgram_bind", hook: .dgramBind, arg0IsVsockSock: true),
        Callback(function: "virtio_transport_dgram_allow", hook: .dgramAllow, arg0IsVsockSock: false),
        Callback(function: "virtio_transport_dgram_enqueue", hook: .dgramEnqueue, arg0IsVsockSock: true),
        Callback(function: "virtio_transport_stream_allow", hook: .streamAllow, arg0IsVsockSock: false),
        Callback(function: "virtio_transport_connect", hook: .connect, arg0IsVsockSock: true),
        // Where a packet really leaves: each virtio-family transport's own send_pkt (static, but
        // called through the ops table, so never inlined). A datagram accepted by one transport
        // and sent by another shows here even when the syscall's result looks right.
        Callback(function: "virtio_transport_send_pkt", hook: .sendPkt, arg0IsVsockSock: false),
        Callback(function: "vhost_transport_send_pkt", hook: .sendPkt, arg0IsVsockSock: false),
        Callback(function: "vsock_loopback_send_pkt", hook: .sendPkt, arg0IsVsockSock: false),
    ]

    /// A callback found in a loaded module: the transport it belongs to, nil for shared code.
    struct Placement {
        let callback: Callback
        let module: String
        var transport: TransportModule? { module == VsockProbeTable.common ? nil : TransportModule(rawValue: module) }
        var spec: ProbeSpec {
            // A callback that names its transport by itself needs only its return.
            ProbeSpec(function: callback.function, flags: callback.arg0IsVsockSock ? .arg0IsVsockSock : [],
                      returnOnly: transport != nil)
        }
    }

    /// The callbacks that live in `module`, given the functions it defines.
    static func placements(in module: String, functions: Set<String>) -> [Placement] {
        callbacks.filter { functions.contains($0.function) }.map { Placement(callback: $0, module: module) }
    }

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

    /// Where a socket is destroyed and its transport's module reference dropped
    /// (`vsock_sk_destruct` → `vsock_deassign_transport` → `module_put`, af_vsock.c in 6.1.176).
    /// Seen in the closing thread, it tells that a close needs no waiting for the counts to settle.
    static let destruction = ProbeSpec(function: "vsock_sk_destruct")
}
