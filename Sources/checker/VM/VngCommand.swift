/// The virtme-ng command line that boots the test VM and runs the checker inside it. Pure: the
/// arguments follow from the settings alone (golden-tested).
///
///     vng -r ~/.cache/checker/kernels/6.1.0-50-amd64/boot/vmlinuz-6.1.0-50-amd64 --disable-kvm --memory 2G --cpus 2 \
///         --force-9p --rwdir=/work/main/.checker-results/20261121T220301Z --verbose --append=loglevel=5 \
///         --append=rcupdate.rcu_expedited=1 \
///         --exec '/work/main/.build/debug/checker run --seed 1 --results /work/main/.checker-results/20261121T220301Z'
///
/// - The guest's root is the host's filesystem, read-only, with copy-on-write overlays on /tmp,
///   /etc, /opt, /var, /usr, /home, /lib and /srv: `--rwdir` makes the results folder the one
///   place whose writes reach the host.
/// - `--verbose` sends the kernel console to vng's stderr (without it, virtme sends the console to
///   /dev/null and boots with `quiet loglevel=0`, hiding oopses); `--append=loglevel=5` (the last
///   `loglevel=` wins) keeps the console to warnings and worse: oopses, `WARNING:`, `BUG:`,
///   panics, hung tasks and RCU stalls are printed, boot chatter is not. The guest command's own
///   stdout arrives on vng's stdout, apart.
/// - `--disable-kvm` (TCG) unless KVM was chosen (``AcceleratorRequest``): /dev/kvm exists on the
///   project's machines but QEMU cannot run a guest on it (DESIGN.md, "Facts measured"), and vng
///   would use it whenever it can open it. With KVM, vng picks `-cpu host` (and QEMU's default
///   machine) itself; a `-cpu` in `--qemu-opts` comes later and wins.
/// - `--force-9p`: the host's filesystem over 9p at once. vng first tries virtiofsd, and Debian
///   bookworm has only QEMU's C virtiofsd, which vng cannot start: it waits 3.1 s for it at every
///   boot, then falls back to 9p anyway.
/// - `rcupdate.rcu_expedited=1`: RCU grace periods are driven by IPIs instead of waiting for
///   scheduler ticks. RCU's guarantees are the same; under TCG the waits are what module unloads,
///   kprobe (un)registration and socket teardown spend their time on: a plain `delete_module`
///   takes 5 ms instead of 36, and the checker runs 30% more operations per second, measured in
///   the 6.1 test VM (docs/test-vm.md).
/// - `modprobe.blacklist=…`: the drivers udev's coldplug would load for QEMU's q35 machine (the
///   SATA CD-ROM, watchdog, i2c, PC speaker, input, kvm_amd for the CPU model, and the crypto
///   modules its features match), about 40 modules read over 9p and initialised under TCG: udev
///   took 11-12 s to settle at every boot, 2 s without them (measured in the 6.1 test VM). A
///   blacklist stops loads by alias only: `modprobe kvm_amd` (`--load-module kvm_amd`) and a
///   module's dependencies still load; no check needs these drivers otherwise.
/// - `panic=-1` and QEMU's `-no-reboot` (set by virtme for scripts) make a panicking guest exit
///   at once instead of hanging; vng propagates the guest command's exit status (virtme-ng PR #61).
struct VngCommand: Equatable, Sendable {
    /// The kernel argument that makes RCU grace periods expedited (see above).
    static let rcuExpedited = "rcupdate.rcu_expedited=1"
    /// The drivers udev's coldplug is kept from loading (see above): those loaded after a boot of
    /// Debian's 6.1.176 with `-cpu max` and of 6.12.111 with `-cpu EPYC`, beyond vng's own.
    static let coldplugDrivers = [
        "kvm_amd", "kvm", "irqbypass", "ccp", "intel_rapl_msr", "intel_rapl_common", "crct10dif_pclmul",
        "crct10dif_common", "crc32_pclmul", "crc32c_intel", "ghash_clmulni_intel", "gf128mul", "sha512_ssse3",
        "sha512_generic", "sha256_ssse3", "sha1_ssse3", "aesni_intel", "crypto_simd", "cryptd", "sr_mod", "cdrom",
        "sg", "ahci", "libahci", "libata", "scsi_mod", "scsi_common", "iTCO_wdt", "iTCO_vendor_support",
        "intel_pmc_bxt", "i6300esb", "watchdog", "i2c_i801", "i2c_smbus", "lpc_ich", "psmouse", "serio_raw",
        "evdev", "pcspkr", "button", "qemu_fw_cfg",
    ]

