import ArgumentParser
import Foundation

/// `checker harness-serve` (hidden): the harness child. The checker starts it (``HarnessChild``)
/// with a compiled harness; it loads the library, enters its sandbox and answers requests on its
/// stdin and stdout. Not for people: its protocol is ``HarnessProtocol``.
struct HarnessServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harness-serve",
        abstract: "The sandboxed child that runs a patch's functions (started by the checker).",
        shouldDisplay: false)

    @Option(help: "Which harness system serves the library.")
    var kind: String

    @Option(help: "The compiled harness.so.")
    var library: String

    @Option(help: "The name for reports.")
    var name: String = ""

    func run() throws {
        guard let kind = HarnessBuild.Kind(rawValue: kind) else {
            throw UsageProblem("unknown harness kind '\(self.kind)'; use " + HarnessBuild.Kind.allCases.map(\.rawValue).joined(separator: " or "))
        }
        let build = HarnessBuild(kind: kind, library: library, name: name)
        HarnessServer(served: try build.served(), library: library).serve()
    }
}
