import Foundation

/// A Debian kernel version a series is applied to (`6.1.176-1`), and the packages that carry it.
///
/// The source, headers and kbuild packages are fetched with `apt-get download` and unpacked into
/// the checker's cache, so the machine's own packages are never replaced (a developer's
/// `linux-source-6.1` may be a newer version). The kernel image the test VM boots is an installed
/// package: `scripts/setup.sh` installs the 6.1.176 one; for another base, `apt-get install` it.
struct DebianBaseKernel: Equatable {
    /// The Debian package version, e.g. `6.1.176-1`.
    let version: String
    /// The upstream series, e.g. `6.1` (names linux-source-6.1 and linux-kbuild-6.1).
    let series: String
    /// The ABI name, e.g. `6.1.0-50` (names the headers and image packages).
    let abi: String

    var release: String { "\(abi)-amd64" }
    var sourcePackage: String { "linux-source-\(series)" }
    var kbuildPackage: String { "linux-kbuild-\(series)" }
    var headersPackage: String { "linux-headers-\(release)" }
    var commonHeadersPackage: String { "linux-headers-\(abi)-common" }
    var imagePackage: String { "linux-image-\(release)-unsigned" }
    /// The kernel the test VM boots.
    var image: String { "/boot/vmlinuz-\(release)" }
    /// The unpacked packages the build needs, fetched into a folder of their own.
    var buildPackages: [String] { [sourcePackage, kbuildPackage, headersPackage, commonHeadersPackage] }

    /// `6.1.176-1` → series `6.1`; the ABI from the archive: the `linux-image-<abi>-amd64-unsigned`
    /// package whose version is exactly this one.
    static func resolve(_ version: String) throws -> DebianBaseKernel {
        let parts = version.split(separator: ".")
        guard parts.count >= 3, Int(parts[0]) != nil, Int(parts[1]) != nil, version.contains("-") else {
            throw UsageProblem("--base \(version) is not a Debian kernel version; give one like 6.1.176-1 (apt-cache madison linux-source-6.1 lists them)")
        }
        let series = "\(parts[0]).\(parts[1])"
        let search = try Tools.run("apt-cache", ["search", "--names-only", "^linux-image-\(series).0-[0-9]+-amd64-unsigned$"])
        let images = search.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        guard !images.isEmpty else {
            throw UsageProblem("apt knows no linux-image-\(series).0-*-amd64-unsigned package; run apt-get update, or check --base \(version)")
        }
        let madison = try Tools.run("apt-cache", ["madison"] + images)
        for line in madison.stdout.split(separator: "\n") {
            let fields = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2, fields[1] == version else { continue }
            let abi = fields[0].replacingOccurrences(of: "linux-image-", with: "")
                .replacingOccurrences(of: "-amd64-unsigned", with: "")
            return DebianBaseKernel(version: version, series: series, abi: abi)
        }
        throw UsageProblem("no Debian kernel image has version \(version); give --base one of the versions 'apt-cache madison linux-source-\(series)' lists")
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

    /// Installs the kernel image the test VM boots, if it is missing (`apt-get install`, root).
    func ensureImage(progress: (String) -> Void) throws {
        guard !FileManager.default.fileExists(atPath: image) else { return }
        guard geteuid() == 0 else {
            throw UsageProblem("the base kernel image \(image) is missing and installing it needs root; run: apt-get install \(imagePackage)=\(version)")
        }
        progress("apt-get install \(imagePackage)=\(version)")
        let installed = try Tools.run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "\(imagePackage)=\(version)"],
                                      environment: ["DEBIAN_FRONTEND": "noninteractive"])
        guard installed.succeeded, FileManager.default.fileExists(atPath: image) else {
            throw UsageProblem("apt-get install \(imagePackage)=\(version) failed (\(installed.tail)); install it by hand")
        }
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
