import ArgumentParser
import Generators
import Model

/// `checker explain`: the model, read aloud for one generated sequence.
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a generated operation sequence with the outcomes the model allows.",
        discussion: """
            No kernel is involved. Where a transport callback decides a result (VMCI refusing a \
            bind, virtio without a device failing a send) the model allows several outcomes; \
            explain lists them all and follows the first to draw the next operation.
            """
    )

    @OptionGroup var targetOptions: TargetOptions
    @OptionGroup var generation: GenerationOptions

    func run() throws {
        let profile = try targetOptions.vsockProfile()
        let runner = Runner(model: VsockModel(profile: profile), generator: VsockOperationGenerator())
        let configuration = RunConfiguration(seed: generation.seed, operations: generation.ops,
                                             swarm: !generation.noSwarm)
        let explained = runner.explain(configuration)
        print("# checker explain --target vsock --profile \(profile) --seed \(generation.seed) --ops \(generation.ops)"
              + (generation.noSwarm ? " --no-swarm" : ""))
        print("# kinds drawn: \(explained.enabledKinds.joined(separator: ", "))")
        var rules: [String: Rule] = [:]
        for (index, (operation, expectation, nominal)) in explained.steps.enumerated() {
            print(String(format: "%3d  %@", index + 1, operation.description))
            for (number, branch) in expectation.branches.enumerated() {
                print("       \(number == 0 ? "expect" : "    or") \(branch)")
                rules[branch.rule.id] = branch.rule
            }
            if expectation.branches.count > 1 { print("       (following: \(nominal))") }
        }
        print("# rules cited:")
        for rule in rules.values.sorted(by: { $0.id < $1.id }) {
            print("#   \(rule.id): \(rule.summary)\n#     \(rule.source)")
        }
    }
}
