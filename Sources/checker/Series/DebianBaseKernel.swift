import Foundation

/// A Debian kernel version a series is applied to (`6.1.176-1`), and the packages that carry it.
///
/// The source, headers and kbuild packages are fetched with `apt-get download` and unpacked into
/// the checker's cache, so the machine's own packages are never replaced (a developer's
/// `linux-source-6.1` may be a newer version). The kernel image the test VM boots is fetched
/// into the cache the same way (``TestKernel``), never installed.
struct DebianBaseKernel: Equatable {
    /// The image the test VM boots: its version and release.
    let kernel: TestKernel

    /// The Debian package version, e.g. `6.1.176-1`.
    var version: String { kernel.version }
    /// The upstream series, e.g. `6.1` (names linux-source-6.1 and linux-kbuild-6.1).
    var series: String { version.split(separator: ".").prefix(2).joined(separator: ".") }
    /// The ABI name, e.g. `6.1.0-50` (names the headers packages).
    var abi: String { String(kernel.release.dropLast("-amd64".count)) }
    var release: String { kernel.release }
    var sourcePackage: String { "linux-source-\(series)" }
    var kbuildPackage: String { "linux-kbuild-\(series)" }
    var headersPackage: String { "linux-headers-\(release)" }
    var commonHeadersPackage: String { "linux-headers-\(abi)-common" }
    /// The unpacked packages the build needs, fetched into a folder of their own.
    var buildPackages: [String] { [sourcePackage, kbuildPackage, headersPackage, commonHeadersPackage] }

    /// `6.1.176-1` → the image package apt has at exactly that version (``TestKernel/resolve(_:)``).
    static func resolve(_ version: String) throws -> DebianBaseKernel {
        guard TestKernel.looksLikeVersion(version) else {
            throw UsageProblem("--base \(version) is not a Debian kernel version; give one like 6.1.176-1 (apt-cache madison linux-source-6.1 lists them)")
        }
        return DebianBaseKernel(kernel: try TestKernel.resolve(version))
    }

    /// Downloads and unpacks the source, headers and kbuild packages into `root` (once: a
    /// finished unpack leaves `root/.complete`). The headers' Makefile names the common headers
    /// by their installed path; it is pointed at the unpacked copy.
    func unpack(into root: String) throws {
        let done = root + "/.complete"
        if isUnpacked(in: root) { return }
        let downloads = root + "/debs"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: true)
        let fetched = try Tools.run("apt-get", ["download"] + buildPackages.map { "\($0)=\(version)" }, in: downloads)
        guard fetched.succeeded else {
            throw UsageProblem("apt-get download of \(buildPackages.joined(separator: ", ")) at \(version) failed (\(fetched.tail)); run apt-get update or check --base")
        }
        for deb in try FileManager.default.contentsOfDirectory(atPath: downloads) where deb.hasSuffix(".deb") {
            let unpacked = try Tools.run("dpkg-deb", ["-x", downloads + "/" + deb, root])
            guard unpacked.succeeded else { throw SeriesFailure("dpkg-deb -x \(deb) failed: \(unpacked.tail)") }
        }
        let makefile = headers(in: root) + "/Makefile"
        try "include \(root)/usr/src/linux-headers-\(abi)-common/Makefile\n".write(toFile: makefile, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: downloads)
        try Data().write(to: URL(fileURLWithPath: done))
    }

    /// The kernel image the test VM boots, fetched into `cache` if it is not there.
    func ensureImage(cache: String, progress: (String) -> Void) throws -> String {
        try kernel.fetch(into: cache, progress: progress)
    }

    func isUnpacked(in root: String) -> Bool { FileManager.default.fileExists(atPath: root + "/.complete") }

    /// The unpacked headers tree (`make -C` target for out-of-tree modules).
    func headers(in root: String) -> String { "\(root)/usr/src/linux-headers-\(release)" }

    /// The unpacked source tarball.
    func sourceTarball(in root: String) -> String { "\(root)/usr/src/linux-source-\(series).tar.xz" }
}

/// A step of `checker series` that failed for a reason other than bad input (a build error):
/// one line, exit status 1.
struct SeriesFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
