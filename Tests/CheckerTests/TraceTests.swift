import Foundation
import Model
import Probes
import Testing
@testable import checker

/// `checker trace --target snp`: the verdicts are honest (never a pass without a checked call on
/// an SNP host; lost events are inconclusive), the probe tests say why they skip, and bad input
/// is a usage error.
@Suite("trace")
struct TraceTests {
    typealias Probe = SNPTraceRecorder.Probe

    static func probe(_ function: SNPFunction, _ mechanism: ProbeStatus.Mechanism, events: Int = 0) -> Probe {
        var probe = Probe(entry: SNPProbeTable.entry(for: function),
                          status: ProbeStatus(function: function.name, mechanism: mechanism))
        probe.events = events
        return probe
    }

    /// Every function attached with fentry, `fired` with their event counts.
    static func attached(_ fired: [SNPFunction: Int] = [:]) -> [Probe] {
        SNPFunction.allCases.map { probe($0, .fentry, events: fired[$0] ?? 0) }
    }

    static func event(_ kind: SNPTraceEvent.Kind, at time: UInt64, thread: UInt32 = 7) -> SNPTraceEvent {
        SNPTraceEvent(timestamp: time, thread: thread, kind: kind)
    }

    static func trace(_ probes: [Probe], _ events: [SNPTraceEvent] = [], lost: UInt64 = 0) -> SNPTraceRecorder.Trace {
        SNPTraceRecorder.Trace(probes: probes, events: events, lostEvents: lost, decodeProblems: [])
    }

    @Test("no probe attached: trace.snp SKIP naming why, exit 4")
    func noProbe() {
        let probes = SNPFunction.allCases.map { Self.probe($0, .unavailable(reason: "not in /proc/kallsyms: gone")) }
        let verdict = Trace.judge(Self.trace(probes), snpEnabled: nil, notes: [], seconds: 1)
        #expect(verdict.outcome == .skip)
        #expect(verdict.reason?.hasPrefix("no SNP probe attached") == true)
        #expect(verdict.reason?.contains("rmp_make_private: not in /proc/kallsyms: gone") == true)
        var report = CheckReport(target: "snp", profile: "trace", kernel: "k", system: "s", startedAt: "t", durationSeconds: 0)
        report.batches = probes.map(Trace.probeBatch) + [verdict]
        #expect(Trace.exitStatus(report) == .skip)
    }

    @Test("probes attached, nothing fired: SKIP 'no SNP activity observed'")
    func silent() {
        let verdict = Trace.judge(Self.trace(Self.attached()), snpEnabled: true, notes: [], seconds: 1)
        #expect(verdict.outcome == .skip)
        #expect(verdict.reason == "no SNP activity observed (no SNP hardware / no SNP guest ran)")
    }

    @Test("only attribute changes seen: still no SNP activity")
    func attributesOnly() {
        let events = [Self.event(.postSetMemoryAttributes(start: 0, end: 1, attributes: 8), at: 1)]
        let verdict = Trace.judge(Self.trace(Self.attached([.postSetMemoryAttributes: 1]), events),
                                  snpEnabled: true, notes: [], seconds: 1)
        #expect(verdict.outcome == .skip)
        #expect(verdict.reason == "no SNP activity observed (no SNP hardware / no SNP guest ran)")
    }

    @Test("lost events: inconclusive, whatever else was seen")
    func lost() {
        let events = [Self.event(.gmemInvalidateEntry(startPFN: 5, endPFN: 6), at: 1), Self.event(.gmemInvalidateExit, at: 2)]
        let verdict = Trace.judge(Self.trace(Self.attached([.gmemInvalidate: 2]), events, lost: 3),
                                  snpEnabled: true, notes: [], seconds: 1)
        #expect(verdict.outcome == .inconclusive)
        #expect(verdict.lostEvents == 3)
        #expect(verdict.reason?.hasPrefix("3 probe events lost") == true)
    }

    @Test("policy calls on a host with sev_snp=N returned early: SKIP, never pass")
    func snpOff() {
        let events = [Self.event(.gmemInvalidateEntry(startPFN: 5, endPFN: 6), at: 1), Self.event(.gmemInvalidateExit, at: 2)]
        let verdict = Trace.judge(Self.trace(Self.attached([.gmemInvalidate: 2]), events),
                                  snpEnabled: false, notes: [], seconds: 1)
        #expect(verdict.outcome == .skip)
        #expect(verdict.reason?.hasPrefix("no SNP activity observed (no SNP hardware / no SNP guest ran): kvm_amd has sev_snp=N") == true)
        var report = CheckReport(target: "snp", profile: "trace", kernel: "k", system: "s", startedAt: "t", durationSeconds: 0)
        report.batches = Self.attached([.gmemInvalidate: 2]).map(Trace.probeBatch) + [verdict]
        #expect(report.passed == 1)                  // probe.sev_gmem_invalidate fired
        #expect(Trace.exitStatus(report) == .skip)   // … but the trace did not pass
    }

