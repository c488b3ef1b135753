import ArgumentParser
import Foundation

/// `checker merge RESULTS... --results OUT`: one report from the results of sharded runs.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Combine the results of sharded runs (--shard I/N) into one report.",
        discussion: """
            Each input is a results folder (as 'checker run --results' or 'checker vm' wrote it: \
            the newest summary.json in it or one level down is read) or a summary.json. The \
            inputs must be of one target and profile. Batches are put together in seed order, \
            operation counts added, probes kept at their worst, and every case file is copied \
            into OUT/cases. A shard of I/N that is missing or given twice, or a batch in two \
            inputs, is reported as the failing test 'merge.shards': a merged report never \
            passes on partial work. With --store, the merged cases also go into that failure \
            store (the shards' own stores stay on their machines). Writes summary.json, ktap.txt and junit.xml into OUT and \
            prints the KTAP. Exit status as for run: 0 pass, 1 divergence or inconclusive, 2 \
            usage error, 4 skip.
            """
    )

    @Argument(help: ArgumentHelp("Results folders or summary.json files of the shards.", valueName: "results"))
    var inputs: [String]

    @Option(help: "The folder for the merged summary.json, ktap.txt, junit.xml and cases (created; never overwritten).")
    var results: String

    @Option(help: ArgumentHelp("Also keep every merged case in this failure store, to be run first by the next run there (e.g. ~/.cache/checker/failures).",
                               valueName: "dir"))
    var store: String?

    func validate() throws {
        guard !inputs.isEmpty else { throw UsageProblem("give the shards' results folders, e.g. checker merge shard-1 shard-2 --results merged") }
    }

    func run() throws {
        let reports = try inputs.map { input in try Self.summary(of: input) }
        let output = try ResultsDirectory(creating: results)
        let merged = try Self.write(reports, into: output, store: store.map(FailureStore.init))
        print(KTAPReporter.render(merged), terminator: "")
        print(merged.closingLine)
        if merged.exitStatus != .pass { throw merged.exitStatus.exitCode }
    }

    /// Merges the shards' reports into `output`, as `checker merge` and the VM pool
    /// (`checker vm --jobs N`) both do: every case file is copied into `output/cases` (and kept in
    /// `store` when given), and summary.json, ktap.txt and junit.xml are written. Returns the
    /// merged report; its duration is the longest shard's (they ran side by side).
    static func write(_ reports: [CheckReport], into output: ResultsDirectory, store: FailureStore?) throws -> CheckReport {
        var merged = try merge(reports)
        merged.batches = try merged.batches.map { batch in
            var batch = batch
            batch.divergences = try batch.divergences.map { divergence in
                var divergence = divergence
                divergence.caseFile = try divergence.caseFile.map { try output.copyCase(from: $0) }
                if let store, let caseFile = divergence.caseFile, FileManager.default.fileExists(atPath: caseFile) {
                    try store.save(caseFile, target: merged.target, profile: merged.profile)
                }
                return divergence
            }
            return batch
        }
        try output.write(JSONReporter.render(merged), to: "summary.json")
        try output.write(KTAPReporter.render(merged), to: "ktap.txt")
        try output.write(JUnitReporter.render(merged), to: "junit.xml")
        return merged
    }

    /// The summary an input names: the file itself, or the newest summary.json in the folder or
    /// one level down (`checker vm` nests a timestamped folder).
    static func summary(of input: String) throws -> CheckReport {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw UsageProblem("\(input): no such file or folder; give a results folder or a summary.json")
        }
        var path = input
        if isDirectory.boolValue {
            let nested = ((try? FileManager.default.contentsOfDirectory(atPath: input)) ?? []).sorted()
                .map { "\(input)/\($0)/summary.json" }
            guard let found = (["\(input)/summary.json"] + nested.reversed()).first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw UsageProblem("\(input) holds no summary.json (nor its subfolders); give the folder a run wrote with --results")
            }
            path = found
        }
        do {
            return try JSONReporter.decode(String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw UsageProblem("\(path) is not a checker summary (\(error)); give the summary.json a run wrote")
        }
    }

    /// The reports as one. Pure: the case files are copied by the caller.
    static func merge(_ reports: [CheckReport]) throws -> CheckReport {
        let first = reports[0]
        for report in reports where report.target != first.target || report.profile != first.profile {
            throw UsageProblem("cannot merge \(report.target)/\(report.profile) with \(first.target)/\(first.profile); merge the shards of one run")
        }
        func joined(_ values: [String]) -> String {
            values.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.joined(separator: ", ")
        }
        var merged = CheckReport(target: first.target, profile: first.profile, kernel: joined(reports.map(\.kernel)),
                                 system: joined(reports.map(\.system)), startedAt: reports.map(\.startedAt).min() ?? "",
                                 durationSeconds: reports.map(\.durationSeconds).max() ?? 0)
        merged.batches = reports.flatMap(\.batches).sorted { ($0.seeds.first ?? .max, $0.name) < ($1.seeds.first ?? .max, $1.name) }
        // A probe keeps its worst showing: not attached anywhere means not attached.
        var probes: [String: ProbeReport] = [:]
        for probe in reports.flatMap(\.probes) where probes[probe.function]?.attached != false {
            probes[probe.function] = probe
        }
        merged.probes = probes.values.sorted { $0.function < $1.function }
        let counts = reports.compactMap(\.operationCounts)
        if !counts.isEmpty { merged.operationCounts = counts.reduce(into: [:]) { $0.merge($1, uniquingKeysWith: +) } }
        let outcomes = reports.compactMap(\.outcomeCounts)
        if !outcomes.isEmpty { merged.outcomeCounts = outcomes.reduce(into: [:]) { $0.merge($1, uniquingKeysWith: +) } }
        var problems: [String] = []
        let names = merged.batches.map(\.name)
        for name in Set(names) where names.count(where: { $0 == name }) > 1 {
            problems.append("batch \(name) is in more than one input")
        }
        let shards = reports.compactMap { $0.shard.flatMap(Shard.init(argument:)) }
        if !shards.isEmpty {
            let total = shards[0].count
            if shards.contains(where: { $0.count != total }) || shards.count != reports.count {
                problems.append("the inputs were split differently (" + reports.map { $0.shard ?? "whole" }.joined(separator: ", ") + ")")
            } else {
                let missing = (1...total).filter { index in !shards.contains { $0.index == index } }
                if !missing.isEmpty { problems.append("shard " + missing.map { "\($0)/\(total)" }.joined(separator: ", ") + " missing: its batches were not run") }
                for index in 1...total where shards.count(where: { $0.index == index }) > 1 {
                    problems.append("shard \(index)/\(total) given twice")
                }
            }
        }
        if !problems.isEmpty {
            merged.batches.append(BatchResult(name: "merge.shards", seeds: [], operations: 0, outcome: .fail,
                                              reason: problems.sorted().joined(separator: "; "), durationSeconds: 0,
                                              lostEvents: 0, divergences: []))
        }
        return merged
    }
}
