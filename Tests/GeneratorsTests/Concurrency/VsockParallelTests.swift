import Generators
import Model
import Testing
import TestDoubles

/// The parallel engine on the simulated kernel: generated parallel cases, their histories and the
/// vsock model as a linearizability specification.
@Suite("vsock parallel runs")
struct VsockParallelTests {
    static func draw(_ profile: VsockProfile, seed: UInt64, prefix: Int = 8) -> VsockParallelCase {
        VsockParallelGenerator(model: VsockModel(profile: profile))
            .draw(seed: seed, prefixLength: prefix, threads: 3, operationsPerThread: 4)
    }

    @Test("a kernel that agrees with the model gives linearizable histories, in any interleaving, overlapping or not",
          arguments: VsockProfile.all)
    func agreement(profile: VsockProfile) throws {
        let model = VsockModel(profile: profile)
        var threadOperations = 0
        for seed in UInt64(0)..<150 {
            let parallelCase = Self.draw(profile, seed: seed)
            for overlapping in [false, true] {
                let system = SimulatedParallelVsockKernel(kernel: SimulatedVsockKernel(profile: profile), seed: seed,
                                                          overlapping: overlapping)
                let run = try VsockParallelRun.run(parallelCase, model: model, system: system)
                threadOperations += run.history.entries.count
                switch run.verdict {
                case .linearizable: continue
                case let .prefixDiverged(divergence):
                    Issue.record("seed \(seed): prefix diverged: \(divergence.mismatch)")
                case let .notLinearizable(lines):
                    Issue.record("seed \(seed) overlapping \(overlapping):\n\(parallelCase)\n\(lines.joined(separator: "\n"))")
                case let .inconclusive(reason):
                    Issue.record("seed \(seed): \(reason)")
                }
                return
            }
        }
        #expect(threadOperations > 150 * 2 * 3 * 3)
    }

    @Test("threads name only what interleaving cannot make ambiguous; numbering and own sockets")
    func generation() {
        for seed in UInt64(0)..<200 {
            let parallelCase = Self.draw(.vsockDgramV5, seed: seed)
            #expect(parallelCase.threads.count == 3)
            for thread in parallelCase.threads {
                var sockets = 0
                for operation in thread {
                    switch operation.operation {
                    case .bindLearned, .sendtoLearned: Issue.record("a learned-port operation in a thread")
                    case .close:
                        if case .prefix = operation.socket { Issue.record("a thread closes a prefix socket") }
                    case .socket: sockets += 1
                    default: break
                    }
                    if case let .own(index) = operation.socket { #expect(index < sockets) }
                }
            }
            #expect(parallelCase.number(thread: 1, index: 0, prefixSteps: 5) == 6 + parallelCase.threads[0].count)
        }
    }

    @Test("a planted bug shows as a history no order explains, or as a prefix divergence")
    func mutantDetected() throws {
        let model = VsockModel(profile: .mainline)
        var notLinearizable = 0
        for seed in UInt64(0)..<100 {
            // No prefix: the threads do everything, so the bug must show among them.
            let parallelCase = Self.draw(.mainline, seed: seed, prefix: 0)
            let system = SimulatedParallelVsockKernel(kernel: SimulatedVsockKernel(profile: .mainline, mutant: .createWithoutTransport),
                                                      seed: seed, overlapping: true)
            let run = try VsockParallelRun.run(parallelCase, model: model, system: system)
            if case let .notLinearizable(lines) = run.verdict {
                notLinearizable += 1
                #expect(lines.contains { $0.hasPrefix("longest order the model allows") })
                #expect(lines.contains { $0.hasPrefix("next, t") && $0.contains("showed") }
                        || lines.contains { $0.hasPrefix("every operation fits") })
            }
        }
        #expect(notLinearizable >= 10)
    }

    typealias Entry = ConcurrentHistory<VsockParallelStep, VsockThreadObservation>.Entry

    static func entry(_ thread: Int, _ index: Int, _ number: Int, _ operation: VsockOperation, socket: ThreadSocket? = nil,
                      _ result: SyscallResult, _ from: UInt64, _ to: UInt64, own: Int? = nil) -> Entry {
        let step = VsockParallelStep(thread: thread, index: index, number: number,
                                     operation: VsockThreadOperation(operation, socket: socket), ownIndex: own, contended: false)
        return Entry(thread: thread, index: index, operation: step, observation: .ran(VsockObservation(result: result)),
                     invoked: from, responded: to)
    }

