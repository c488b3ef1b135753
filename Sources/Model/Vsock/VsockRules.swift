/// The rules of the vsock socket model, each citing where it comes from.
///
/// Registration and lookup rules live beside their code (`TransportRegistry`, `TransportLookup`).
/// Hunks cite the v5 series as posted; lines cite Debian's `linux-source-6.1` 6.1.176.
enum VsockRules {
    private static func mainline(_ line: Int, _ function: String, file: String = "net/vmw_vsock/af_vsock.c") -> Citation {
        .source(tree: "linux 6.1.176", file: file, line: line, function: function)
    }
    private static func v5(_ patch: Int, _ hunk: String, _ function: String) -> Citation {
        .hunk(series: "vsock-dgram-v5", patch: patch, file: "net/vmw_vsock/af_vsock.c", hunk: hunk, function: function)
    }

    // socket()
    static let createConnectible = Rule(
        id: "vsock.create.connectible-no-transport",
        summary: "STREAM and SEQPACKET sockets are created without a transport",
        source: mainline(2357, "vsock_create"))
    static let createDgramSlot = Rule(
        id: "vsock.create.dgram.dgram-slot",
        summary: "a datagram socket takes the DGRAM transport (VMCI) and a reference on it",
        source: mainline(469, "vsock_assign_transport"))
    static let createDgramLookup = Rule(
        id: "vsock.create.dgram.lookup",
        summary: "a datagram socket takes vsock_dgram_lookup_transport(VMADDR_CID_ANY, 0) and a reference on it",
        source: v5(3, "@@ -475,7 +487,8 @@", "vsock_assign_transport"))
    // v5, intent (docs/vsock-dgram-v5-intent.md, 2.3): which transport a new datagram socket
    // takes is not said; that it can be created once a datagram-capable transport is loaded is.
    static let createDgramSupported = Rule(
        id: "vsock.create.dgram.supported",
        summary: "with a local, G2H or H2G transport loaded, socket(SOCK_DGRAM) succeeds (patches 11-13 implement datagrams on vhost, loopback and virtio). Unclear intent: the socket takes lookup(VMADDR_CID_ANY), the local transport, VMCI, or no transport until connect/sendto",
        source: .message(series: "vsock-dgram-v5", where: "patch 12 message",
                         quote: "This commit implements datagram support for vsock loopback."))
    static let createDgramNoTransport = Rule(
        id: "vsock.create.dgram.no-transport",
        summary: "Unclear intent: a datagram socket may be created with no transport (the transport is assigned by connect() or looked up per packet), taking no module reference",
        source: .message(series: "vsock-dgram-v5", where: "Bobby Eshleman, 3 Aug 2023, on patch 03",
                         quote: "the vsock_assign_transport() call can be removed from vsock_create() call entirely"))
    static let createDgramSeedUnclear = Rule(
        id: "vsock.create.dgram.seed-unclear",
        summary: "patches 01-03 alone carry no datagram over virtio, vhost or loopback, and patch 03's message does not speak of creation: unclear intent, ENODEV, a socket on lookup(VMADDR_CID_ANY) or one with no transport",
        source: .message(series: "vsock-dgram-v5", where: "patch 03 message",
                         quote: "the \"transport_dgram\" transport is the only registered transport and so needs to be used"))
    static let dgramConnectFailedUnchanged = Rule(
        id: "vsock.connect.dgram.failed-unchanged",
        summary: "v5: a datagram connect() that fails (dgram_allow false → EINVAL, no transport → ENODEV) leaves the remote address, the connected state and, on a connected socket, the transport as they were",
        source: .message(series: "vsock-dgram-v5", where: "cover letter, changelog v3",
                         quote: "the transport and remote_addr are always in sync"))
    static let dgramConnectFailedTransport = Rule(
        id: "vsock.connect.dgram.failed-transport-unclear",
        summary: "Unclear intent: a datagram connect() refused by dgram_allow on a socket that was not connected may keep its old transport or keep the one it looked up (as a refused connectible connect does); remote and state stay as they were either way",
        source: .message(series: "vsock-dgram-v5", where: "patch 03 message",
                         quote: "connect() now assigns the transport for (similar to connectible sockets)"))
    static let assignNoTransport = Rule(
        id: "vsock.assign.enodev",
        summary: "no transport for the socket (or try_module_get fails) → ENODEV",
        source: mainline(494, "vsock_assign_transport"))

