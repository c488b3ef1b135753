import CKernelCalls
import Foundation
import Generators
import Model
import Probes
import SystemPackage

/// The live kernel as a system under test: every operation is the real syscall (or module
/// syscall), observed through kprobes on the transport callbacks and `/sys/module/*/refcnt`.
///
/// It refuses to run unless it is root and inside the test VM (or told `--allow-host`), because it
/// loads and unloads vsock transport modules. A probe that cannot attach makes the run
/// unavailable (skip); lost events or a callback it cannot attribute make it unreliable
/// (inconclusive). Neither is ever a pass.
///
/// What each operation costs, and why the loop is built this way (measured under TCG in the 6.1
/// test VM; `checker bench --live` prints the breakdown of a run):
/// - A module's callbacks are found in its `.ko` file's symbol table (``ModuleFile``),
///   before it is loaded and without `/proc/kallsyms`, whose full read costs 300-450 ms.
/// - They are probed once per session, loaded or not, through kprobe trace events on
///   `module:function` (``ProbeSession/attachAcrossLoads(_:module:)``): the kernel arms them
///   itself inside every `finit_module` (before the module's init runs, so no call of this process
///   can be missed) and drops them at every `delete_module`. The loop attaches and detaches
///   nothing around loads and unloads. (Before: a kprobe bound to the function's address,
///   attached after each load and closed around each unload, 300-600 ms per load under TCG, and
///   closing waits for RCU grace periods holding `event_mutex`.)
/// - Arming a kprobe (register, ftrace patch) at load and disarming it at unload remain: about 50
///   and 30 ms per probed function under TCG, the kernel's price of observing a transport.
/// - After a `close`, the counts are final when the socket was destroyed inside the call (the
///   probe on `vsock_sk_destruct` fired in this thread, which is where the module reference is
///   dropped); only a socket that outlives its close (a connect or close timeout holds it) is
///   waited for by polling.
/// - Reference counts are read with one `pread` per loaded module on its kept sysfs file
///   (``ModuleRefcountReader``; one read of `/proc/modules` cost 10 times more), the lost counter
///   through a mapped page: no syscall when nothing was lost.
final class LiveVsockSystem: SystemUnderTest {
    typealias Model = VsockModel

    let name: String
    /// Transport modules runs may load; reset unloads them all.
    let transports: [TransportModule]
    /// Called with each operation before it runs (progress for crash reports).
    var willExecute: ((VsockOperation) -> Void)?
    /// Where each execution's operations are kept before they run (``ExecutionJournal``).
    var journal: ExecutionJournal?
    /// How each probe attached, by function.
    private(set) var probeStatuses: [String: ProbeStatus] = [:]
    /// The probe events of the last operation, in words, for reports, and how long it waited.
    var lastEvidence: [String] { lastEvents.map(\.description) + lastWait }
    /// The last operation's events, described only when a report asks (most steps agree).
    private var lastEvents: [ProbeEvent] = []
    /// Where the time went: per operation kind, and the phases inside (probe attach, module load
    /// and unload, settling, resets, observing).
    var ledger = TimeLedger()
    /// Operations run, by kind and result class (`recv → datagram`, `sendto → ENODEV`): what a
    /// run exercised, e.g. how many receives met a datagram.
    var outcomes: [String: Int] = [:]
    let clock = ContinuousClock()
    let refcountReader = ModuleRefcountReader()

    var modules: KernelModules
    let probes: ProbeSession
    var descriptors: [Int32] = []
    /// The ports getsockname() has shown this sequence, for bind-learned (the model keeps the same).
    private var learnedPorts = LearnedPorts()
    var lostSoFar: UInt64 = 0
    /// Operations executed since the reset: a datagram's tag is its operation's number.
    private var operationsExecuted: UInt32 = 0
    /// When the last datagram was accepted: loopback delivers from a worker, so a receive waits
    /// until ``deliveryBound`` has passed since then before it trusts an empty queue.
    var lastDatagramAccepted: ContinuousClock.Instant?
    /// A bound chosen with room for a loaded TCG guest, not a measured worst case: a datagram the
    /// worker delivered later would show as EAGAIN where one was due, a divergence that does not
    /// reproduce reliably, which shrinking reports as flaky rather than as a finding.
    static let deliveryBound = Duration.milliseconds(100)
    /// For reports: how long the last receive waited for datagrams in flight.
    private var lastWait: [String] = []
    /// The callbacks probed now, by function: where each lives and whom it names.
    var attached: [String: VsockProbeTable.Placement] = [:]
    /// Modules whose callbacks are not probed yet: their file could not be read (a compressed
    /// module), so they are found in /proc/kallsyms after the first load.
    var unplaced: Set<String> = []
    /// Whether `vsock_sk_destruct` is probed: then a close that destroyed its socket needs no wait.
    private var seesDestruction = false