    @Test("hand-made vsock histories: real time decides, and the final reference counts must fit")
    func handMade() {
        let model = VsockModel(profile: .mainline)
        let start = VsockParallelState(afterPrefix: model.initialState)
        let load = Self.entry(0, 0, 1, .loadTransport(.vmci), .value(0), 0, 10)
        func socket(_ result: SyscallResult, _ from: UInt64, _ to: UInt64) -> Entry {
            Self.entry(1, 0, 2, .socket(.dgram), result, from, to, own: 0)
        }
        func check(_ entries: [Entry], refcounts: ModuleRefcounts) -> LinearizabilityChecker<VsockLinearizability>.Verdict {
            LinearizabilityChecker(VsockLinearizability(model: model, finalRefcounts: refcounts, restingCount: 0))
                .check(ConcurrentHistory(entries), from: start)
        }
        // socket() after the load returned: it must find VMCI (ENODEV is not explained).
        guard case .notLinearizable = check([load, socket(.failure(.operationNotSupportedByDevice), 11, 12)], refcounts: [.vmci: 0]) else {
            Issue.record("ENODEV after the load returned must not be linearizable"); return
        }
        // Overlapping the load: ENODEV is explained by the order socket → load.
        guard case let .linearizable(order, _) = check([load, socket(.failure(.operationNotSupportedByDevice), 5, 12)], refcounts: [.vmci: 0]) else {
            Issue.record("ENODEV during the load must be linearizable"); return
        }
        #expect(order == [1, 0])
        // Success after the load, but the final counts show no reference: not linearizable.
        guard case let .notLinearizable(counterexample, _) = check([load, socket(.value(3), 11, 12)], refcounts: [.vmci: 0]) else {
            Issue.record("a socket on VMCI must hold a reference at the end"); return
        }
        #expect(counterexample.finalStateRejected)
        guard case .linearizable = check([load, socket(.value(3), 11, 12)], refcounts: [.vmci: 1]) else {
            Issue.record("a socket on VMCI holding its reference is linearizable"); return
        }
    }

    @Test("an unload overlapping a load of the same module may fail with EBUSY; one after it may not")
    func moduleContention() {
        let model = VsockModel(profile: .mainline)
        let start = VsockParallelState(afterPrefix: model.initialState)
        let load = Self.entry(0, 0, 1, .loadTransport(.vmci), .value(0), 0, 10)
        func verdict(_ from: UInt64) -> Bool {
            var entries = [load, Self.entry(1, 0, 2, .unloadTransport(.vmci), .failure(.resourceBusy), from, from + 5)]
            VsockParallelRun.markContention(&entries)
            let checker = LinearizabilityChecker(VsockLinearizability(model: model, finalRefcounts: [.vmci: 0], restingCount: 0))
            if case .linearizable = checker.check(ConcurrentHistory(entries), from: start) { return true }
            return false
        }
        #expect(verdict(5))
        #expect(!verdict(11))
    }
}

/// Shrinking parallel cases on the simulated kernel with a planted bug.
@Suite("vsock parallel shrinking")
struct VsockParallelShrinkingTests {
    @Test("a non-linearizable case shrinks to a few operations that still fail, and its case file reads back")
    func shrinks() throws {
        let model = VsockModel(profile: .mainline)
        let kernel = SimulatedVsockKernel(profile: .mainline, mutant: .createWithoutTransport)
        var found: VsockParallelCase?
        for seed in UInt64(0)..<100 {
            let parallelCase = VsockParallelTests.draw(.mainline, seed: seed, prefix: 0)
            let run = try VsockParallelRun.run(parallelCase, model: model,
                                               system: SimulatedParallelVsockKernel(kernel: kernel, seed: seed, overlapping: true))
            if run.verdict.isNotLinearizable { found = parallelCase; break }
        }
        let failing = try #require(found)
        func fails(_ candidate: VsockParallelCase) throws -> Bool {
            // R = 3 interleavings; once is enough.
            try (UInt64(1)...3).contains { seed in
                try VsockParallelRun.run(candidate, model: model,
                                         system: SimulatedParallelVsockKernel(kernel: kernel, seed: seed, overlapping: true))
                    .verdict.isNotLinearizable
            }
        }
        let shrinker = VsockParallelShrinker(model: model, maxExecutions: 500, timeLimit: .seconds(60))
        let result = try shrinker.shrink(failing, reproduces: fails)
        #expect(result.exitReason == .fixpoint)
        #expect(try fails(result.minimal))
        // The bug (socket() succeeds without a transport) needs one operation.
        #expect(result.minimal.count <= 2, "\(result.minimal)")
        #expect(result.minimal.count < failing.count)
        let text = try result.minimal.caseFile(profile: "mainline", seed: 1, signature: nil, system: "simulated").encoded()
        let back = try VsockParallelCase(VsockParallelCase.File(decoding: text))
        #expect(back == result.minimal)
    }

