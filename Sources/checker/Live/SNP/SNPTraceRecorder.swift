import Foundation
import Model
import Probes

/// Records a live SNP trace: attaches every probe of ``SNPProbeTable`` to the running kernel,
/// collects what fires while a workload (a VMM, another process) runs, and hands back the events
/// as the model's ``SNPTraceEvent``s with each probe's status.
///
/// Passive: it filters no process and generates nothing. Lost or undecodable events are counted,
/// never dropped silently: a trace that lost any is inconclusive.
///
/// ```swift
/// let recorder = try SNPTraceRecorder()
/// let statuses = recorder.attach()
/// runWorkload()
/// let trace = recorder.finish()   // events, lost count, which probes fired
/// ```
final class SNPTraceRecorder {
    /// One probe's outcome: its table entry, how it attached (or why not), and how many events it
    /// delivered.
    struct Probe {
        let entry: SNPProbeTable.Entry
        let status: ProbeStatus
        var events = 0

        var function: SNPFunction { entry.function }

        /// The row of summary.json: the hooks in use (`fentry+fexit`, `kprobe+kretprobe`) as the
        /// mechanism, or `unavailable` with the reason.
        var report: ProbeReport {
            if let hooks = function.hooks(for: status.mechanism) {
                let fallback = status.error.map { "fentry failed (\($0)); kprobe fallback" }
                return ProbeReport(function: function.name, mechanism: hooks, attached: true, reason: fallback)
            }
            guard case let .unavailable(reason) = status.mechanism else { fatalError("attached without hooks") }
            return ProbeReport(function: function.name, mechanism: "unavailable", attached: false, reason: reason)
        }
    }

    /// What a finished recording holds.
    struct Trace {
        var probes: [Probe]
        var events: [SNPTraceEvent]
        var lostEvents: UInt64
        var decodeProblems: [String]
    }

    private let session: SNPProbeSession
    private var probes: [Probe] = []
    private var events: [SNPTraceEvent] = []

    /// Loads the SNP probes. Make it after `kvm` and `kvm_amd` are loaded (CO-RE reads of kvm
    /// types resolve at load time).
    init() throws(ProbeError) {
        session = try SNPProbeSession()
    }

    /// Attaches every function of the table; one status per function, absent ones included.
    @discardableResult
    func attach(symbols: KernelSymbols = .current(),
                loadedModules: Set<String> = SNPProbeTable.loadedModules()) -> [Probe] {
        probes = SNPProbeTable.entries.map { entry in
            let absence = SNPProbeTable.absence(of: entry, loadedModules: loadedModules)
            return Probe(entry: entry, status: session.attach(entry.function, symbols: symbols, absence: absence))
        }
        return probes
    }

    /// Collects the events submitted so far (call it now and then during a long workload: the
    /// ring buffer holds 1 MiB, about 13,000 events).
    func collect() {
        for event in session.drain() {
            events.append(Self.traceEvent(event))
            if let index = probes.firstIndex(where: { $0.function == Self.function(of: event.kind) }) {
                probes[index].events += 1
            }
        }
    }

    /// Collects the last events, detaches every probe and returns the recording.
    func finish() -> SNPTraceRecorder.Trace {
        collect()
        session.detachAll()
        // Events submitted between the last drain and the detach.
        collect()
        return Trace(probes: probes, events: events, lostEvents: session.lostEvents,
                     decodeProblems: session.decodeProblems.map(\.description))
    }

    /// The function whose probe reported `kind`.
    static func function(of kind: SNPProbeEvent.Kind) -> SNPFunction {
        switch kind {
        case .updateMemAttrEntry, .updateMemAttrExit: .updateMemAttr
        case .getPFN: .getPFN
        case .rmpMakePrivate: .rmpMakePrivate
        case .rmpMakeShared: .rmpMakeShared
        case .psmash: .psmash
        case .gmemPrepareEntry, .gmemPrepareExit: .gmemPrepare
        case .gmemInvalidateEntry, .gmemInvalidateExit: .gmemInvalidate
        case .postSetMemoryAttributes: .postSetMemoryAttributes
        }
    }

    /// The probes' event as the model's.
    static func traceEvent(_ event: SNPProbeEvent) -> SNPTraceEvent {
        let kind: SNPTraceEvent.Kind
        switch event.kind {
        case let .updateMemAttrEntry(slotID, slotBaseGFN, slotPages, attributes, start, end):
            kind = .updateMemAttrEntry(slotID: slotID, slotBaseGFN: slotBaseGFN, slotPages: slotPages,
                                       attributes: attributes, start: start, end: end)
        case let .updateMemAttrExit(result): kind = .updateMemAttrExit(result: result)
        case let .getPFN(gfn, pfn, order, result): kind = .getPFN(gfn: gfn, pfn: pfn, order: order, result: result)
        case let .rmpMakePrivate(pfn, gpa, level, asid, immutable, result):
            kind = .rmpMakePrivate(pfn: pfn, gpa: gpa, level: level, asid: asid, immutable: immutable, result: result)
        case let .rmpMakeShared(pfn, level, result): kind = .rmpMakeShared(pfn: pfn, level: level, result: result)
        case let .psmash(pfn, result): kind = .psmash(pfn: pfn, result: result)
        case let .gmemPrepareEntry(pfn, gfn, maxOrder): kind = .gmemPrepareEntry(pfn: pfn, gfn: gfn, maxOrder: maxOrder)
        case let .gmemPrepareExit(result): kind = .gmemPrepareExit(result: result)
        case let .gmemInvalidateEntry(startPFN, endPFN): kind = .gmemInvalidateEntry(startPFN: startPFN, endPFN: endPFN)
        case .gmemInvalidateExit: kind = .gmemInvalidateExit
        case let .postSetMemoryAttributes(start, end, attributes):
            kind = .postSetMemoryAttributes(start: start, end: end, attributes: attributes)
        }
        return SNPTraceEvent(timestamp: event.timestamp, thread: event.tid, kind: kind)
    }
}
