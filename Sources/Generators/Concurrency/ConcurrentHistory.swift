/// What the threads of a parallel run did: every operation with the moments it was invoked and
/// it returned, and what was observed of it.
///
/// Times are nanoseconds of one monotonic clock (`CLOCK_MONOTONIC`, the clock the probes stamp
/// their events with). An operation A precedes B in real time when A returned before B was
/// invoked; operations that overlap may take effect in either order.
public struct ConcurrentHistory<Operation: Sendable, Observation: Sendable>: Sendable {
    public struct Entry: Sendable {
        /// The thread (0-based) that ran it, and its position in that thread's list.
        public var thread: Int
        public var index: Int
        public var operation: Operation
        public var observation: Observation
        public var invoked: UInt64
        public var responded: UInt64

        public init(thread: Int, index: Int, operation: Operation, observation: Observation,
                    invoked: UInt64, responded: UInt64) {
            precondition(invoked <= responded, "an operation returned before it was invoked")
            self.thread = thread
            self.index = index
            self.operation = operation
            self.observation = observation
            self.invoked = invoked
            self.responded = responded
        }

        /// Whether this one returned before `other` was invoked (so it must take effect first).
        public func precedes(_ other: Entry) -> Bool { responded < other.invoked }

        /// Whether this one and `other`, of another thread, were under way at the same time
        /// (either may take effect first).
        public func overlaps(_ other: Entry) -> Bool {
            thread != other.thread && !precedes(other) && !other.precedes(self)
        }
    }

    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    /// The threads' entries, each in its own order.
    public var threads: [[Entry]] {
        let count = (entries.map(\.thread).max() ?? -1) + 1
        var threads = Array(repeating: [Entry](), count: count)
        for entry in entries { threads[entry.thread].append(entry) }
        return threads.map { $0.sorted { $0.index < $1.index } }
    }
}