    @Test("a checked call on an SNP host: pass, exit 0")
    func pass() throws {
        // sev_gmem_prepare(pfn 0x1234, gfn 0x10, max_order 0) makes one 4K page private.
        let events = [
            Self.event(.gmemPrepareEntry(pfn: 0x1234, gfn: 0x10, maxOrder: 0), at: 1),
            Self.event(.rmpMakePrivate(pfn: 0x1234, gpa: 0x10000, level: 1, asid: 1, immutable: false, result: 0), at: 2),
            Self.event(.gmemPrepareExit(result: 0), at: 3),
        ]
        let check = SNPTraceChecker.check(events)
        try #require(check.checkedCalls == 1 && check.divergences.isEmpty, "the model's verdict: \(check)")
        let verdict = Trace.judge(Self.trace(Self.attached([.gmemPrepare: 2, .rmpMakePrivate: 1]), events),
                                  snpEnabled: true, notes: [], seconds: 1)
        #expect(verdict.outcome == .pass)
        #expect(verdict.diagnostics.contains("checked calls: 1"))
        var report = CheckReport(target: "snp", profile: "trace", kernel: "k", system: "s", startedAt: "t", durationSeconds: 0)
        report.batches = [verdict]
        #expect(Trace.exitStatus(report) == .pass)
    }

    @Test("a divergence: fail, exit 1, even with sev_snp unknown")
    func divergence() throws {
        // A page seen made private, then sev_gmem_invalidate over it returns without making it shared.
        let events = [
            Self.event(.rmpMakePrivate(pfn: 0x100, gpa: 0x1000, level: 1, asid: 1, immutable: false, result: 0), at: 1),
            Self.event(.gmemInvalidateEntry(startPFN: 0x100, endPFN: 0x101), at: 2),
            Self.event(.gmemInvalidateExit, at: 3),
        ]
        try #require(!SNPTraceChecker.check(events).divergences.isEmpty)
        let verdict = Trace.judge(Self.trace(Self.attached([.rmpMakePrivate: 1, .gmemInvalidate: 2]), events),
                                  snpEnabled: nil, notes: [], seconds: 1)
        #expect(verdict.outcome == .fail)
        #expect(verdict.diagnostics.contains { $0.hasPrefix("divergence: ") })
        var report = CheckReport(target: "snp", profile: "trace", kernel: "k", system: "s", startedAt: "t", durationSeconds: 0)
        report.batches = [verdict]
        #expect(Trace.exitStatus(report) == .divergence)
    }

    @Test("probe tests: absent → SKIP with the reason; silent → SKIP 'attached, never fired'; fired → ok")
    func probeTests() {
        let absent = Trace.probeBatch(Self.probe(.updateMemAttr, .unavailable(reason: "not in /proc/kallsyms: why")))
        #expect(absent.name == "probe.sev_update_mem_attr")
        #expect(absent.outcome == .skip)
        #expect(absent.reason == "not in /proc/kallsyms: why")
        let silent = Trace.probeBatch(Self.probe(.psmash, .fentry))
        #expect(silent.outcome == .skip)
        #expect(silent.reason == "attached, never fired during the workload")
        let fired = Trace.probeBatch(Self.probe(.gmemInvalidate, .kprobe, events: 2))
        #expect(fired.outcome == .pass)
        #expect(fired.operations == 2)
        #expect(fired.diagnostics == ["kprobe+kretprobe: 2 events"])
        #expect(Self.probe(.gmemInvalidate, .fentry).report
                == ProbeReport(function: "sev_gmem_invalidate", mechanism: "fentry+fexit", attached: true, reason: nil))
    }

    @Test("why a function is absent: its module not loaded, or the kernel lacks it")
    func absenceReasons() {
        let update = SNPProbeTable.entry(for: .updateMemAttr)
        #expect(SNPProbeTable.absence(of: update, loadedModules: ["kvm", "kvm_amd"])
                == "sev_update_mem_attr is added by the v8 SNP series, absent on mainline")
        #expect(SNPProbeTable.absence(of: update, loadedModules: ["kvm"])
                == "sev_update_mem_attr is in kvm_amd, which is not loaded (sev_update_mem_attr is added by the v8 SNP series, absent on mainline)")
        let prepare = SNPProbeTable.entry(for: .gmemPrepare)
        #expect(SNPProbeTable.absence(of: prepare, loadedModules: []).hasPrefix("sev_gmem_prepare is in kvm_amd, which is not loaded"))
        #expect(SNPProbeTable.entries.map(\.function) == SNPFunction.allCases)
    }

    @Test("the probes' events map to the model's, one to one")
    func eventMapping() {
        let event = SNPProbeEvent(timestamp: 9, tid: 3, kind: .rmpMakeShared(pfn: 0x42, level: 2, result: -14))
        #expect(SNPTraceRecorder.traceEvent(event)
                == SNPTraceEvent(timestamp: 9, thread: 3, kind: .rmpMakeShared(pfn: 0x42, level: 2, result: -14)))
        #expect(SNPTraceRecorder.function(of: .gmemInvalidateExit) == .gmemInvalidate)
        #expect(SNPTraceRecorder.function(of: .postSetMemoryAttributes(start: 0, end: 1, attributes: 0)) == .postSetMemoryAttributes)
    }

    static let usageCases: [(arguments: [String], message: String)] = [
        (["trace", "--target", "vsock", "--duration", "1"],
         "checker: unknown target 'vsock' for trace; use --target snp (see 'checker help')"),
        (["trace", "--target", "snp"], "checker: give a workload command after -- or --duration SECONDS (see 'checker help')"),
        (["trace", "--duration", "0"], "checker: --duration must be a positive number of seconds, not 0.0 (see 'checker help')"),
        (["trace", "--duration", "1", "--load-module", "../x"],
         "checker: --load-module '../x' is not a module name; give e.g. --load-module kvm_amd (see 'checker help')"),
    ]

    @Test("usage errors: one line, exit status 2", arguments: usageCases)
    func usage(arguments: [String], message: String) throws {
        let output = try CheckerProcess.run(arguments)
        #expect(output.status == 2)
        #expect(output.stderr == message + "\n")
        #expect(output.stdout.isEmpty)
    }
}
