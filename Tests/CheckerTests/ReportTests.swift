import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import checker

/// A report with one batch of each outcome: pass, fail (one divergence), skip, inconclusive.
enum ReportFixture {
    static let divergence = DivergenceReport(
        seed: 11, signature: "sendto/errno", step: 2, operation: "sendto(#1, cid 2, port 1024, len 1)",
        expected: "EHOSTUNREACH via vmci dgram_enqueue", observed: "EINVAL, no dgram_enqueue",
        evidence: ["probe: vsock_dgram_sendmsg returned -22", "refcnt vmw_vsock_vmci_transport 1 -> 1"],
        minimal: ["socket(dgram)  →  fd", "sendto(#1, cid 2, port 1024, len 1)  →  EINVAL"],
        caseFile: "/work/results/cases/seed11-sendto-errno.jsonl", shrinkExecutions: 37, reproduced: "3/3")

    static let report = CheckReport(
        target: "vsock", profile: "mainline", kernel: "6.1.0-50-amd64", system: "live kernel",
        startedAt: "2026-11-21T22:00:00Z", durationSeconds: 12.5,
        batches: [
            BatchResult(name: "vsock.mainline.seeds-1-10", seeds: Array(1...10), operations: 200, outcome: .pass,
                        reason: nil, durationSeconds: 2.25, lostEvents: 0, divergences: []),
            BatchResult(name: "vsock.mainline.seeds-11-20", seeds: Array(11...20), operations: 187, outcome: .fail,
                        reason: nil, durationSeconds: 8, lostEvents: 0, divergences: [divergence]),
            BatchResult(name: "vsock.mainline.seeds-21-30", seeds: Array(21...30), operations: 0, outcome: .skip,
                        reason: "no VMCI transport", durationSeconds: 0, lostEvents: 0, divergences: []),
            BatchResult(name: "vsock.mainline.seeds-31-40", seeds: Array(31...40), operations: 120,
                        outcome: .inconclusive, reason: "probe ring buffer lost events", durationSeconds: 2.25,
                        lostEvents: 3, divergences: []),
        ],
        probes: [
            ProbeReport(function: "vsock_dgram_sendmsg", mechanism: "fentry", attached: true, reason: nil),
            ProbeReport(function: "vmci_transport_dgram_enqueue", mechanism: "kprobe", attached: false,
                        reason: "symbol not found"),
        ])
}

@Suite("reports: KTAP, JUnit, JSON")
struct ReportTests {
    @Test("KTAP v1 as kselftest prints it")
    func ktap() {
        let expected = """
            KTAP version 1
            1..4
            # checker: target vsock, profile mainline, kernel 6.1.0-50-amd64, live kernel, started 2026-11-21T22:00:00Z
            # probe vsock_dgram_sendmsg: fentry
            # probe vmci_transport_dgram_enqueue: not attached (kprobe): symbol not found
            # vsock.mainline.seeds-1-10: 200 operations in 2.250 s
            ok 1 vsock.mainline.seeds-1-10
            # vsock.mainline.seeds-11-20: 187 operations in 8.000 s
            # vsock.mainline.seeds-11-20: divergence at seed 11, step 2: sendto(#1, cid 2, port 1024, len 1) [sendto/errno]
            #   expected: EHOSTUNREACH via vmci dgram_enqueue
            #   observed: EINVAL, no dgram_enqueue
            #   evidence: probe: vsock_dgram_sendmsg returned -22
            #   evidence: refcnt vmw_vsock_vmci_transport 1 -> 1
            #   minimal sequence (2 operations, 37 shrink executions, reproduced 3/3):
            #     1 socket(dgram)  →  fd
            #     2 sendto(#1, cid 2, port 1024, len 1)  →  EINVAL
            #   case: /work/results/cases/seed11-sendto-errno.jsonl
            #   replay: checker replay /work/results/cases/seed11-sendto-errno.jsonl --profile mainline
            not ok 2 vsock.mainline.seeds-11-20
            ok 3 vsock.mainline.seeds-21-30 # SKIP no VMCI transport
            # vsock.mainline.seeds-31-40: 120 operations in 2.250 s
            # vsock.mainline.seeds-31-40: 3 probe events lost
            # inconclusive: probe ring buffer lost events
            not ok 4 vsock.mainline.seeds-31-40
            # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:1

            """
        #expect(KTAPReporter.render(ReportFixture.report) == expected)
    }