    var kernel: String
    var memory: String
    var cpus: Int
    var kvm: Bool
    /// Extra QEMU arguments, each passed as one `--qemu-opts=…` (e.g. `-cpu EPYC`).
    var qemuOptions: [String]
    /// The host folder the guest may write to (absolute).
    var resultsFolder: String
    /// Other host folders the guest may write to (absolute): where `replay --reproducer` writes.
    var writableFolders: [String] = []
    /// The command the guest runs, as arguments (quoted for the guest's shell here).
    var guestCommand: [String]

    /// vng's arguments, without the program name.
    var arguments: [String] {
        var arguments = ["-r", kernel]
        if !kvm { arguments.append("--disable-kvm") }
        arguments += ["--memory", memory, "--cpus", String(cpus)]
        arguments += qemuOptions.map { "--qemu-opts=\($0)" }
        arguments += ["--force-9p", "--rwdir=\(resultsFolder)"] + writableFolders.map { "--rwdir=\($0)" }
        arguments += ["--verbose", "--append=loglevel=5"]
        arguments += ["--append=\(Self.rcuExpedited)", "--append=modprobe.blacklist=" + Self.coldplugDrivers.joined(separator: ",")]
        arguments += ["--exec", ShellQuoting.join(guestCommand)]
        return arguments
    }

    /// The command line a person can paste to boot the same VM.
    var commandLine: String { "vng " + ShellQuoting.join(arguments) }

    /// The guest's command: the checker, its arguments, and `--results FOLDER` when the
    /// subcommand writes results.
    static func guestCommand(checker: String, arguments: [String], resultsFolder: String) -> [String] {
        // A live replay keeps the journal of its operations in the results folder, so that a
        // crash it causes names the operations that led there (ExecutionJournal).
        if arguments.first == "replay", option("--on", in: arguments) == "live", option("--journal", in: arguments) == nil {
            return [checker] + arguments + ["--journal", resultsFolder + "/" + ExecutionJournal.fileName]
        }
        // Right after the subcommand: whatever follows a `--` (trace's workload) is not ours.
        guard writesResults(arguments) else { return [checker] + arguments }
        return [checker, arguments[0], "--results", resultsFolder] + arguments.dropFirst()
    }

    /// Subcommands that take `--results DIR` and write `summary.json` and `ktap.txt` there.
    static let reportingSubcommands: Set<String> = ["run", "trace"]

    /// Whether the guest's arguments start with a subcommand that writes results.
    static func writesResults(_ arguments: [String]) -> Bool {
        arguments.first.map(reportingSubcommands.contains) ?? false
    }

    /// The value of `--name VALUE` or `--name=VALUE` among the guest's arguments.
    static func option(_ name: String, in arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--" { break }
            if argument == name, index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix(name + "=") { return String(argument.dropFirst(name.count + 1)) }
        }
        return nil
    }

    /// A problem with a path the guest must see through vng's `--rwdir` (which splits on `=` and
    /// passes the path on the kernel command line), or nil.
    static func rwdirProblem(_ path: String) -> String? {
        let forbidden = Set(" \t\n=,\"'`$\\;")
        if let bad = path.first(where: { forbidden.contains($0) }) {
            return "the results folder \(path) contains '\(bad)', which vng cannot pass to the guest"
        }
        guard path.hasPrefix("/") else { return "the results folder \(path) is not an absolute path" }
        return nil
    }
}
