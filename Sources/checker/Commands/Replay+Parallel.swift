import Foundation
import Generators
import Model

extension Replay {
    /// A parallel case (`checker run --parallel`): printed, and with `--on live` run `--repeats`
    /// times, each history checked for linearizability. Its file records no history (which
    /// interleaving a run takes is the kernel's), so there is nothing to re-judge without a system.
    func replayParallel(_ text: String, reusing reused: LiveVsockSystem?) throws {
        let file = try decode(VsockParallelCase.File.self, text)
        let parallelCase: VsockParallelCase
        do {
            parallelCase = try VsockParallelCase(file)
        } catch {
            throw UsageProblem("\(path) \(error); fix the line or write the case again")
        }
        let name = profile ?? file.header.profile
        guard let vsockProfile = VsockProfile.named(name) else {
            throw UsageProblem("unknown profile '\(name)' in \(path); use one of: " + VsockProfile.all.map(\.name).joined(separator: ", "))
        }
        print("# parallel case \(path) under profile \(vsockProfile.name): \(parallelCase.prefix.count) prefix operations, \(parallelCase.threads.count) threads")
        for line in parallelCase.description.split(separator: "\n") { print("#   \(line)") }
        guard let on else {
            print("# skip: a parallel case records no history to judge again; run it with --on live (checker vm -- replay FILE --on live)")
            throw ExitStatus.skip.exitCode
        }
        guard on == "live" else { throw UsageProblem("unknown system '\(on)' for a vsock case; use --on live") }
        let system: LiveVsockSystem
        do {
            system = try reused ?? liveSystem()
        } catch let error as SystemError {
            print("# could not run: \(error)")
            throw ExitStatus.skip.exitCode
        }
        let model = VsockModel(profile: vsockProfile)
        var failed = 0
        for attempt in 1...repeats {
            let run: VsockParallelRun
            do {
                run = try VsockParallelRun.run(parallelCase, model: model, system: system)
            } catch let error as SystemError {
                print("# run \(attempt): could not tell: \(error)")
                throw ExitStatus.divergence.exitCode  // inconclusive: not a pass (kselftest has no code of its own for it)
            }
            switch run.verdict {
            case .linearizable:
                print("# run \(attempt): linearizable")
                for line in VsockParallelRun.diagram(run.history) { print("#   \(line)") }
            case let .notLinearizable(report):
                failed += 1
                print("# run \(attempt): NOT linearizable")
                for line in report { print("#   \(line)") }
            case let .prefixDiverged(divergence):
                failed += 1
                print("# run \(attempt): the prefix diverged at step \(divergence.step + 1): \(divergence.mismatch)")
            case let .inconclusive(reason):
                print("# run \(attempt): inconclusive: \(reason)")
                throw ExitStatus.divergence.exitCode  // inconclusive: not a pass (kselftest has no code of its own for it)
            }
        }
        print("# \(failed) of \(repeats) runs diverged")
        if failed > 0 { throw ExitStatus.divergence.exitCode }
    }
}