    /// `replacements`: a folder of rebuilt modules loaded instead of the kernel's own (see
    /// `KernelModules`).
    init(transports: [TransportModule], replacements: String? = nil) throws {
        self.transports = transports
        modules = KernelModules(replacements: replacements)
        name = "live kernel \(modules.release)" + (replacements.map { " with modules from \($0)" } ?? "")
        // The vsock core and the virtio family's shared code are not under check: they stay
        // loaded, so AF_VSOCK exists (no autoload of a transport by socket()) and the shared
        // callbacks can be probed once.
        // Registering and unregistering optimized kprobes waits for the optimizer (seconds
        // under TCG); the test VM is throwaway, so plain kprobes it is.
        if GuestEnvironment.isTestVM {
            try? "0\n".write(toFile: "/proc/sys/debug/kprobes-optimization", atomically: false, encoding: .utf8)
            // A task blocked uninterruptibly for 30 s in the test VM is hung: none of the checker's
            // operations sleeps that way for long (waits for a peer or a timeout are interruptible).
            // Reported after 30-60 s instead of Debian's 120-240 s, and the VM is stopped then
            // (ConsoleScanner.endsTheRun): a crash reproduction's attempt ends within its bound.
            try? "30\n".write(toFile: "/proc/sys/kernel/hung_task_timeout_secs", atomically: false, encoding: .utf8)
        }
        try modules.ensure("vsock")
        try modules.ensure(VsockProbeTable.common)
        LibbpfLog.silence()  // failed attaches are reported through ProbeStatus, not stderr
        do {
            probes = try ProbeSession(targetProcess: getpid())
        } catch {
            throw SystemError.unavailable("the eBPF probes cannot be loaded: \(error)")
        }
        guard probes.resolvesTransportNames else {
            throw SystemError.unavailable("the vsock module has no BTF (/sys/kernel/btf/vsock): probes cannot name transports")
        }
        for spec in VsockProbeTable.core { try attach(spec) }
        // Optional: without it (a series that renames it), closes are settled by polling.
        seesDestruction = probes.attach(VsockProbeTable.destruction).isAttached
        let modulePut = probes.attachModulePut()
        probeStatuses["module_put"] = modulePut
        if case let .unavailable(reason) = modulePut.mechanism {
            throw SystemError.unavailable("module_put: \(reason)")
        }
        for module in [VsockProbeTable.common] + transports.map(\.rawValue) {
            try timed("probe attach (once per session)") { try attachCallbacks(in: module) }
        }
        lostSoFar = probes.lostEvents
    }

    /// All sockets closed, every transport module unloaded.
    func reset() throws {
        let start = clock.now
        defer { ledger.add("reset", clock.now - start) }
        journal?.begin()
        timed("reset: close sockets") {
            for descriptor in descriptors.reversed() { _ = VsockSockets.close(descriptor) }
        }
        descriptors = []
        learnedPorts = LearnedPorts()
        operationsExecuted = 0
        lastDatagramAccepted = nil
        for module in transports + [.hyperv] where KernelModules.isLoaded(module.rawValue) {
            try timed("reset: wait for references") { try settle(module.rawValue, to: 0) }
            if case let .failure(errno) = unload(module.rawValue) {
                throw SystemError.unreliable("reset: cannot unload \(module.rawValue): \(errno.symbol)")
            }
        }
        _ = probes.drain()
    }

    func execute(_ operation: VsockOperation) throws -> VsockObservation {
        timed("progress record") {
            willExecute?(operation)
            journal?.record(operation)
        }
        let start = clock.now
        defer { ledger.add(operation.kindName, clock.now - start) }
        _ = probes.drain()
        operationsExecuted &+= 1
        lastWait = []
        let result = try perform(operation)
        outcomes[operation.outcome(result), default: 0] += 1
        let (events, (calls, transmissions)) = try timed("observe: probe events") {
            let events = probes.drain()
            let lost = probes.lostEvents
            if lost != lostSoFar {
                defer { lostSoFar = lost }
                throw SystemError.unreliable("the ring buffer lost \(lost - lostSoFar) probe events during \(operation)")
            }
            return (events, try transportCalls(from: events, during: operation))
        }
        lastEvents = events
        if case .close = operation, !destroyedInCall(events) {
            try timed("settle (close outlived by its socket)") { try settleAll() }
        }
        let counts = timed("observe: refcounts") { refcounts() }
        return VsockObservation(result: result, calls: calls, refcounts: counts,
                                transmissions: seesTransmissions ? transmissions : nil)
    }

