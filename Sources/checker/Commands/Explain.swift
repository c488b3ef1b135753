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

    func run() throws {
        switch try targetOptions.checkedTarget() {
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
}
