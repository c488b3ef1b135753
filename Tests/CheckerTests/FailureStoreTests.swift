import Foundation
import Testing
@testable import checker

/// The failure store: kept once per content, fixed cases moved aside, copied whole.
@Suite("failure store")
struct FailureStoreTests {
    static func scratch() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("checker-store-\(UUID().uuidString)").path
    }

    @Test("a case is kept once however often it is saved; another gets a name of its own")
    func save() throws {
        let store = FailureStore(Self.scratch())
        let one = try CheckerProcess.temporaryFile("{\"a\":1}\n", name: "seed1-convert-state.jsonl")
        let same = try CheckerProcess.temporaryFile("{\"a\":1}\n", name: "seed1-convert-state.jsonl")
        let other = try CheckerProcess.temporaryFile("{\"a\":2}\n", name: "seed1-convert-state.jsonl")
        let first = try store.save(one, target: "snp", profile: "snp-v8")
        #expect(try store.save(same, target: "snp", profile: "snp-v8") == first)
        let second = try store.save(other, target: "snp", profile: "snp-v8")
        #expect(second != first && second.hasSuffix("seed1-convert-state-2.jsonl"))
        #expect(store.cases(target: "snp", profile: "snp-v8").count == 2)
        #expect(store.cases(target: "snp", profile: "other").isEmpty)
    }

    @Test("a fixed case moves to fixed/ and is no longer waiting; a store copies whole")
    func fixedAndCopy() throws {
        let store = FailureStore(Self.scratch())
        let path = try store.save(try CheckerProcess.temporaryFile("x\n"), target: "vsock", profile: "mainline")
        let moved = try store.markFixed(path)
        #expect(moved.contains("/fixed/") && FileManager.default.fileExists(atPath: moved))
        #expect(store.cases(target: "vsock", profile: "mainline").isEmpty)
        let copy = Self.scratch()
        try store.copy(to: copy)
        #expect(FileManager.default.fileExists(atPath: copy + "/vsock/mainline/fixed/case.jsonl"))
    }

    @Test("a run without --results keeps its cases in the store all the same, and the report names the stored case")
    func storeWithoutResults() throws {
        // As a new user tried it: the SNP seed diverges at seed 5 within 30 operations.
        let store = Self.scratch()
        let run = try CheckerProcess.run(["run", "--target", "snp", "--seed", "5", "--seeds", "1", "--ops", "30", "--store", store])
        #expect(run.status == 1, "\(run.stderr)")
        let kept = FailureStore(store).cases(target: "snp", profile: "snp-v8")
        #expect(kept.count == 1)
        #expect(kept.allSatisfy { run.stdout.contains("case: \($0)") })
    }
}
