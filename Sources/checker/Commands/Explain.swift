import ArgumentParser
import Generators
import Model

/// `checker explain`: the model, read aloud for one generated sequence.
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a generated operation sequence with the outcomes the model allows.",
        discussion: """
            No kernel is involved. Where the environment decides a result (VMCI refusing a bind, \
            virtio without a device failing a send, a page of another guest in an SNP conversion) \
            the model allows several outcomes; explain lists them all and follows the first to \
            draw the next operation.
            """
    )

    @OptionGroup var targetOptions: TargetOptions
    @OptionGroup var generation: GenerationOptions
    @OptionGroup var parallelOptions: ParallelOptions

    func run() throws {
        let target = try targetOptions.checkedTarget()
        if parallelOptions.parallel {
            guard target == .vsock else { throw UsageProblem("--parallel is for --target vsock; drop it for \(targetOptions.target)") }
            return explainParallel(try targetOptions.vsockProfile())
        }
        switch target {
        case .vsock:
            let profile = try targetOptions.vsockProfile()
            explain(Runner(model: VsockModel(profile: profile), generator: VsockOperationGenerator()), profile: profile.name)
        case .snp:
            explain(Runner(model: SNPModel(), generator: SNPOperationGenerator()), profile: try targetOptions.snpProfile())
        case .memoryAttributes:
            explain(Runner(model: MemoryAttributesModel(), generator: MemoryAttributesOperationGenerator()),
                    profile: try targetOptions.memoryAttributesProfile())
        }
    }

    private func explain<G: OperationGenerator>(_ runner: Runner<G>, profile: String) where G.Model.Expectation: RuleCiting {
        let configuration = RunConfiguration(seed: generation.seed, operations: generation.ops, swarm: !generation.noSwarm)
        let explained = runner.explain(configuration)
        print("# checker explain --target \(targetOptions.target) --profile \(profile) --seed \(generation.seed) --ops \(generation.ops)"
              + (generation.noSwarm ? " --no-swarm" : ""))
        print("# kinds drawn: \(explained.enabledKinds.joined(separator: ", "))")
        var rules: [String: Rule] = [:]
        for (index, (operation, expectation, nominal)) in explained.steps.enumerated() {
            print(String(format: "%3d  %@", index + 1, operation.description))
            let lines = expectation.description.split(separator: "\n")
            for (number, line) in lines.enumerated() {
                print("       \(number == 0 ? "expect" : "      ") \(line.trimmingCharacters(in: .whitespaces))")
            }
            for rule in expectation.citedRules { rules[rule.id] = rule }
            if lines.count > 1 { print("       (following: \(nominal))") }
        }
        print("# rules cited:")
        for rule in rules.values.sorted(by: { $0.id < $1.id }) {
            print("#   \(rule.id): \(rule.summary)\n#     \(rule.source)")
        }
    }

    /// A parallel case as `checker run --parallel` draws it: the prefix with what the model
    /// allows at each step, then each thread's operations (their interleaving is the kernel's).
    private func explainParallel(_ profile: VsockProfile) {
        let model = VsockModel(profile: profile)
        let parallelCase = VsockParallelGenerator(model: model).draw(
            seed: generation.seed, prefixLength: parallelOptions.prefixOps, threads: parallelOptions.threads,
            operationsPerThread: parallelOptions.threadOps)
        print("# checker explain --target vsock --profile \(profile.name) --parallel --seed \(generation.seed)"
              + " --prefix-ops \(parallelOptions.prefixOps) --threads \(parallelOptions.threads) --thread-ops \(parallelOptions.threadOps)")
        var state = model.initialState
        print("# the sequential prefix, each step with the outcomes the model allows:")
        for (index, operation) in parallelCase.prefix.enumerated() {
            print(String(format: "%3d  %@", index + 1, operation.description))
            let expectation = model.takeNominal(operation, in: &state).expectation
            for (number, line) in expectation.description.split(separator: "\n").enumerated() {
                print("       \(number == 0 ? "expect" : "      ") \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
        print("# then, released together (p<N>: the N-th socket open after the prefix; o<N>: the thread's own N-th socket()):")
        for (thread, operations) in parallelCase.threads.enumerated() {
            print("  thread \(thread):")
            for (index, operation) in operations.enumerated() {
                print("    \(thread).\(index + 1)  \(operation)")
            }
        }
        print("# every interleaving the kernel chooses must be explained by some order of these operations, consistent")
        print("# with when each was called and returned, in which every result is one the model allows")
    }
}
