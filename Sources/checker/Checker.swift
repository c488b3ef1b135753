import ArgumentParser
import Foundation

/// `checker`: property-based conformance checking of Linux kernel behaviour against reference
/// models.
@main
struct Checker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checker",
        abstract: "Property-based conformance checker for Linux kernel behaviour.",
        discussion: """
            A reference model states what a patch series should do; generated operation sequences \
            run against the model and a kernel, and every divergence is shrunk to a minimal, \
            replayable case. Exit status: 0 pass, 1 divergence, 2 usage error, 4 skip.
            """,
        subcommands: [Run.self, VM.self, Series.self, Kernel.self, Explain.self, Replay.self, Rules.self, Bench.self, Merge.self, Trace.self,
                      HarnessServe.self]
    )

    /// Bad input gets one line naming the problem and the fix, and exit status 2.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let problem as UsageProblem {
            FileHandle.standardError.write(Data("checker: \(problem.message)\n".utf8))
            Foundation.exit(ExitStatus.usage.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data("checker: \(message) (see 'checker help')\n".utf8))
            Foundation.exit(ExitStatus.usage.rawValue)
        }
    }
}