    /// Whether every virtio-family transport this system may load has its `send_pkt` probed, so
    /// that an operation's transmissions are all seen (a kernel that renames one is not judged
    /// on them).
    var seesTransmissions: Bool {
        transports.filter(\.isVirtioFamily).allSatisfy { module in
            attached.values.contains { $0.module == module.rawValue && $0.callback.hook == .sendPkt }
        }
    }

    /// Runs `body` and books its time under `name` (phases nest: `body` may book its own).
    func timed<Result>(_ name: String, _ body: () throws -> Result) rethrows -> Result {
        let start = clock.now
        defer { ledger.add(name, clock.now - start) }
        return try body()
    }

    /// The close destroyed its socket before returning: `vsock_sk_destruct`, which drops the
    /// transport's module reference, ran in this thread.
    private func destroyedInCall(_ events: [ProbeEvent]) -> Bool {
        seesDestruction && events.contains { $0.kind == .call && $0.function == VsockProbeTable.destruction.function }
    }

    // MARK: Operations

    private func perform(_ operation: VsockOperation) throws -> SyscallResult {
        switch operation {
        case let .loadTransport(module):
            let result = try timed("module load (finit_module)") { try modules.load(module.rawValue) }
            if result.isSuccess && unplaced.contains(module.rawValue) {
                try timed("probe attach (once per session)") { try attachCallbacks(in: module.rawValue) }
            }
            if result.isSuccess { try timed("probe check (armed at load)") { try checkArmed(module.rawValue) } }
            return result
        case let .unloadTransport(module):
            return unload(module.rawValue)
        case let .socket(type):
            let result = VsockSockets.socket(type)
            if case let .value(descriptor) = result { descriptors.append(Int32(descriptor)) }
            return result
        case let .bind(ref, address): return VsockSockets.bind(descriptors[ref.position], address)
        case let .connect(ref, target): return VsockSockets.connect(descriptors[ref.position], target)
        case let .sendto(ref, address, length):
            return accepted(VsockSockets.sendto(descriptors[ref.position], address, length: length, tag: operationsExecuted))
        case let .send(ref, length):
            return accepted(VsockSockets.send(descriptors[ref.position], length: length, tag: operationsExecuted))
        case let .recv(ref, buffer, source):
            timed("recv: wait for datagrams in flight") { waitForDelivery() }
            let result = VsockSockets.recv(descriptors[ref.position], buffer: buffer, source: source)
            learnedPorts.learn(from: result, of: operation)
            return result
        case .bindLearned, .sendtoLearned:
            // The model applies these only to a learned index (isApplicable).
            return try perform(operation.resolving(learnedPorts))
        case let .getsockname(ref):
            let result = VsockSockets.getsockname(descriptors[ref.position])
            learnedPorts.learn(from: result, of: operation)
            return result
        case let .getpeername(ref): return VsockSockets.getpeername(descriptors[ref.position])
        case let .close(ref): return VsockSockets.close(descriptors.remove(at: ref.position))
        }
    }

    /// Notes when a send was accepted, for ``waitForDelivery()``.
    private func accepted(_ result: SyscallResult) -> SyscallResult {
        if result.isSuccess { lastDatagramAccepted = clock.now }
        return result
    }

    /// Sleeps until ``deliveryBound`` has passed since the last accepted datagram, so that every
    /// datagram sent before this receive has reached its queue or been dropped.
    private func waitForDelivery() {
        guard let last = lastDatagramAccepted else { return }
        let remaining = last + Self.deliveryBound - clock.now
        guard remaining > .zero else { return }
        let (seconds, attoseconds) = remaining.components
        usleep(UInt32(seconds) * 1_000_000 + UInt32(attoseconds / 1_000_000_000_000))
        let waited = Double(remaining.components.attoseconds) / 1e15 + Double(seconds) * 1e3
        lastWait = ["waited \(String(format: "%.0f", waited)) ms for datagrams in flight (loopback delivers from a worker)"]
        lastDatagramAccepted = nil
    }

