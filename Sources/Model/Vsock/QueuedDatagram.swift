/// A datagram the model has on a socket's receive queue (docs/vsock-dgram-v5-intent.md, N1-N4).
public struct QueuedDatagram: Hashable, Sendable {
    /// The sending operation's number (``DatagramPayload``).
    public var tag: UInt32
    public var length: Int
    /// CIDs `recvfrom()` may report as the sender's: the carrying transport's own, and where the
    /// intent is unclear (N2) the CID the sender bound; empty: any (VMCI's context id).
    public var sourceCIDs: [UInt32]
    /// The sender's local port; nil while the model has not seen the port the kernel chose.
    public var sourcePort: UInt32?
    /// The sending socket, to learn its port from the source a `recvfrom()` reports.
    public var senderSerial: Int
    /// Whether it must arrive here. An uncertain one may arrive here, somewhere else, or nowhere
    /// (the receiver is on another transport, bound through VMCI, one of several candidates, or
    /// its queue may be full): unclear intent or an environment the model does not decide.
    public var certain: Bool
    /// The transport that carried it: loopback (the series' intent) or VMCI (the environment's).
    public var carrier: TransportModule = .loopback
    /// A receive that showed too little of its payload to tell datagrams apart (fewer bytes than
    /// the tag) may have taken this one instead of the one the model took: it may still arrive,
    /// from either sender, so its source is no longer checked.
    public var confusable = false

    /// What the kernel accounts for it against `SO_RCVBUF`, bounded above: the skb's truesize is
    /// under twice the payload plus a kilobyte of overhead.
    var chargedBytes: Int { 2 * length + 1024 }
}

/// A datagram a transport that delivers in this VM accepted, not yet settled by a receive: until
/// the loopback worker has run, a socket bound to its address later may still receive it.
public struct InFlightDatagram: Hashable, Sendable {
    public var datagram: QueuedDatagram
    public var destination: SockAddrVM
}
