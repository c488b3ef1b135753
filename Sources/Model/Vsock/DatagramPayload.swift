/// What every datagram a run sends carries, so that one delivered to the wrong socket, twice, or
/// altered is seen: its tag (the sending operation's number since the last reset, 1-based) in its
/// first four bytes, little-endian, then bytes that follow from the tag. The live backend, the
/// C reproducers and the simulated kernel all write it this way.
public enum DatagramPayload {
    /// The payload of `length` bytes for `tag`.
    public static func bytes(tag: UInt32, length: Int) -> [UInt8] {
        (0..<length).map { byte(tag: tag, at: $0) }
    }

    /// Byte `index` of every payload tagged `tag`.
    @inline(__always)
    public static func byte(tag: UInt32, at index: Int) -> UInt8 {
        index < 4 ? UInt8(truncatingIfNeeded: tag >> (8 * UInt32(index))) : UInt8(truncatingIfNeeded: tag &+ UInt32(truncatingIfNeeded: index))
    }

    /// The first bytes of a received payload (at most four) and whether the rest follows from the
    /// tag they begin with.
    public static func inspect(_ received: UnsafeRawBufferPointer) -> (head: [UInt8], intact: Bool) {
        let head = Array(received.prefix(4))
        guard received.count > 4 else { return (head, true) }
        let tag = UInt32(head[0]) | UInt32(head[1]) << 8 | UInt32(head[2]) << 16 | UInt32(head[3]) << 24
        for index in 4..<received.count where received[index] != byte(tag: tag, at: index) { return (head, false) }
        return (head, true)
    }

    /// Whether a payload whose first bytes are `head` can be the one tagged `tag`.
    public static func head(_ head: [UInt8], matches tag: UInt32) -> Bool {
        head.enumerated().allSatisfy { $0.element == byte(tag: tag, at: $0.offset) }
    }
}