    // MARK: Observation

    /// Pairs each probed callback's entry with its return and names the transport that ran it;
    /// `send_pkt` returns become the transmissions, in order.
    func transportCalls(from events: [ProbeEvent], during operation: VsockOperation) throws
        -> (calls: [TransportCall], transmissions: [TransportModule]) {
        // v5 03: a sendto() with an address drops the per-packet module reference at its end;
        // that module's transport is the one whose shared callbacks ran.
        var perPacket: TransportModule?
        if operation.kind == .sendto || operation.kind == .sendtoLearned {
            perPacket = events.last { $0.kind == .modulePut }.flatMap { TransportModule(rawValue: $0.module) }
        }
        var open: [(function: String, module: String)] = []
        var calls: [TransportCall] = []
        var transmissions: [TransportModule] = []
        for event in events {
            guard let function = event.function, let placement = attached[function] else { continue }
            switch event.kind {
            case .call:
                open.append((function, event.module))
            case .return:
                var entryModule = ""
                if placement.transport == nil {
                    guard let index = open.lastIndex(where: { $0.function == function }) else {
                        throw SystemError.unreliable("\(function) returned without a recorded entry")
                    }
                    entryModule = open.remove(at: index).module
                }
                guard let transport = placement.transport ?? perPacket ?? TransportModule(rawValue: entryModule) else {
                    throw SystemError.unreliable("cannot tell which transport ran \(function) (socket transport \"\(entryModule)\")")
                }
                let hook = placement.callback.hook
                if hook == .sendPkt {
                    transmissions.append(transport)
                    continue
                }
                // The probe reports the whole return register: a bool is its low byte, an int its
                // low 32 bits (not sign-extended).
                let returned = hook.isPredicate ? (event.returnedBool ? 1 : 0) : Int(event.returnedInt32)
                calls.append(TransportCall(transport, hook, returned: returned))
            case .modulePut:
                continue
            }
        }
        if let unfinished = open.first {
            throw SystemError.unreliable("\(unfinished.function) entered but its return was not observed")
        }
        return (calls, transmissions)
    }

    func refcounts() -> ModuleRefcounts {
        var counts = ModuleRefcounts()
        for module in transports + [.hyperv] {
            // refcnt exists only while the module is loaded: one read per module per step.
            if let count = refcountReader.refcount(module.rawValue) {
                counts[module] = count
            }
        }
        return counts
    }

    /// A closed socket's module reference is dropped when the socket is destroyed, which a
    /// transport's worker can delay briefly: wait until the counts stop moving (at most 1 s).
    func settleAll() throws {
        var previous = refcounts()
        for _ in 0..<50 {
            usleep(20_000)
            let now = refcounts()
            if now == previous { return }
            previous = now
        }
        throw SystemError.unreliable("module reference counts kept changing for 1 s after close")
    }

    /// Waits for closed sockets' lingering references (virtio's close timeout is 8 s).
    private func settle(_ module: String, to count: Int) throws {
        for _ in 0..<2000 {
            if (refcountReader.refcount(module) ?? 0) <= count { return }
            usleep(5_000)
        }
        throw SystemError.unreliable("reset: \(module) still referenced after 10 s (refcnt \(refcountReader.refcount(module) ?? -1))")
    }

    /// `delete_module`; the kernel disarms the module's probes (they come back with its next load).
    private func unload(_ module: String) -> SyscallResult {
        let result = timed("module unload (delete_module)") { modules.unload(module) }
        if result.isSuccess { refcountReader.forget(module) }
        return result
    }

    // MARK: Benchmark support

    /// The module files this system loads, for a C program that loads them the same way.
    func modulePaths() throws -> [TransportModule: String] {
        var paths: [TransportModule: String] = [:]
        for module in transports { paths[module] = try modules.path(of: module.rawValue) }
        return paths
    }

