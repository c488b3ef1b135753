import Foundation

/// virtme-ng's minimal kernel configuration, as `vng --kconfig` makes it: `make x86_64_defconfig`,
/// then virtme-ng's own fragment appended and `make olddefconfig`.
///
/// The fragment is virtme-ng's to say, so it is asked for, not copied:
/// `virtme-configkernel --arch x86_64 --dry-run` prints it (the same list `--defconfig` appends).
/// Its text goes into the build's cache key, so another virtme-ng release that needs other
/// options is a new build.
enum VirtmeKernelConfig {
    /// The make target virtme-ng starts x86-64 configurations from (`Arch_x86.defconfig_target`).
    static let defconfigTarget = "x86_64_defconfig"

    /// `virtme-configkernel` beside the `vng` the test VM boots with.
    static func configkernel() throws -> String {
        guard let vng = VM.findVng() else {
            throw UsageProblem("virtme-ng is not installed (no vng); run: bash scripts/setup.sh")
        }
        let tool = URL(fileURLWithPath: vng).deletingLastPathComponent().appendingPathComponent("virtme-configkernel").path
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw UsageProblem("\(tool) is missing beside \(vng); reinstall virtme-ng (bash scripts/setup.sh)")
        }
        return tool
    }

    /// virtme-ng's fragment for x86-64.
    static func fragment() throws -> String {
        let tool = try configkernel()
        let printed = try Tools.run(tool, ["--arch", "x86_64", "--dry-run"])
        guard printed.succeeded, printed.stdout.contains("CONFIG_") else {
            throw KernelBuildFailure("\(tool) --dry-run printed no configuration (\(printed.tail)); reinstall virtme-ng (bash scripts/setup.sh)")
        }
        return "# virtme-ng's minimal configuration (virtme-configkernel --arch x86_64 --dry-run)\n" + printed.stdout
    }
}

/// A step of `checker kernel build` that failed for a reason other than bad input (a build
/// error, a configuration that lost an option): one line, exit status 1.
struct KernelBuildFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