    @Test("deleting a thread's socket() takes its operations along and renumbers the later ones")
    func socketDeletion() {
        let shrinker = VsockParallelShrinker(model: VsockModel(profile: .mainline), maxExecutions: 1, timeLimit: .seconds(1))
        let thread: [VsockThreadOperation] = [
            VsockThreadOperation(.socket(.dgram), socket: nil),
            VsockThreadOperation(.socket(.dgram), socket: nil),
            VsockThreadOperation(.getsockname(SocketRef(0)), socket: .own(0)),
            VsockThreadOperation(.getsockname(SocketRef(0)), socket: .own(1)),
        ]
        let parallelCase = VsockParallelCase(prefix: [], threads: [thread])
        let deleted = shrinker.deleting(0, ofThread: 0, from: parallelCase)
        #expect(deleted.threads[0] == [VsockThreadOperation(.socket(.dgram), socket: nil),
                                       VsockThreadOperation(.getsockname(SocketRef(0)), socket: .own(0))])
        let moved = shrinker.movingFirst(ofThread: 0, intoPrefixOf: parallelCase)
        #expect(moved.prefix == [.socket(.dgram)])
        #expect(moved.threads[0][1] == VsockThreadOperation(.getsockname(SocketRef(0)), socket: .prefix(0)))
        #expect(moved.threads[0][2] == VsockThreadOperation(.getsockname(SocketRef(0)), socket: .own(0)))
    }
}

/// Outcomes only concurrency has, each allowed only where its cause overlapped.
@Suite("vsock concurrency rules")
struct VsockConcurrencyRuleTests {
    typealias Entry = ConcurrentHistory<VsockParallelStep, VsockThreadObservation>.Entry

    @Test("under the series, an unload overlapping an addressed sendto may fail with EWOULDBLOCK; not in mainline, not after it")
    func perPacketReference() {
        func linearizable(_ profile: VsockProfile, unloadFrom: UInt64) -> Bool {
            let model = VsockModel(profile: profile)
            var state = model.initialState
            for operation in [VsockOperation.loadTransport(.vmci), .loadTransport(.loopback), .socket(.dgram)] {
                model.takeNominal(operation, in: &state)
            }
            let send = VsockParallelTests.entry(0, 0, 4, .sendto(SocketRef(0), SockAddrVM(cid: 1, port: 1024), length: 8),
                                                socket: .prefix(0), .failure(.invalidArgument), 0, 10)
            var sendEntry = send
            // What the kernel showed for the send does not matter here: make it what the model expects.
            let sendOperation = VsockOperation.sendto(SocketRef(0), SockAddrVM(cid: 1, port: 1024), length: 8)
            sendEntry.observation = .ran(model.nominalObservation(of: sendOperation, for: model.expect(sendOperation, in: state), in: state))
            var entries = [sendEntry, VsockParallelTests.entry(1, 0, 5, .unloadTransport(.loopback), .failure(.wouldBlock),
                                                               unloadFrom, unloadFrom + 5)]
            VsockParallelRun.markContention(&entries)
            let refcounts = state.refcounts
            let checker = LinearizabilityChecker(VsockLinearizability(model: model, finalRefcounts: refcounts, restingCount: 3))
            if case .linearizable = checker.check(ConcurrentHistory(entries), from: VsockParallelState(afterPrefix: state)) { return true }
            return false
        }
        #expect(linearizable(.vsockDgramV5, unloadFrom: 5))
        #expect(!linearizable(.vsockDgramV5, unloadFrom: 11))
        #expect(!linearizable(.mainline, unloadFrom: 5))
    }

    @Test("under the series, an addressed sendto overlapping an unload may fail with ENODEV after its auto-bind; not alone, not in mainline")
    func moduleGoing() {
        func linearizable(_ profile: VsockProfile, unloadFrom: UInt64) -> Bool {
            let model = VsockModel(profile: profile)
            var state = model.initialState
            for operation in [VsockOperation.loadTransport(.vmci), .socket(.dgram), .loadTransport(.loopback)] {
                model.takeNominal(operation, in: &state)
            }
            let step = VsockParallelStep(thread: 0, index: 0, number: 4,
                                         operation: VsockThreadOperation(.sendto(SocketRef(0), SockAddrVM(cid: 1, port: 1024), length: 8),
                                                                         socket: .prefix(0)),
                                         ownIndex: nil, contended: false)
            let observed = VsockObservation(result: .failure(.operationNotSupportedByDevice),
                                            calls: [TransportCall(.vmci, .dgramBind, returned: 0)])
            var entries = [Entry(thread: 0, index: 0, operation: step, observation: .ran(observed), invoked: 0, responded: 10),
                           VsockParallelTests.entry(1, 0, 5, .unloadTransport(.loopback), .value(0), unloadFrom, unloadFrom + 5)]
            VsockParallelRun.markContention(&entries)
            // The socket keeps VMCI; loopback is gone.
            let checker = LinearizabilityChecker(VsockLinearizability(model: model, finalRefcounts: [.vmci: 1], restingCount: 3))
            if case .linearizable = checker.check(ConcurrentHistory(entries), from: VsockParallelState(afterPrefix: state)) { return true }
            return false
        }
        #expect(linearizable(.vsockDgramV5, unloadFrom: 5))
        #expect(!linearizable(.vsockDgramV5, unloadFrom: 11))
        #expect(!linearizable(.mainline, unloadFrom: 5))
    }
}