    /// Nanoseconds per `sendto()` on a VMCI datagram socket with every probe attached and with
    /// none, and the probe events each call produced.
    func probeOverhead(iterations: Int) throws -> (withProbes: Double, withoutProbes: Double, eventsPerCall: Double) {
        try reset()
        _ = try perform(.loadTransport(.vmci))
        guard case let .value(descriptor) = VsockSockets.socket(.dgram) else {
            throw SystemError.unavailable("socket(AF_VSOCK, SOCK_DGRAM) failed with VMCI loaded")
        }
        defer { _ = VsockSockets.close(Int32(descriptor)) }
        let destination = SockAddrVM(cid: VMAddr.cidHost, port: 1234)
        let clock = ContinuousClock()
        func loop() -> (Duration, Int) {
            var events = 0
            let start = clock.now
            for index in 0..<iterations {
                _ = VsockSockets.sendto(Int32(descriptor), destination, length: 1, tag: UInt32(truncatingIfNeeded: index))
                if index % 128 == 127 { events += probes.drain().count }
            }
            let elapsed = clock.now - start
            return (elapsed, events + probes.drain().count)
        }
        _ = probes.drain()
        let (with, events) = loop()
        for spec in VsockProbeTable.core + [VsockProbeTable.destruction] { probes.detach(spec) }
        detachCallbacks(in: VsockProbeTable.common)
        detachCallbacks(in: TransportModule.vmci.rawValue)
        probes.detachModulePut()
        let (without, _) = loop()
        for spec in VsockProbeTable.core { try attach(spec) }
        seesDestruction = probes.attach(VsockProbeTable.destruction).isAttached
        try attachCallbacks(in: VsockProbeTable.common)
        try attachCallbacks(in: TransportModule.vmci.rawValue)
        probeStatuses["module_put"] = probes.attachModulePut()
        let nanoseconds = { (duration: Duration) in Double(duration.components.attoseconds) / 1e9 + Double(duration.components.seconds) * 1e9 }
        return (nanoseconds(with) / Double(iterations), nanoseconds(without) / Double(iterations),
                Double(events) / Double(iterations))
    }

    // MARK: Probes

    private func attach(_ spec: ProbeSpec) throws {
        let status = probes.attach(spec)
        probeStatuses[spec.function] = status
        if case let .unavailable(reason) = status.mechanism {
            throw SystemError.unavailable("\(spec.function): \(reason)")
        }
    }

    /// Attaches the callbacks that live in `module`, for this and every later load of it; a
    /// function no module has is not probed.
    func attachCallbacks(in module: String) throws {
        guard let placements = try placements(in: module) else {
            unplaced.insert(module)
            return
        }
        unplaced.remove(module)
        for placement in placements {
            let function = placement.callback.function
            let status = probes.attachAcrossLoads(placement.spec, module: module)
            probeStatuses[function] = status
            if case let .unavailable(reason) = status.mechanism {
                throw SystemError.unavailable("\(function) in \(module): \(reason)")
            }
            attached[function] = placement
        }
    }

    /// The kernel arms a module's kprobe events at its load, or logs that it could not: the
    /// registered kprobes must show every probe of `module` live, or its calls could go unseen.
    func checkArmed(_ module: String) throws {
        let probed = attached.values.filter { $0.module == module }
        guard !probed.isEmpty else { return }
        guard let registered = RegisteredKprobes.current() else {
            throw SystemError.unreliable("cannot read /sys/kernel/debug/kprobes/list to check that loading \(module) armed its probes")
        }
        let unarmed = probed.filter { placement in
            let spec = placement.spec
            return !registered.isLive(spec.function, in: module, isReturn: true)
                || (!spec.returnOnly && !registered.isLive(spec.function, in: module, isReturn: false))
        }
        guard unarmed.isEmpty else {
            throw SystemError.unreliable("loading \(module) did not arm the probes on "
                                         + unarmed.map(\.callback.function).sorted().joined(separator: ", "))
        }
    }

    /// Where a kernel keeps a callback is a fact about that kernel's build: read from the module's
    /// own file, or from /proc/kallsyms once it is loaded if the file cannot be read; nil when
    /// neither can tell yet.
    private func placements(in module: String) throws -> [VsockProbeTable.Placement]? {
        let names = VsockProbeTable.callbacks.map(\.function)
        if let file = ModuleFile(path: try modules.path(of: module)) {
            return VsockProbeTable.placements(in: module, functions: file.definedFunctions)
        }
        guard KernelModules.isLoaded(module) else { return nil }
        return VsockProbeTable.placements(in: module, functions: KernelSymbols.current().functions(named: names, in: module))
    }

    private func detachCallbacks(in module: String) {
        for (function, placement) in attached where placement.module == module {
            probes.detach(placement.spec)
            attached[function] = nil
        }
    }
}
