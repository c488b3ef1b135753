import ArgumentParser
import Foundation

/// `checker kernel fetch [VERSION]`, `checker kernel build [--kasan|--kcsan] [--lockdep]`: the test
/// kernels, kept in the checker's cache.
struct Kernel: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the kernels the test VM boots (kept in the checker's cache, never installed).",
        subcommands: [Fetch.self, Build.self]
    )

    /// Fetches a Debian kernel image into the cache and prints the path `checker vm --kernel`
    /// and `vng -r` take.
    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch a Debian kernel image into the cache (apt-get download, dpkg-deb -x, depmod) and print its path.",
            discussion: """
                Nothing is installed: /boot, /vmlinuz, /lib/modules and the boot menu stay as they \
                were. The image lands in <cache>/kernels/<release>/boot/vmlinuz-<release> with its \
                modules beside it, which virtme-ng gives the guest as /lib/modules/<release>. \
                Fetching again does nothing. Example: checker kernel fetch 6.12.111-1~deb12u1
                """
        )

        @Argument(help: ArgumentHelp("The Debian kernel package version.", valueName: "version"))
        var version: String = TestKernel.vsock.version

        @Option(help: ArgumentHelp("Where fetched kernels are kept.", valueName: "dir"))
        var cache: String = CheckerCache.defaultPath

        func run() throws {
            let kernel = try TestKernel.resolve(version)
            let image = try kernel.fetch(into: URL(fileURLWithPath: cache).standardizedFileURL.path) { line in
                FileHandle.standardError.write(Data("checker kernel: \(line)\n".utf8))
            }
            print(image)
        }
    }

    /// Builds a kernel with sanitizers from a Debian base's source package and prints the image
    /// path `checker vm --kernel` boots.
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a sanitizer kernel (KASAN or KCSAN, lockdep) from a Debian base's source package and print its image's path.",
            discussion: """
                The configuration is virtme-ng's minimal one (make x86_64_defconfig and the fragment \
                virtme-configkernel prints), then the checker's: vsock and its transports as modules, \
                BTF for vmlinux and modules, BPF, kprobes, ftrace, KUnit, and the sanitizers asked for. \
                make olddefconfig resolves it, and an option it dropped or changed is an error that \
                names the option and its Kconfig dependencies. The build is cached under \
                <cache>/kernel-builds/<key>/ (the key hashes the base, the flavour and the merged \
                fragment): building again prints the same path at once. The image has its modules \
                beside it (lib/modules/<release>), as a fetched Debian kernel has. A fresh KASAN + \
                lockdep build took an hour on this project's 2-core machine (README.md). \
                KASAN and KCSAN exclude each other (Kconfig). Exit status: 0 built, 1 the build or \
                its configuration failed, 2 bad input.
                Example: checker kernel build --kasan --lockdep
                Example: checker vm --kernel "$(checker kernel build --kcsan)" --exec 'dmesg | grep -i kcsan'
                """
        )

        @Option(help: ArgumentHelp("The Debian kernel version whose linux-source package is built.", valueName: "version"))
        var base: String = TestKernel.vsock.version

        @Flag(help: "KASAN (generic, inline): use-after-free and out-of-bounds reports.")
        var kasan = false

        @Flag(help: "KCSAN: data-race reports (not with --kasan).")
        var kcsan = false

        @Flag(help: "lockdep (PROVE_LOCKING, DEBUG_LOCKDEP): deadlock, lock state and RCU reports.")
        var lockdep = false

        @Flag(help: "Generate and check the configuration only; print the folder with its config and config-fragment.")
        var configOnly = false

        @Option(help: ArgumentHelp("make -j (default: the number of CPUs).", valueName: "N"))
        var jobs: Int?

        @Option(help: ArgumentHelp("Where fetched packages and builds are kept.", valueName: "dir"))
        var cache: String = CheckerCache.defaultPath

        func validate() throws {
            _ = try KernelFlavour(kasan: kasan, kcsan: kcsan, lockdep: lockdep)
            if let jobs, jobs <= 0 { throw UsageProblem("--jobs must be a positive number of make jobs, not \(jobs)") }
        }

        func run() throws {
            let flavour = try KernelFlavour(kasan: kasan, kcsan: kcsan, lockdep: lockdep)
            let build = KernelBuild(base: try DebianBaseKernel.resolve(base), flavour: flavour, series: nil,
                                    cache: URL(fileURLWithPath: cache).standardizedFileURL.path,
                                    jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount)
            let started = Date()
            let built: KernelBuild.Built
            do {
                built = try build.build(compile: !configOnly) { line in
                    FileHandle.standardError.write(Data("checker kernel: \(line)\n".utf8))
                }
            } catch let failure as KernelBuildFailure {
                FileHandle.standardError.write(Data("checker kernel: \(failure.message)\n".utf8))
                throw ExitCode(ExitStatus.divergence.rawValue)
            }
            let seconds = Int(Date().timeIntervalSince(started))
            let what = configOnly ? "configured" : built.reused ? "reusing" : "built in \(seconds / 60) min \(seconds % 60) s:"
            FileHandle.standardError.write(Data("checker kernel: \(what) \(built.release) (\(flavour)) in \(built.folder)\n".utf8))
            print(configOnly ? built.folder : built.image)
        }
    }
}
