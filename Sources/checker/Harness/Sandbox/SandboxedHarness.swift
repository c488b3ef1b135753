import Foundation
import Generators
import Model

/// A harness system run in a sandboxed child process (``HarnessChild``): the engine sees an
/// ordinary system under test, and a patch that crashes, aborts, exits, hangs or calls what the
/// sandbox forbids gives the observation `crashed(...)` for the operation that did it, which the
/// model judges a divergence like any other (shrunk, reproduced, kept as a case).
///
/// After a crash the child is gone; the next ``reset()`` starts a new one, so shrinking a crash
/// costs one process start per candidate that crashes (tens of milliseconds).
final class SandboxedHarness<Model: ReferenceModel>: EvidencedSystem
where Model.Operation: Codable, Model.Observation: CrashObservable {
    typealias Request = HarnessProtocol.Request<Model.Operation>
    typealias Reply = HarnessProtocol.Reply<Model.Observation>

    let name: String
    let child: HarnessChild
    /// The patch function an operation calls (named in a hang's report), nil when it calls none.
    let entry: (Model.Operation) -> String?
    /// The last operation's evidence, fetched from the child when first read (most operations'
    /// evidence is never read: only a divergence's is reported).
    var lastEvidence: [String] {
        if let evidence { return evidence }
        let fetched = fetchEvidence()
        evidence = fetched
        return fetched
    }
    private var evidence: [String]? = []
    private let decoder = JSONDecoder()

    init(build: HarnessBuild, executable: String = VM.executablePath(), callBound: Duration = .seconds(10),
         entry: @escaping (Model.Operation) -> String?) throws {
        name = build.name
        child = try HarnessChild(build: build, executable: executable, callBound: callBound, shimFiles: build.shimFiles)
        self.entry = entry
    }

    /// What the child's sandbox applied (after the first reset).
    var sandbox: String? { child.sandbox }

    func reset() throws {
        evidence = []
        if !child.isRunning { try child.start() }
        switch try child.ask(HarnessProtocol.line(Request(request: "reset")), entry: nil) {
        case let .line(data): _ = try reply(data)
        case .crashed: throw SystemError.unreliable("the harness child died while resetting its world")
        }
    }

    func execute(_ operation: Model.Operation) throws -> Model.Observation {
        evidence = []
        guard child.isRunning else {
            // The child died at an earlier operation of this sequence: its world is gone.
            throw SystemError.unreliable("the harness child is not running after a crash; reset before the next operation")
        }
        switch try child.ask(HarnessProtocol.line(Request(request: "execute", operation: operation)), entry: entry(operation)) {
        case let .line(data):
            guard let observation = try reply(data).observation else {
                throw SystemError.unreliable("the harness child answered an operation without an observation")
            }
            evidence = nil
            return observation
        case let .crashed(crash):
            evidence = crash.detail
            return .crashed(crash)
        }
    }

    /// Asks the child for the last operation's evidence; what went wrong instead, as one line.
    private func fetchEvidence() -> [String] {
        guard child.isRunning else { return ["(the harness child has ended: no evidence)"] }
        do {
            switch try child.ask(HarnessProtocol.line(Request(request: "evidence")), entry: nil) {
            case let .line(data): return try reply(data).evidence ?? []
            case .crashed: return ["(the harness child died while handing over the evidence)"]
            }
        } catch {
            return ["(the evidence could not be fetched: \(error))"]
        }
    }

    private func reply(_ data: Data) throws -> Reply {
        let reply: Reply
        do {
            reply = try decoder.decode(Reply.self, from: data)
        } catch {
            throw SystemError.unreliable("the harness child's reply is not JSON of this checker's version: \(error)")
        }
        if let error = reply.error { throw SystemError.unreliable("the harness child could not serve a request: \(error)") }
        return reply
    }
}

extension SandboxedHarness where Model == SNPModel {
    /// The v8 harness in its sandbox: conversions call `sev_update_mem_attr`.
    convenience init(snpV8 build: HarnessBuild, executable: String = VM.executablePath(), callBound: Duration = .seconds(10)) throws {
        try self.init(build: build, executable: executable, callBound: callBound) { operation in
            if case .convert = operation { return SandboxCall.sevUpdateMemAttr.name }
            return nil
        }
    }
}

extension SandboxedHarness where Model == GmemModel {
    /// Mainline's guest_memfd hooks in their sandbox.
    convenience init(gmem build: HarnessBuild, executable: String = VM.executablePath(), callBound: Duration = .seconds(10)) throws {
        try self.init(build: build, executable: executable, callBound: callBound) { GmemHarnessSystem.entry(of: $0)?.name }
    }
}
