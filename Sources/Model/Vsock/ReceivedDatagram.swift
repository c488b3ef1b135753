/// What one `recv()`/`recvfrom()` of a datagram showed (`recvmsg` with `MSG_DONTWAIT`).
public struct ReceivedDatagram: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The return value: bytes copied.
    public var copied: Int
    /// `MSG_TRUNC` in `msg_flags`: the datagram was longer than the buffer.
    public var truncated: Bool
    /// The payload's first bytes (at most four: the tag, ``DatagramPayload``).
    public var head: [UInt8]
    /// Whether the bytes after the tag are the ones its sender wrote.
    public var intact: Bool
    /// `recvfrom()`: the sender's address in `msg_name`; nil for `recv()`.
    public var source: SockAddrVM?

    public init(copied: Int, truncated: Bool, head: [UInt8], intact: Bool = true, source: SockAddrVM? = nil) {
        self.copied = copied
        self.truncated = truncated
        self.head = head
        self.intact = intact
        self.source = source
    }

    /// The tag the head spells, when it is whole.
    public var tag: UInt32? {
        head.count == 4 ? UInt32(head[0]) | UInt32(head[1]) << 8 | UInt32(head[2]) << 16 | UInt32(head[3]) << 24 : nil
    }

    public var description: String {
        var text = "\(copied) bytes"
        if let tag { text += " #\(tag)" } else if !head.isEmpty { text += " head=\(head)" }
        if truncated { text += " MSG_TRUNC" }
        if !intact { text += " ALTERED" }
        if let source { text += " from \(source)" }
        return text
    }
}
