/// The ports `getsockname()` and `recvfrom()` have shown above `LAST_RESERVED_PORT`, in the order first seen: the
/// values a `bind-learned` operation names by index (Hypothesis calls such a pool a bundle).
///
/// The model keeps one in its state, built from observed results, and the live system keeps
/// its own from the same results, so both resolve `learned#k` to the same port; a replay on a
/// kernel whose ephemeral ports start elsewhere resolves it to that kernel's port.
public struct LearnedPorts: Hashable, Sendable {
    public private(set) var ports: [UInt32] = []

    public init() {}

    /// Records a port `getsockname()` or `recvfrom()` returned, if the kernel could have chosen it.
    public mutating func learn(_ port: UInt32) {
        guard port > VMAddr.lastReservedPort, port != VMAddr.portAny, !ports.contains(port) else { return }
        ports.append(port)
    }

    /// Records what `operation`'s result shows of a port the kernel may have chosen: the address
    /// `getsockname()` returned, the source `recvfrom()` reported. A program replaying the same
    /// results (the live system, a C reproducer) learns the same ports in the same order.
    public mutating func learn(from result: SyscallResult, of operation: VsockOperation) {
        switch (operation, result) {
        case let (.getsockname, .address(address)): learn(address.port)
        case let (.recv, .received(datagram)): if let source = datagram.source { learn(source.port) }
        default: break
        }
    }

    /// The port `bind-learned` binds: the `index`-th learned port plus `offset`, wrapping as the
    /// kernel's `u32` does.
    public func port(_ index: Int, offset: UInt32) -> UInt32? {
        ports.indices.contains(index) ? ports[index] &+ offset : nil
    }

    public var isEmpty: Bool { ports.isEmpty }
    public var count: Int { ports.count }
}

extension VsockOperation {
    /// Whether the operation's result may add a port to the learned ones: the operations
    /// ``LearnedPorts/learn(from:of:)`` reads (`getsockname`, and `recvfrom` for its source).
    public var learnsPort: Bool {
        switch self {
        case .getsockname, .recv(_, _, true): return true
        default: return false
        }
    }
}