    // bind()
    static let addressInvalid = Rule(
        id: "vsock.addr.einval",
        summary: "an address with flags other than VMADDR_FLAG_TO_HOST fails vsock_addr_cast → EINVAL",
        source: mainline(33, "vsock_addr_validate", file: "net/vmw_vsock/vsock_addr.c"))
    static let alreadyBound = Rule(
        id: "vsock.bind.already-bound",
        summary: "binding a bound socket → EINVAL",
        source: mainline(741, "__vsock_bind"))
    static let notLocalCID = Rule(
        id: "vsock.bind.eaddrnotavail",
        summary: "binding a CID that is not ours (vsock_find_cid) → EADDRNOTAVAIL",
        source: mainline(749, "__vsock_bind"))
    static let dgramBindCallback = Rule(
        id: "vsock.bind.dgram.callback",
        summary: "a datagram bind is the transport's dgram_bind; its result is the syscall's",
        source: mainline(732, "__vsock_bind_dgram"))
    static let dgramBindNoCallback03 = Rule(
        id: "vsock.bind.dgram.no-callback-einval",
        summary: "a datagram socket whose transport has no dgram_bind cannot bind → EINVAL",
        source: v5(3, "@@ -692,6 +705,9 @@", "__vsock_bind_dgram"))
    static let dgramBindTable = Rule(
        id: "vsock.bind.dgram.table",
        summary: "without dgram_bind, a datagram socket binds in the separate datagram table",
        source: v5(5, "@@ -722,11 +763,19 @@", "vsock_bind_dgram"))
    static let tableEphemeral = Rule(
        id: "vsock.bind.ephemeral",
        summary: "VMADDR_PORT_ANY gets a port above LAST_RESERVED_PORT that no socket of the same table holds (checked when getsockname reveals it)",
        source: mainline(695, "__vsock_bind_connectible"))
    static let tableReserved = Rule(
        id: "vsock.bind.eacces",
        summary: "a port ≤ 1023 without CAP_NET_BIND_SERVICE → EACCES",
        source: mainline(707, "__vsock_bind_connectible"))
    static let tableInUse = Rule(
        id: "vsock.bind.eaddrinuse",
        summary: "a port bound in the same table, with an equal CID or either CID ANY → EADDRINUSE",
        source: mainline(712, "__vsock_bind_connectible"))
    static let tableBound = Rule(
        id: "vsock.bind.ok",
        summary: "the socket is bound to the address",
        source: mainline(716, "__vsock_bind_connectible"))

    // connect()
    static let dgramDisconnect = Rule(
        id: "vsock.connect.dgram.unspec",
        summary: "AF_UNSPEC disconnects a datagram socket: remote (ANY, ANY), unconnected, returns 0",
        source: mainline(1299, "vsock_dgram_connect"))
    static let dgramConnectAllow = Rule(
        id: "vsock.connect.dgram.allow",
        summary: "dgram_allow false → EINVAL; true → connected",
        source: mainline(1315, "vsock_dgram_connect"))
    static let dgramConnectAssigns = Rule(
        id: "vsock.connect.dgram.assigns",
        summary: "connect() stores the remote, then reassigns the transport by lookup (old one released)",
        source: v5(3, "@@ -1256,13 +1291,18 @@", "vsock_dgram_connect"))
    static let connectibleUnspec = Rule(
        id: "vsock.connect.stream.unspec-einval",
        summary: "a connectible socket refuses AF_UNSPEC: vsock_addr_cast fails → EINVAL",
        source: mainline(1426, "vsock_connect"))
    static let connectibleLookup = Rule(
        id: "vsock.connect.stream.assign",
        summary: "connect() assigns the connectible lookup's transport; none → ENODEV",
        source: mainline(1435, "vsock_connect"))
    static let seqpacketAllow = Rule(
        id: "vsock.connect.seqpacket.allow",
        summary: "SEQPACKET needs the transport's seqpacket_allow; missing or false → ESOCKTNOSUPPORT, reference dropped",
        source: mainline(527, "vsock_assign_transport"))
    static let streamAllow = Rule(
        id: "vsock.connect.stream.allow",
        summary: "stream_allow false → ENETUNREACH (the transport stays assigned)",
        source: mainline(1445, "vsock_connect"))
    static let connectCallback = Rule(
        id: "vsock.connect.stream.callback",
        summary: "the transport's connect error propagates; success → EINPROGRESS (non-blocking), or the peer's answer",
        source: mainline(1457, "vsock_connect"))

