import CKernelCalls
import Foundation

/// Runs several threads' lists of work, released together at a barrier, and says which kernel
/// thread (`gettid()`) ran each list: the probes' events carry that id, which is how they are
/// attributed to a thread's operations.
///
/// Each item times itself (``now()`` before and after its call, after any waiting of its own),
/// because only the item knows where its call starts: a receive first waits for datagrams in
/// flight, and that wait is not part of the call.
enum BarrierRunner {
    /// Nanoseconds of `CLOCK_MONOTONIC`, the clock `bpf_ktime_get_ns()` stamps probe events with.
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// How long after the last thread reached the barrier every thread starts (nanoseconds):
    /// room for the barrier to wake them all.
    static let releaseDelay: UInt64 = 3_000_000

    /// Runs `threads[k]`'s items in order on thread k, every thread starting at once; returns each
    /// item's result, in the same shape, and each thread's kernel id.
    static func run<Result>(_ threads: [[() -> Result]]) -> (results: [[Result]], tids: [Int32]) {
        guard !threads.isEmpty else { return ([], []) }
        let shared = Shared(threads)
        let done = DispatchGroup()
        for index in threads.indices {
            done.enter()
            let thread = Thread {
                shared.run(index)
                done.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        done.wait()
        return shared.collected()
    }

    /// The threads' work, the barrier they wait at, and their results. Each thread writes only
    /// its own slot; the lock orders the writes before the read.
    private final class Shared<Result>: @unchecked Sendable {
        private let work: [[() -> Result]]
        private let barrier = UnsafeMutablePointer<pthread_barrier_t>.allocate(capacity: 1)
        private let lock = NSLock()
        private var results: [[Result]]
        private var tids: [Int32]
        private var arrivals: [UInt64]

        init(_ work: [[() -> Result]]) {
            self.work = work
            results = Array(repeating: [], count: work.count)
            tids = Array(repeating: 0, count: work.count)
            arrivals = Array(repeating: 0, count: work.count)
            pthread_barrier_init(barrier, nil, UInt32(work.count))
        }

        deinit {
            pthread_barrier_destroy(barrier)
            barrier.deallocate()
        }

        func run(_ thread: Int) {
            let tid = kcc_gettid()
            lock.withLock { arrivals[thread] = BarrierRunner.now() }
            pthread_barrier_wait(barrier)
            // The barrier wakes its waiters one by one, a millisecond or more apart under TCG: a
            // thread woken first would finish its few fast calls before the last one runs. Every
            // thread instead spins to one instant, a little after the last arrival.
            let start = lock.withLock { arrivals.max()! } + BarrierRunner.releaseDelay
            while BarrierRunner.now() < start {}
            let done = work[thread].map { $0() }
            lock.withLock {
                tids[thread] = tid
                results[thread] = done
            }
        }

        func collected() -> (results: [[Result]], tids: [Int32]) { lock.withLock { (results, tids) } }
    }
}
