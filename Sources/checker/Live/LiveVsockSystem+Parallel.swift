import Foundation
import Generators
import Model
import Probes

/// The live kernel running a parallel section (`checker run --parallel`): each thread's
/// operations on a thread of its own, all released at a barrier after the prefix.
///
/// - Every call is stamped before and after with `CLOCK_MONOTONIC`, the clock the probes stamp
///   their events with; the probes key on the kernel thread, so an operation's transport
///   callbacks are its thread's events between its two stamps.
/// - Reference counts are read once, after every thread has returned and closed sockets have
///   settled: read after one call they would race the others'.
/// - A receive first waits until no datagram accepted before its call can still be in loopback's
///   worker (``deliveryBound`` after the last one any thread had accepted, which a sender records
///   before stamping its return); its call is stamped after that wait. So a send that returned
///   before a receive was called has been delivered by then, as the model's order requires.
/// - Module files and their dependencies are resolved before the barrier; a thread calls only
///   `finit_module`/`delete_module`. Probe bookkeeping (reference count files, the check that a
///   load armed its probes) happens after the threads have joined.
extension LiveVsockSystem: VsockParallelSystem {
    func runThreads(_ threads: [[VsockThreadInvocation]]) throws -> (results: [[VsockThreadResult]], refcounts: ModuleRefcounts) {
        let start = clock.now
        defer { ledger.add("parallel section", clock.now - start) }
        var files: [TransportModule: String] = [:]
        for invocation in threads.joined() {
            guard case let .loadTransport(module) = invocation.operation.operation else { continue }
            files[module] = try modules.path(of: module.rawValue)
            try modules.loadDependencies(of: module.rawValue)
            if unplaced.contains(module.rawValue) {
                throw SystemError.unavailable("\(module.rawValue)'s callbacks can only be found after a load, which a parallel section cannot wait for; run a sequential seed that loads it first")
            }
        }
        _ = probes.drain()
        let delivery = DeliveryClock(lastAccepted: lastDatagramAccepted.map { BarrierRunner.now() - nanoseconds(clock.now - $0) })
        let prefixSockets = descriptors
        let owned = threads.map { _ in OwnSockets() }
        let work = threads.enumerated().map { thread, invocations in
            let own = owned[thread]
            return invocations.map { invocation in
                { Self.perform(invocation, prefixSockets: prefixSockets, own: own, files: files, delivery: delivery) }
            }
        }
        let (outcomes, tids) = BarrierRunner.run(work)

        // Bookkeeping the threads left for after the join.
        // The sockets threads opened and did not close: the reset closes them.
        for own in owned { descriptors += own.descriptors.compactMap { $0 } }
        let events = probes.drain()
        let lost = probes.lostEvents
        if lost != lostSoFar {
            defer { lostSoFar = lost }
            throw SystemError.unreliable("the ring buffer lost \(lost - lostSoFar) probe events during a parallel section")
        }
        var touched: Set<TransportModule> = []
        var loaded: Set<TransportModule> = []
        var closed = false
        for (thread, invocations) in threads.enumerated() {
            for (index, invocation) in invocations.enumerated() {
                let outcome = outcomes[thread][index]
                let result = outcome.result
                if let result {
                    // Counted by kind as sequential operations are (their time overlaps the section's).
                    self.outcomes[invocation.operation.operation.outcome(result), default: 0] += 1
                    ledger.add(invocation.operation.kindName, .nanoseconds(Int64(outcome.responded - outcome.invoked)))
                }
                switch invocation.operation.operation {
                case let .loadTransport(module):
                    touched.insert(module)
                    if result?.isSuccess == true { loaded.insert(module) }
                case let .unloadTransport(module): touched.insert(module)
                case .close: closed = true
                default: break
                }
            }
        }
        for module in touched { refcountReader.forget(module.rawValue) }
        for module in loaded where KernelModules.isLoaded(module.rawValue) { try checkArmed(module.rawValue) }
        if closed { try timed("settle (closes in a parallel section)") { try settleAll() } }
        let counts = refcounts()
        lastDatagramAccepted = delivery.lastAccepted.map { clock.now - .nanoseconds(Int64(BarrierRunner.now() - $0)) }

        var results: [[VsockThreadResult]] = []
        for (thread, invocations) in threads.enumerated() {
            let mine = events.filter { $0.tid == UInt32(bitPattern: tids[thread]) }
            var row: [VsockThreadResult] = []
            for (index, invocation) in invocations.enumerated() {
                let outcome = outcomes[thread][index]
                guard let result = outcome.result else {
                    row.append(VsockThreadResult(observation: .skipped, invoked: outcome.invoked, responded: outcome.responded))
                    continue
                }
                let during = mine.filter { $0.timestamp >= outcome.invoked && $0.timestamp <= outcome.responded }
                let (calls, transmissions) = try transportCalls(from: during, during: invocation.operation.operation)
                let observation = VsockObservation(result: result, calls: calls, refcounts: [:],
                                                   transmissions: seesTransmissions ? transmissions : nil)
                var evidence = during.map(\.description)
                if let waited = outcome.waited { evidence.append(waited) }
                row.append(VsockThreadResult(observation: .ran(observation), invoked: outcome.invoked,
                                             responded: outcome.responded, evidence: evidence))
            }
            results.append(row)
        }
        return (results, counts)
    }