    // sendto() / send()
    static let sendtoNoTransport = Rule(
        id: "vsock.dgram.sendto.no-transport",
        summary: "a sendto() with an address looks its transport up per packet; none → EINVAL",
        source: v5(3, "@@ -1173,19 +1190,34 @@", "vsock_dgram_sendmsg"))
    static let sendtoPerPacket = Rule(
        id: "vsock.dgram.sendto.per-packet",
        summary: "the per-packet transport is used and its module reference dropped before returning",
        source: v5(3, "@@ -1224,6 +1257,8 @@", "vsock_dgram_sendmsg"))
    static let sendSocketTransport = Rule(
        id: "vsock.dgram.send.socket-transport",
        summary: "a datagram goes through the socket's own transport",
        source: mainline(1232, "vsock_dgram_sendmsg"))
    static let sendPortAny = Rule(
        id: "vsock.dgram.send.port-any",
        summary: "a destination port VMADDR_PORT_ANY → EINVAL",
        source: mainline(1252, "vsock_dgram_sendmsg"))
    static let sendNotConnected = Rule(
        id: "vsock.dgram.send.not-connected",
        summary: "no (valid) address and not connected → EINVAL",
        source: mainline(1270, "vsock_dgram_sendmsg"))
    static let sendAllow = Rule(
        id: "vsock.dgram.send.allow",
        summary: "dgram_allow false → EINVAL; else dgram_enqueue's result is the syscall's",
        source: mainline(1274, "vsock_dgram_sendmsg"))
    static let sendNullTransport = Rule(
        id: "vsock.dgram.send.null-transport",
        summary: "a connected datagram socket without transport (reachable only if a transport init failed): intent unclear, any error",
        source: v5(3, "@@ -1200,6 +1232,7 @@", "vsock_dgram_sendmsg"))

