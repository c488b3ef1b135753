import ArgumentParser
import Model

/// The behaviours the checker has models for.
enum CheckTarget: String, CaseIterable {
    case vsock
    case snp
    case memoryAttributes = "memory-attributes"
}

/// `--target` and `--profile`, shared by the subcommands that need a model.
struct TargetOptions: ParsableArguments {
    @Option(help: "The behaviour to check: vsock, snp or memory-attributes.")
    var target: String = "vsock"

    @Option(help: "The semantics profile. vsock: mainline, vsock-dgram-v5 (default; whole series) or vsock-dgram-v5-03 (patches 01-03); snp: snp-v8 or snp-gmem (with --source); memory-attributes: mainline.")
    var profile: String?

    static let snpProfiles = ["snp-v8", snpGmemProfile]
    /// Mainline's SNP guest_memfd hooks (`checker run --target snp --profile snp-gmem --source 6.12.111`).
    static let snpGmemProfile = "snp-gmem"
    static let memoryAttributesProfiles = ["mainline"]

    /// The target named, or a usage problem naming the known ones.
    func checkedTarget() throws -> CheckTarget {
        guard let known = CheckTarget(rawValue: target) else {
            throw UsageProblem("unknown target '\(target)'; use one of: " + CheckTarget.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return known
    }

    /// The vsock profile named, or a usage problem naming the known ones.
    func vsockProfile() throws -> VsockProfile {
        guard try checkedTarget() == .vsock else {
            throw UsageProblem("target '\(target)' has no vsock profile; use --target vsock")
        }
        let name = profile ?? "vsock-dgram-v5"
        guard let profile = VsockProfile.named(name) else {
            throw UsageProblem("unknown profile '\(name)' for target vsock; use one of: "
                               + VsockProfile.all.map(\.name).joined(separator: ", "))
        }
        return profile
    }

    /// The SNP profile: the intended semantics of v8 48/56 (`snp-v8`, the default) or of mainline's
    /// guest_memfd hooks (`snp-gmem`).
    func snpProfile() throws -> String { try named(profile ?? "snp-v8", in: Self.snpProfiles) }

    /// The memory attributes profile: mainline (6.12) validation.
    func memoryAttributesProfile() throws -> String { try named(profile ?? "mainline", in: Self.memoryAttributesProfiles) }

    private func named(_ name: String, in known: [String]) throws -> String {
        guard known.contains(name) else {
            throw UsageProblem("unknown profile '\(name)' for target \(target); use one of: " + known.joined(separator: ", "))
        }
        return name
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
