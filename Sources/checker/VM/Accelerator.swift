import ArgumentParser

/// `--accel auto|kvm|tcg`: what the test VM runs under. `auto` (the default) uses KVM when it can
/// run the guest, TCG otherwise; `kvm` insists (a usage error when KVM cannot); `tcg` never tries.
enum AcceleratorRequest: String, CaseIterable, ExpressibleByArgument, Sendable {
    case auto, kvm, tcg
}

/// The accelerator a run uses, and why: what `checker vm` says on its first line.
struct AcceleratorChoice: Equatable, Sendable {
    var kvm: Bool
    /// Why, when it is not plain "KVM works": the option that forced it, or what stops KVM.
    var reason: String?

    static let tcgAsked = AcceleratorChoice(kvm: false, reason: "--accel tcg")

    /// `accelerator tcg (/dev/kvm: QEMU could not start a KVM guest: failed to set MSR 0x10a to 0x69)`.
    var announcement: String { "accelerator \(kvm ? "kvm" : "tcg")" + (reason.map { " (\($0))" } ?? "") }
}

/// Whether KVM can run the test VM, in two stages: the device, in process (``KVMDevice``), then
/// QEMU starting the kernel under KVM (``KVMBootProbe``). Both are injectable, so that tests can
/// give a fake device path and a prober that answers yes or no without QEMU.
struct KVMProbe: Sendable {
    var devicePath = KVMDevice.defaultPath
    /// Stage one: nil when the device at the path can create a VM, else why not.
    var device: @Sendable (String) -> String? = KVMDevice.problem(at:)
    /// Stage two: nil when QEMU started the guest under KVM, else why not. Runs only when the
    /// device passed stage one (it may need the kernel fetched first).
    var boot: @Sendable () async throws -> String?

    /// Why KVM cannot run the guest (`<device>: <reason>`), or nil when it can.
    func problem() async throws -> String? {
        if let problem = device(devicePath) { return "\(devicePath): \(problem)" }
        if let problem = try await boot() { return "\(devicePath): \(problem)" }
        return nil
    }
}

extension AcceleratorRequest {
    /// The decision table: `tcg` → TCG without probing; `kvm` → KVM, or a usage error naming what
    /// stops it; `auto` → KVM when the probe says yes, else TCG with the probe's reason.
    func choose(probe: KVMProbe) async throws -> AcceleratorChoice {
        switch self {
        case .tcg:
            return .tcgAsked
        case .kvm:
            if let problem = try await probe.problem() {
                throw UsageProblem("--accel kvm: \(problem); use --accel tcg, or --accel auto to fall back to TCG")
            }
            return AcceleratorChoice(kvm: true, reason: "--accel kvm")
        case .auto:
            if let problem = try await probe.problem() { return AcceleratorChoice(kvm: false, reason: problem) }
            return AcceleratorChoice(kvm: true, reason: nil)
        }
    }
}
