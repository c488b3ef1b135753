import ArgumentParser
import Foundation
import Generators
import Model

/// `checker replay FILE`: re-judges a saved case against the model.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a saved case file against the model.",
        discussion: """
            Each step's recorded observation is judged again by the model: a case whose divergence \
            came from a model bug stops diverging once the model is fixed. Steps without a recorded \
            observation are explained instead. Exit status 0 when every step agrees, 1 at a divergence.
            """
    )

    @Argument(help: "A case file (JSON lines) written by the checker.")
    var file: String?

    @Flag(help: "Replay every case kept in the failure store instead of one file.")
    var all = false

    @Option(help: ArgumentHelp("With --all: the failure store (default ~/.cache/checker/failures or $CHECKER_FAILURE_STORE).", valueName: "dir"))
    var store: String?

    @Option(help: "Judge under this profile instead of the one the case was recorded with.")
    var profile: String?

    @Option(help: "Run the case's operations again on a system instead of re-judging the recorded observations: harness (snp cases) or live (vsock cases: root, in the test VM, e.g. checker vm -- replay FILE --on live).")
    var on: String?

    @Option(help: ArgumentHelp("With --on live: a folder of rebuilt modules loaded instead of the kernel's own.", valueName: "dir"))
    var modules: String?

    @Option(help: ArgumentHelp("With --on harness: the patch the harness compiles (default: the v8 48/56 seed); with --source, a patch applied to that tree's sev.c first.", valueName: "file"))
    var patch: String?

    @Option(help: ArgumentHelp("With --on harness: how long one call into the patch's code may take before it is a hang.",
                               valueName: "seconds"))
    var callTimeout: Int = 10

    @Option(help: ArgumentHelp("With --on harness and an snp-gmem case: the kernel tree or Debian version whose sev.c hooks run (as checker run --source).", valueName: "tree|version"))
    var source: String?

    @Option(help: ArgumentHelp("With --on live and a case file: when the divergence shows again, write a standalone C reproducer of the steps up to it here (a new file), as 'checker run' does for what it finds; for hand-written cases.", valueName: "file"))
    var reproducer: String?

    @Option(help: ArgumentHelp("With --on live: keep the operations here as they run (a case file); a guest whose kernel crashes leaves the ones that led there.", valueName: "file"))
    var journal: String?

    @Option(help: "With --on live and a parallel case: how many times to run it (races are probabilistic); it diverges when some run's history no order explains.")
    var repeats: Int = 3

    @Flag(help: "With --on: run every operation, past a divergence (reproducing a crash: whether the kernel crashes matters); the first divergence is still reported.")
    var pastDivergences = false

    @Option(help: ArgumentHelp("With --on live: replay the case files that appear in this folder one after another (case-1.jsonl, case-2.jsonl, …), answering each with case-N.done, until a file named stop appears; a crash reproduction's test VMs run their candidates this way, booting again only after a crash.", valueName: "dir"))
    var serve: String?

    func validate() throws {
        guard callTimeout > 0 else { throw UsageProblem("--call-timeout must be positive, not \(callTimeout)") }
        guard repeats > 0 else { throw UsageProblem("--repeats must be positive, not \(repeats)") }
        if pastDivergences, on == nil {
            throw UsageProblem("--past-divergences runs a case's operations on a system; add --on live or --on harness")
        }
        if journal != nil, on != "live" {
            throw UsageProblem("--journal keeps the operations of a live replay; add --on live")
        }
        if serve != nil {
            guard on == "live" else { throw UsageProblem("--serve replays cases live; add --on live") }
            guard file == nil, !all, reproducer == nil else {
                throw UsageProblem("--serve takes its cases from the folder; give no case file, --all or --reproducer with it")
            }
            return
        }
        guard (file != nil) != all else {
            throw UsageProblem(all ? "give either a case file or --all, not both" : "give a case file to replay, or --all for the failure store")
        }
        if let reproducer {
            guard on == "live", !all else {
                throw UsageProblem("--reproducer writes the C program of one vsock case replayed live; add --on live and give one case file")
            }
            guard !FileManager.default.fileExists(atPath: reproducer) else {
                throw UsageProblem("\(reproducer) exists and would be overwritten; give --reproducer a new file")
            }
        }
    }

    func run() throws {
        if let serve { return try self.serve(CaseQueue(folder: serve)) }
        guard all else { return try replay(file: file!) }
        guard let root = store ?? FailureStore.defaultPath else {
            throw UsageProblem("the failure store is off (CHECKER_FAILURE_STORE=none); give --store DIR")
        }
        let cases = Self.storedCases(under: root)
        guard !cases.isEmpty else {
            print("# the failure store \(root) holds no case")
            return
        }
        var reproduced: [String] = []
        var fixed: [String] = []
        for path in cases {
            print("# == \(path)")
            do {
                try replay(file: path)
                fixed.append(path)
            } catch let exit as ExitCode where exit == ExitStatus.divergence.exitCode {
                reproduced.append(path)
            }
        }
        print("# \(cases.count) stored case(s): \(reproduced.count) still diverge, \(fixed.count) fixed")
        for path in fixed { print("# fixed: \(path)") }
        if !reproduced.isEmpty { throw ExitStatus.divergence.exitCode }
    }

    /// Every waiting case of every target and profile (`<store>/<target>/<profile>/*.jsonl`).
    static func storedCases(under root: String) -> [String] {
        let manager = FileManager.default
        var cases: [String] = []
        for target in ((try? manager.contentsOfDirectory(atPath: root)) ?? []).sorted() {
            for profile in ((try? manager.contentsOfDirectory(atPath: root + "/" + target)) ?? []).sorted() {
                cases += FailureStore(root).cases(target: target, profile: profile)
            }
        }
        return cases
    }

    private func replay(file: String, reusing system: LiveVsockSystem? = nil) throws {
        var one = self
        one.file = file
        try one.replayOne(reusing: system)
    }

    /// `--serve`: replays the queue's cases as they come, on one live system (its probes attach
    /// once), each from a reset system. Ends when the host says stop, when no case came for 10
    /// minutes (the host is gone), or when a reset fails: the next case would not start from the
    /// state a fresh guest has, so the host boots a new one.
    private func serve(_ queue: CaseQueue) throws {
        let system: LiveVsockSystem
        do {
            system = try liveSystem()
        } catch let error as SystemError {
            print("# could not run: \(error)")
            throw ExitStatus.skip.exitCode
        }
        var number = 1
        while let path = queue.waitForCase(number, idle: .seconds(600)) {
            var status = ExitStatus.pass.rawValue
            do {
                try replay(file: path, reusing: system)
            } catch let exit as ExitCode {
                status = exit.rawValue
            } catch let problem as UsageProblem {
                print("checker: \(problem)")
                status = ExitStatus.usage.rawValue
            }
            let clean: Bool
            do { try system.reset(); clean = true } catch { print("# the system could not be reset: \(error)"); clean = false }
            try queue.answer(number, .init(status: status, last: !clean))
            guard clean else { throw ExitStatus.skip.exitCode }
            number += 1
        }
    }

    /// The live vsock system a replay runs on.
    func liveSystem() throws -> LiveVsockSystem {
        guard geteuid() == 0, GuestEnvironment.isTestVM else {
            throw UsageProblem("--on live loads and unloads vsock modules: run it as root in the test VM ('checker vm -- replay FILE --on live')")
        }
        return try LiveVsockSystem(transports: VsockOperationGenerator().modules, replacements: modules)
    }

    /// The case file being replayed.
    var path: String { file ?? "" }

    private func replayOne(reusing reused: LiveVsockSystem? = nil) throws {
        let file = path
        let text = try Self.read(file)
        let target: String
        do {
            target = try CaseFile<VsockOperation, VsockObservation>.header(of: text).target
        } catch {
            throw UsageProblem("\(file) \(error); fix the line or write the case again")
        }
        if (try? CaseFile<VsockOperation, VsockObservation>.header(of: text).threads) ?? nil != nil {
            return try replayParallel(text, reusing: reused)
        }
        switch CheckTarget(rawValue: target) {
        case .vsock?:
            let caseFile = try decode(CaseFile<VsockOperation, VsockObservation>.self, text)
            let name = profile ?? caseFile.header.profile
            guard let vsockProfile = VsockProfile.named(name) else {
                throw UsageProblem("unknown profile '\(name)' in \(file); use one of: "
                                   + VsockProfile.all.map(\.name).joined(separator: ", "))
            }
            if let on {
                guard on == "live" else { throw UsageProblem("unknown system '\(on)' for a vsock case; use --on live") }
                let system: LiveVsockSystem
                do {
                    system = try reused ?? liveSystem()
                } catch let error as SystemError {
                    print("# could not run: \(error)")
                    throw ExitStatus.skip.exitCode
                }
                system.journal = journal.map {
                    ExecutionJournal(path: $0, header: .init(target: "vsock", profile: vsockProfile.name, seed: caseFile.header.seed,
                                                             system: system.name))
                }
                let replacements = modules.map(Run.replacementFiles) ?? [:]
                return try rerun(caseFile, model: VsockModel(profile: vsockProfile), on: system) { steps, signature, expected in
                    guard let reproducer else { return }
                    let source = VsockReproducer(minimal: steps, mismatch: signature.mismatch, expected: expected,
                                                 title: "\(file), \(signature) under profile \(vsockProfile.name), replayed live",
                                                 replacements: replacements).source()
                    try source.write(toFile: reproducer, atomically: true, encoding: .utf8)
                    print("# C reproducer: \(reproducer)")
                }
            }
            try replay(caseFile, model: VsockModel(profile: vsockProfile), profile: vsockProfile.name)
        case .snp? where (profile ?? (try? CaseFile<SNPOperation, SNPObservation>.header(of: text).profile)) == TargetOptions.snpGmemProfile:
            let caseFile = try decode(CaseFile<GmemOperation, GmemObservation>.self, text)
            if let on {
                guard on == "harness" else { throw UsageProblem("unknown system '\(on)' for an snp-gmem case; use --on harness") }
                guard let source else {
                    throw UsageProblem("--on harness with an snp-gmem case needs --source TREE|VERSION (e.g. --source 6.12.111)")
                }
                let built = try GmemHarnessSystem.compile(try GmemSource.resolve(source, patch: patch))
                return try rerun(caseFile, model: GmemModel(), on: try SandboxedHarness(gmem: built, callBound: .seconds(callTimeout)))
            }
            try replay(caseFile, model: GmemModel(), profile: TargetOptions.snpGmemProfile)
        case .snp?:
            let caseFile = try decode(CaseFile<SNPOperation, SNPObservation>.self, text)
            if let on {
                guard on == "harness" else { throw UsageProblem("unknown system '\(on)' for an snp case; use --on harness") }
                let build = try SNPHarnessSystem.build(patch: try SNPHarnessSystem.patchPath(patch))
                return try rerun(caseFile, model: SNPModel(), on: try SandboxedHarness(snpV8: build, callBound: .seconds(callTimeout)))
            }
            try replay(caseFile, model: SNPModel(), profile: try named(profile ?? caseFile.header.profile, TargetOptions.snpProfiles))
        case .memoryAttributes?:
            if let on { throw UsageProblem("--on \(on) is for snp cases") }
            let caseFile = try decode(CaseFile<MemoryAttributesOperation, MemoryAttributesObservation>.self, text)
            try replay(caseFile, model: MemoryAttributesModel(),
                       profile: try named(profile ?? caseFile.header.profile, TargetOptions.memoryAttributesProfiles))
        case nil:
            throw UsageProblem("\(file) line 1: target \"\(target)\" is not one this checker replays ("
                               + CheckTarget.allCases.map(\.rawValue).joined(separator: ", ") + "); fix the line or write the case again")
        }
    }

    func decode<Operation, Observation>(_ type: CaseFile<Operation, Observation>.Type, _ text: String) throws
        -> CaseFile<Operation, Observation> {
        do {
            return try CaseFile(decoding: text)
        } catch {
            throw UsageProblem("\(path) \(error); fix the line or write the case again")
        }
    }

    private func named(_ name: String, _ known: [String]) throws -> String {
        guard known.contains(name) else {
            throw UsageProblem("unknown profile '\(name)' in \(path); use one of: " + known.joined(separator: ", "))
        }
        return name
    }

    /// Runs the case's operations on `system` and judges what it shows now. Exit 1 when the
    /// recorded divergence (or another) shows again; 0 when every step agrees: fixed.
    private func rerun<Model: ReferenceModel, System: EvidencedSystem<Model>>(
        _ caseFile: CaseFile<Model.Operation, Model.Observation>, model: Model, on system: System,
        reproduced: (([(Model.Operation, Model.Observation)], DivergenceSignature, String) throws -> Void)? = nil) throws {
        print("# checker replay \(path) --on \(on ?? "")" + (caseFile.header.seed.map { " (seed \($0))" } ?? "") + ": \(system.name)")
        // Leave the system as a run finds it (live: sockets closed, transports unloaded), so that
        // the next case of `replay --all` can reset it: its sockets would hold the modules.
        defer { try? system.reset() }
        let execution: Execution<Model>
        do {
            execution = try Execution.run(caseFile.steps.map(\.op), model: model, system: system, pastDivergences: pastDivergences)
        } catch let error as SystemError {
            print("# could not run: \(error)")
            if case .unavailable = error { throw ExitStatus.skip.exitCode }
            throw ExitStatus.divergence.exitCode
        }
        for (index, step) in execution.steps.enumerated() {
            print(String(format: "%3d  %@", index + 1, step.operation.description))
            print("       expect \(step.expectation)")
            print("       observed \(step.observation)")
        }
        guard let divergence = execution.divergence else {
            print("# every step agrees: " + (caseFile.header.signature.map { "the recorded divergence (\($0)) no longer reproduces: fixed" }
                                           ?? "no divergence"))
            return
        }
        let record = execution.steps[divergence.step]
        if case let .diverges(mismatch) = record.verdict {
            print("# DIVERGENCE at step \(divergence.step + 1) (\(divergence.signature)): \(mismatch)")
        }
        for line in system.lastEvidence.prefix(40) { print("#   evidence: \(line)") }
        if let recorded = caseFile.header.signature {
            print(recorded == divergence.signature ? "# reproduced: \(recorded)"
                  : "# a different divergence than the recorded one (\(recorded))")
        }
        try reproduced?(execution.steps[...divergence.step].map { ($0.operation, $0.observation) }, divergence.signature,
                        "\(record.expectation)")
        throw ExitStatus.divergence.exitCode
    }

    /// Judges every step's recorded observation again (or explains a step without one).
    private func replay<Model: ReferenceModel>(_ caseFile: CaseFile<Model.Operation, Model.Observation>, model: Model,
                                               profile: String) throws {
        print("# checker replay \(path) --profile \(profile)"
              + (caseFile.header.seed.map { " (seed \($0))" } ?? "")
              + (caseFile.header.system.map { ", observed on \($0)" } ?? ""))
        var state = model.initialState
        for (index, step) in caseFile.steps.enumerated() {
            let label = String(format: "%3d  %@", index + 1, step.op.description)
            guard model.isApplicable(step.op, in: state) else {
                print("\(label)\n       skipped: it cannot run in this state (a handle it names does not exist)")
                continue
            }
            let expectation = model.expect(step.op, in: state)
            print(label)
            let lines = expectation.description.split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() {
                print("       \(number == 0 ? "expect" : "      ") \(line.trimmingCharacters(in: .whitespaces))")
            }
            let observed = step.observed ?? model.nominalObservation(of: step.op, for: expectation, in: state)
            let verdict = model.judge(observed, of: step.op, against: expectation, state: &state)
            if step.observed != nil { print("       observed \(observed)") }
            if case let .diverges(mismatch) = verdict {
                print("# DIVERGENCE at step \(index + 1) (\(step.op.kindName)): \(mismatch)")
                throw ExitStatus.divergence.exitCode
            }
        }
        if let signature = caseFile.header.signature {
            print("# the recorded divergence (\(signature)) does not reproduce against the model")
        } else {
            print("# every step agrees with the model")
        }
    }

    /// The file's text, or one line saying why it cannot be had.
    static func read(_ file: String) throws -> String {
        var isDirectory: ObjCBool = false
        let problem: String
        if !FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) {
            problem = "no such file or directory"
        } else if isDirectory.boolValue {
            problem = "it is a directory"
        } else if let data = FileManager.default.contents(atPath: file) {
            if let text = String(data: data, encoding: .utf8) { return text }
            problem = "it is not UTF-8 text"
        } else {
            problem = "permission denied"
        }
        throw UsageProblem("cannot read \(file): \(problem); give the path of a case file the checker wrote")
    }
}