    // getsockname(), close()
    static let getsockname = Rule(
        id: "vsock.getsockname.local",
        summary: "getsockname() returns the local address, (ANY, ANY) while unbound",
        source: mainline(1022, "vsock_getname"))
    static let getsocknameReaddressed = Rule(
        id: "vsock.getsockname.readdressed-any",
        summary: "a loopback packet addressed to (VMADDR_CID_ANY, p) that reaches a socket bound at p on that transport (or listening) sets its local CID to VMADDR_CID_ANY (\"update CID after a transport reset\"); which of several such sockets, and when, the model does not state",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/virtio_transport_common.c", line: 1385,
                        function: "virtio_transport_recv_pkt"))
    static let getpeername = Rule(
        id: "vsock.getpeername.remote",
        summary: "getpeername() on a connected socket returns the remote address in force",
        source: mainline(1020, "vsock_getname"))
    static let sendResolvesCidAny = Rule(
        id: "vsock.dgram.send.resolves-cid-any",
        summary: "a send() on a socket connected to CID ANY replaces the remote CID with the transport's own (get_local_cid), for good: getpeername() shows it afterwards (loopback 1, vhost 2, VMCI its context id, the environment's)",
        source: mainline(1259, "vsock_dgram_sendmsg"))
    static let getpeernameNotConnected = Rule(
        id: "vsock.getpeername.enotconn",
        summary: "getpeername() on a socket that is not connected (sock->state != SS_CONNECTED) → ENOTCONN",
        source: mainline(1016, "vsock_getname"))
    static let closeLingers = Rule(
        id: "vsock.close.lingering",
        summary: "a closed connectible socket whose connect reached its transport may hold its reference a while (connect timeout 2 s, virtio close timeout 8 s)",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/virtio_transport_common.c", line: 1010,
                        function: "virtio_transport_close"))
    static let close = Rule(
        id: "vsock.close.releases",
        summary: "close() releases the socket: its binding and its transport module reference go",
        source: mainline(427, "vsock_deassign_transport"))

    // recv()/recvfrom() (docs/vsock-dgram-v5-intent.md, N1-N4, N6)
    static let recvConnectibleNotConnected = Rule(
        id: "vsock.recv.connectible.not-connected",
        summary: "recv() on a STREAM/SEQPACKET socket that is not established: ENOTCONN, or 0 once a reset marked it SOCK_DONE (a connect that reached its transport)",
        source: mainline(2214, "vsock_connectible_recvmsg"))
    static let dgramRecvEmpty = Rule(
        id: "vsock.dgram.recv.empty",
        summary: "recv(MSG_DONTWAIT) on a datagram socket with nothing queued: EAGAIN, and nothing changes (datagrams only possibly delivered here were not)",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/vmci_transport.c", line: 1750,
                        function: "vmci_transport_dgram_dequeue"))
    static let dgramDeliver = Rule(
        id: "vsock.dgram.deliver",
        summary: "a datagram vsock_loopback accepted for (cid, port) is queued exactly once, on the datagram socket bound there, and a receive returns it whole or truncated to the buffer (MSG_TRUNC), with the sender's address for recvfrom (the carrying transport's CID, the sender's port); the order among queued datagrams is unclear intent",
        source: .message(series: "vsock-dgram-v5", where: "patch 09 message",
                         quote: "changes to the virtio_transport_recv_pkt() path for finding the bound socket receiver for incoming packets"))
    static let dgramDeliverUnclear = Rule(
        id: "vsock.dgram.deliver.unclear",
        summary: "Unclear intent or environment: a datagram for a receiver on another transport, bound through VMCI, among several candidates, at a port the model has not seen, or with a full queue may arrive there or be dropped; it arrives at most once",
        source: .message(series: "vsock-dgram-v5", where: "patch 14 comment",
                         quote: "This test is similar to the seqpacket msg bounds tests, but it is unreliable"))
    /// `VIRTIO_VSOCK_MAX_PKT_BUF_SIZE`, 64 KiB (include/linux/virtio_vsock.h:120 in 6.1.176).
    static let virtioMaxPacket = 64 * 1024
    static let sendLoopbackCarries = Rule(
        id: "vsock.dgram.send.loopback-carries",
        summary: "a datagram whose transport is vsock_loopback is accepted whole and carried by loopback: up to 64 KiB it returns its length, and with the send buffer full EAGAIN (MSG_DONTWAIT); above 64 KiB (mainline's virtio packet bound; the series states no limit) EMSGSIZE or carried, which is unclear; loopback allows every datagram",
        source: .message(series: "vsock-dgram-v5", where: "patch 03 message",
                         quote: "If there is a g2h/h2g transport for that remote address, then that transport will be used"))
    static let sendTransmittedByChooser = Rule(
        id: "vsock.dgram.send.transmitted-by-chooser",
        summary: "a datagram leaves through the transport that accepted it: no other transport's send_pkt runs during the send, and a datagram a virtio-family transport accepted (its length returned) is put on that transport's wire once",
        source: .message(series: "vsock-dgram-v5", where: "patch 03 message",
                         quote: "If there is a g2h/h2g transport for that remote address, then that transport will be used"))
    static let dgramDeliverVMCI = Rule(
        id: "vsock.dgram.deliver.vmci",
        summary: "a datagram VMCI accepted may arrive at a datagram socket on VMCI bound at its port, from a CID that is the environment's: without a VMCI device vmw_vmci is the host context and delivers locally; never twice",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/vmci_transport.c", line: 1728,
                        function: "vmci_transport_dgram_enqueue"))
}