    @Test("KTAP keeps names whole and diagnostics one per line")
    func ktapSanitises() {
        var report = ReportFixture.report
        report.probes = []
        report.batches = [BatchResult(name: "odd name #1", seeds: [1], operations: 0, outcome: .fail,
                                      reason: "first line\nsecond line", durationSeconds: 0, lostEvents: 0,
                                      divergences: [], diagnostics: ["console:", "  [   1.0] Oops"])]
        let lines = KTAPReporter.render(report).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.contains("not ok 1 odd_name__1"))
        #expect(lines.contains("# fail: first line"))
        #expect(lines.contains("# second line"))
        #expect(lines.contains("#   console:"))
        #expect(lines.contains("#     [   1.0] Oops"))
        #expect(lines.allSatisfy { $0.isEmpty || $0.hasPrefix("#") || $0.hasPrefix("ok ") || $0.hasPrefix("not ok ")
                                   || $0.hasPrefix("KTAP version 1") || $0.hasPrefix("1..") })
    }

    @Test("JUnit XML with failure, skipped and error, escaped")
    func junit() {
        let expected = """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="checker" tests="4" failures="1" errors="1" skipped="1" time="12.500">
              <testsuite name="vsock.mainline" tests="4" failures="1" errors="1" skipped="1" time="12.500" timestamp="2026-11-21T22:00:00Z">
                <properties>
                  <property name="target" value="vsock"/>
                  <property name="profile" value="mainline"/>
                  <property name="kernel" value="6.1.0-50-amd64"/>
                  <property name="system" value="live kernel"/>
                  <property name="probe.vsock_dgram_sendmsg" value="fentry"/>
                  <property name="probe.vmci_transport_dgram_enqueue" value="not attached (kprobe): symbol not found"/>
                </properties>
                <testcase name="vsock.mainline.seeds-1-10" classname="vsock.mainline" time="2.250"/>
                <testcase name="vsock.mainline.seeds-11-20" classname="vsock.mainline" time="8.000">
                  <failure message="divergence at seed 11, step 2: sendto(#1, cid 2, port 1024, len 1) [sendto/errno]" type="divergence">
            divergence at seed 11, step 2: sendto(#1, cid 2, port 1024, len 1) [sendto/errno]
              expected: EHOSTUNREACH via vmci dgram_enqueue
              observed: EINVAL, no dgram_enqueue
              evidence: probe: vsock_dgram_sendmsg returned -22
              evidence: refcnt vmw_vsock_vmci_transport 1 -&gt; 1
              minimal sequence (2 operations, 37 shrink executions, reproduced 3/3):
                1 socket(dgram)  →  fd
                2 sendto(#1, cid 2, port 1024, len 1)  →  EINVAL
              case: /work/results/cases/seed11-sendto-errno.jsonl
              replay: checker replay /work/results/cases/seed11-sendto-errno.jsonl --profile mainline
                  </failure>
                </testcase>
                <testcase name="vsock.mainline.seeds-21-30" classname="vsock.mainline" time="0.000">
                  <skipped message="no VMCI transport"/>
                </testcase>
                <testcase name="vsock.mainline.seeds-31-40" classname="vsock.mainline" time="2.250">
                  <error message="inconclusive: probe ring buffer lost events" type="inconclusive">
            probe ring buffer lost events
            3 probe events lost
                  </error>
                </testcase>
              </testsuite>
            </testsuites>

            """
        #expect(JUnitReporter.render(ReportFixture.report) == expected)
    }

    @Test("XML escaping: entities, line breaks in attributes, forbidden control characters")
    func escaping() {
        #expect(JUnitReporter.escape(#"a<b>&"c"'d'"#) == "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;")
        #expect(JUnitReporter.escape("one\ntwo\tthree") == "one&#10;two&#9;three")
        #expect(JUnitReporter.escape("one\ntwo", attribute: false) == "one\ntwo")
        #expect(JUnitReporter.escape("bell\u{07}esc\u{1B}") == "bellesc")
    }

    @Test("the JUnit document is well-formed XML")
    func junitParses() throws {
        var report = ReportFixture.report
        report.batches[0].name = "weird <name> & \"quotes\""
        report.batches[1].divergences[0].observed = "bytes \u{01}\u{02} and ]]> end"
        let data = Data(JUnitReporter.render(report).utf8)
        let document = try XMLDocument(data: data)
        let cases = try document.nodes(forXPath: "//testcase")
        #expect(cases.count == 4)
        #expect(try document.nodes(forXPath: "//failure").count == 1)
        #expect(try document.nodes(forXPath: "//skipped").count == 1)
        #expect(try document.nodes(forXPath: "//error").count == 1)
        #expect((cases[0] as? XMLElement)?.attribute(forName: "name")?.stringValue == "weird <name> & \"quotes\"")
    }

    @Test("JSON round-trips, pretty and with sorted keys")
    func json() throws {
        let text = JSONReporter.render(ReportFixture.report)
        #expect(try JSONReporter.decode(text) == ReportFixture.report)
        #expect(text.hasPrefix("{\n  \"batches\" : [\n"))
        #expect(text.contains("\"outcome\" : \"inconclusive\""))
        #expect(text.contains("\"caseFile\" : \"/work/results/cases/seed11-sendto-errno.jsonl\""))
    }

    @Test("a summary without diagnostics (older guests) still decodes")
    func jsonWithoutDiagnostics() throws {
        let text = JSONReporter.render(ReportFixture.report).replacingOccurrences(of: "\"diagnostics\" : [\n\n      ],\n", with: "")
            .replacingOccurrences(of: "\"diagnostics\" : [],\n", with: "")
        #expect(!text.contains("diagnostics"))
        #expect(try JSONReporter.decode(text) == ReportFixture.report)
    }

    @Test("totals, exit status and the closing line")
    func totals() {
        let report = ReportFixture.report
        #expect(report.passed == 1 && report.failed == 1 && report.skipped == 1 && report.inconclusive == 1)
        #expect(report.operations == 507)
        #expect(report.divergences == 1)
        #expect(report.exitStatus == .divergence)
        #expect(report.closingLine == "1 passed, 2 failed, 1 skipped")

        func with(_ outcomes: [BatchResult.Outcome]) -> CheckReport {
            var report = report
            report.batches = outcomes.enumerated().map { index, outcome in
                BatchResult(name: "b\(index)", seeds: [], operations: 0, outcome: outcome, reason: nil,
                            durationSeconds: 0, lostEvents: 0, divergences: [])
            }
            return report
        }
        #expect(with([.pass, .skip]).exitStatus == .pass)
        #expect(with([.pass, .skip]).closingLine == "1 passed, 0 failed, 1 skipped")
        #expect(with([.pass, .pass]).closingLine == "2 passed, 0 failed")
        #expect(with([.skip, .skip]).exitStatus == .skip)
        #expect(with([]).exitStatus == .skip)
        #expect(with([.pass, .inconclusive]).exitStatus == .divergence)
        #expect(with([.skip, .fail]).exitStatus == .divergence)
    }

    @Test("the closing line is one CI reads: 'N passed, N failed' alone on a line")
    func closingLineShape() {
        let line = ReportFixture.report.closingLine
        #expect(line.wholeMatch(of: /\d+ passed, \d+ failed(, \d+ skipped)?/) != nil)
    }
}
