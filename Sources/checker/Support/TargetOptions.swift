import ArgumentParser
import Model

/// `--target` and `--profile`, shared by the subcommands that need a model.
struct TargetOptions: ParsableArguments {
    @Option(help: "The behaviour to check: vsock.")
    var target: String = "vsock"

    @Option(help: "The semantics profile: mainline, vsock-dgram-v5 (whole series) or vsock-dgram-v5-03 (patches 01-03).")
    var profile: String = "vsock-dgram-v5"

    /// The vsock profile named, or a usage problem naming the known ones.
    func vsockProfile() throws -> VsockProfile {
        guard target == "vsock" else {
            throw UsageProblem("unknown target '\(target)'; use --target vsock")
        }
        guard let profile = VsockProfile.named(profile) else {
            throw UsageProblem("unknown profile '\(profile)' for target vsock; use one of: "
                               + VsockProfile.all.map(\.name).joined(separator: ", "))
        }
        return profile
    }
}

/// `--seed`, `--ops` and `--no-swarm`: what a generated run is drawn from.
struct GenerationOptions: ParsableArguments {
    @Option(help: "The seed of the run (a run is reproduced from its seed alone).")
    var seed: UInt64 = 1

    @Option(help: "How many operations to generate.")
    var ops: Int = 20

    @Flag(help: "Draw every operation kind instead of a random subset (swarm testing).")
    var noSwarm = false

    func validate() throws {
        guard ops > 0 else { throw UsageProblem("--ops must be a positive number of operations, not \(ops)") }
    }
}
