import ArgumentParser
import Model

/// `checker rules`: every rule of a model, with where it comes from.
struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the rules of the model with the patch hunk or source line each cites.")

    @OptionGroup var targetOptions: TargetOptions

    func run() throws {
        let rules: [Rule]
        switch try targetOptions.checkedTarget() {
        case .vsock: rules = VsockModel.rules(for: try targetOptions.vsockProfile())
        case .snp:
            _ = try targetOptions.snpProfile()
            rules = SNPRules.all
        case .memoryAttributes:
            _ = try targetOptions.memoryAttributesProfile()
            rules = MemoryAttributesRules.all
        }
        for rule in rules {
            print("\(rule.id)\n    \(rule.summary)\n    \(rule.source)")
        }
    }
}
