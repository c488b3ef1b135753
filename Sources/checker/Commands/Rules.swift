import ArgumentParser
import Model

/// `checker rules`: every rule of a model, with where it comes from.
struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the rules of the model with the patch hunk or source line each cites.")

    @OptionGroup var targetOptions: TargetOptions

    func run() throws {
        let profile = try targetOptions.vsockProfile()
        for rule in VsockModel.rules(for: profile) {
            print("\(rule.id)\n    \(rule.summary)\n    \(rule.source)")
        }
    }
}