    /// What one thread's call did, as the thread saw it.
    struct ThreadOutcome {
        /// nil: skipped, its socket does not exist.
        var result: SyscallResult?
        var invoked: UInt64
        var responded: UInt64
        var waited: String?
    }

    /// The sockets one thread opened, by the number of its `socket()` calls (nil: it failed or was
    /// closed). Touched only by that thread.
    final class OwnSockets: @unchecked Sendable {
        var descriptors: [Int32?] = []
    }

    /// When the last datagram any thread had accepted was accepted (nanoseconds of CLOCK_MONOTONIC).
    final class DeliveryClock: @unchecked Sendable {
        private let lock = NSLock()
        private var last: UInt64?

        init(lastAccepted: UInt64?) { last = lastAccepted }

        var lastAccepted: UInt64? { lock.withLock { last } }

        func accepted(at time: UInt64) { lock.withLock { last = max(last ?? 0, time) } }

        /// How long a call made at `time` must still wait for datagrams in flight, in ns (0: none).
        func remaining(at time: UInt64) -> UInt64 {
            lock.withLock {
                guard let last else { return 0 }
                let due = last + UInt64(LiveVsockSystem.deliveryBound.components.attoseconds / 1_000_000_000)
                    + UInt64(LiveVsockSystem.deliveryBound.components.seconds) * 1_000_000_000
                return due > time ? due - time : 0
            }
        }
    }

    /// One thread's call: only syscalls and the thread's own bookkeeping, nothing of the system's.
    private static func perform(_ invocation: VsockThreadInvocation, prefixSockets: [Int32], own: OwnSockets,
                                files: [TransportModule: String], delivery: DeliveryClock) -> ThreadOutcome {
        let operation = invocation.operation.operation
        var descriptor: Int32?
        switch invocation.operation.socket {
        case let .prefix(index)?: descriptor = prefixSockets.indices.contains(index) ? prefixSockets[index] : nil
        case let .own(index)?: descriptor = own.descriptors.indices.contains(index) ? own.descriptors[index] : nil
        case nil: break
        }
        if invocation.operation.socket != nil && descriptor == nil {
            let now = BarrierRunner.now()
            return ThreadOutcome(result: nil, invoked: now, responded: now)
        }
        var invoked = BarrierRunner.now()
        var waited: String?
        if case .recv = operation {
            var total: UInt64 = 0
            while case let remaining = delivery.remaining(at: invoked), remaining > 0 {
                usleep(UInt32(min(remaining / 1_000 + 1, 1_000_000)))
                total += remaining
                invoked = BarrierRunner.now()
            }
            if total > 0 { waited = "waited \(total / 1_000_000) ms for datagrams in flight (loopback delivers from a worker)" }
        }
        let tag = UInt32(truncatingIfNeeded: invocation.number)
        let fd = descriptor ?? -1
        let result: SyscallResult
        switch operation {
        case let .loadTransport(module):
            result = files[module].map { (try? KernelModules.load(file: $0)) ?? .failure(.noSuchFileOrDirectory) } ?? .failure(.noSuchFileOrDirectory)
        case let .unloadTransport(module): result = KernelModules.unload(module.rawValue)
        case let .socket(type):
            result = VsockSockets.socket(type)
            if case let .value(value) = result { own.descriptors.append(Int32(value)) } else { own.descriptors.append(nil) }
        case let .bind(_, address): result = VsockSockets.bind(fd, address)
        case let .connect(_, target): result = VsockSockets.connect(fd, target)
        case let .sendto(_, address, length): result = VsockSockets.sendto(fd, address, length: length, tag: tag)
        case let .send(_, length): result = VsockSockets.send(fd, length: length, tag: tag)
        case let .recv(_, buffer, source): result = VsockSockets.recv(fd, buffer: buffer, source: source)
        case .getsockname: result = VsockSockets.getsockname(fd)
        case .getpeername: result = VsockSockets.getpeername(fd)
        case .close:
            result = VsockSockets.close(fd)
            if case let .own(index)? = invocation.operation.socket { own.descriptors[index] = nil }
        case .bindLearned, .sendtoLearned:
            // Never drawn for a thread (which port is learned first depends on the interleaving).
            result = .failure(.invalidArgument)
        }
        switch operation {
        case .sendto, .send: if result.isSuccess { delivery.accepted(at: BarrierRunner.now()) }
        default: break
        }
        return ThreadOutcome(result: result, invoked: invoked, responded: BarrierRunner.now(), waited: waited)
    }

    private func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration.components.seconds)) * 1_000_000_000 + UInt64(max(0, duration.components.attoseconds / 1_000_000_000))
    }
}
