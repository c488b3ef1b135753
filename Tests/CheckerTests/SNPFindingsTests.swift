import Foundation
import Generators
import Model
import Testing
import TestDoubles
@testable import checker

/// The findings of the SNP harness against the v8 48/56 seed, kept as regression cases
/// (series/snp-v8/findings, analysed in docs/snp-v8.md): each must still diverge on the seed's
/// own code with its recorded signature, must agree on a host that does what the patch intends,
/// and its recorded observations must still be judged divergent by the model.
@Suite struct SNPFindingsTests {
    static let folder = HarnessTests.project.appendingPathComponent("series/snp-v8/findings").path
    static let cases: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".jsonl") }.sorted()

    static func load(_ name: String) throws -> CaseFile<SNPOperation, SNPObservation> {
        try CaseFile(decoding: String(contentsOfFile: folder + "/" + name, encoding: .utf8))
    }

    @Test("the findings are there: one case per class")
    func present() {
        #expect(Self.cases.count == 5, "\(Self.cases)")
    }

    @Test("each reproduces on the seed's code with its recorded signature", arguments: cases)
    func reproducesOnHarness(name: String) throws {
        let caseFile = try Self.load(name)
        let execution = try Execution.run(caseFile.steps.map(\.op), model: SNPModel(), system: try HarnessTests.seedHarness())
        #expect(execution.divergence?.signature == caseFile.header.signature, "\(name)")
        #expect(execution.divergence?.step == caseFile.steps.count - 1, "\(name): the last step diverges")
    }

    @Test("each agrees on a host that does what the patch intends", arguments: cases)
    func intentAgrees(name: String) throws {
        let caseFile = try Self.load(name)
        let execution = try Execution.run(caseFile.steps.map(\.op), model: SNPModel(), system: SimulatedSNPHost())
        #expect(execution.divergence == nil, "\(name): \(execution.steps.map(\.verdict))")
    }

    @Test("the recorded observations are still judged divergent", arguments: cases)
    func recordedStillDiverges(name: String) throws {
        let caseFile = try Self.load(name)
        let model = SNPModel()
        var state = model.initialState
        var verdicts: [Verdict] = []
        for step in caseFile.steps {
            let observed = try #require(step.observed)
            verdicts.append(model.judge(observed, of: step.op, against: model.expect(step.op, in: state), state: &state))
        }
        #expect(verdicts.last?.isDivergence == true && verdicts.dropLast().allSatisfy { !$0.isDivergence }, "\(name)")
    }
}
