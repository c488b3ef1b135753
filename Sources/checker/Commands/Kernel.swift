import ArgumentParser
import Foundation

/// `checker kernel fetch [VERSION]`: the test kernels, kept in the checker's cache.
struct Kernel: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the kernels the test VM boots (kept in the checker's cache, never installed).",
        subcommands: [Fetch.self]
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
}
