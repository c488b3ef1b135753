import Foundation

/// A Debian kernel image the test VM boots, unpacked into the checker's cache rather than
/// installed: the developer's `/boot`, `/vmlinuz`, `/lib/modules` and boot menu stay as they were.
///
/// `apt-get download` fetches the image package of exactly this version and `dpkg-deb -x`
/// unpacks it into `<cache>/kernels/<release>/` (`boot/vmlinuz-<release>`,
/// `lib/modules/<release>/`); `depmod -b` writes the module index Debian's postinst would. virtme-ng
/// finds the modules beside the image (it walks up from the image to a folder with `lib/modules`)
/// and links them into the guest's `/lib/modules/<release>`, so `modprobe` and `modinfo -k` work
/// inside the guest as with an installed kernel.
struct TestKernel: Equatable, Sendable {
    /// The Debian package version, e.g. `6.1.176-1`.
    let version: String
    /// The kernel release, `uname -r` in the guest, e.g. `6.1.0-50-amd64`.
    let release: String

    /// The image package, e.g. `linux-image-6.1.0-50-amd64-unsigned`.
    var package: String { "linux-image-\(release)-unsigned" }

    /// Debian 6.1.176: the vsock checks' kernel (DESIGN.md, "Facts measured").
    static let vsock = TestKernel(version: "6.1.176-1", release: "6.1.0-50-amd64")
    /// Debian 6.12.111: KVM_AMD_SEV, guest_memfd and KVM_SET_MEMORY_ATTRIBUTES (the SNP checks).
    static let snp = TestKernel(version: "6.12.111-1~deb12u1", release: "6.12.111+deb12-amd64")
    static let known = [vsock, snp]

    /// Where it is unpacked.
    func root(in cache: String) -> String { "\(cache)/kernels/\(release)" }
    /// The image `vng -r` boots.
    func image(in cache: String) -> String { root(in: cache) + "/boot/vmlinuz-\(release)" }
    /// The modules the guest sees as `/lib/modules/<release>`.
    func modules(in cache: String) -> String { root(in: cache) + "/lib/modules/\(release)" }

    /// Whether this version is unpacked in `cache` (a finished unpack writes `.version`).
    func isFetched(in cache: String) -> Bool {
        let recorded = try? String(contentsOfFile: root(in: cache) + "/.version", encoding: .utf8)
        return recorded?.trimmingCharacters(in: .whitespacesAndNewlines) == version
            && FileManager.default.fileExists(atPath: image(in: cache))
    }

    /// Fetches and unpacks the image package unless it is there; returns the image's path.
    /// Safe to run again, and after an interrupted fetch (the unpack is redone from scratch).
    @discardableResult
    func fetch(into cache: String, progress: (String) -> Void) throws -> String {
        if isFetched(in: cache) { return image(in: cache) }
        let root = root(in: cache)
        progress("fetching \(package) \(version) into \(root)")
        let downloads = cache + "/kernels/.download-\(release)"
        try? FileManager.default.removeItem(atPath: downloads)
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: downloads, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: downloads) }
        let fetched = try Tools.run("apt-get", ["download", "\(package)=\(version)"], in: downloads)
        guard fetched.succeeded else {
            throw UsageProblem("apt-get download \(package)=\(version) failed (\(fetched.tail)); run apt-get update (as root), or check the version")
        }
        let debs = try FileManager.default.contentsOfDirectory(atPath: downloads).filter { $0.hasSuffix(".deb") }
        guard let deb = debs.first else { throw UsageProblem("apt-get download \(package)=\(version) left no .deb in \(downloads)") }
        let unpacked = try Tools.run("dpkg-deb", ["-x", downloads + "/" + deb, root])
        guard unpacked.succeeded else { throw UsageProblem("dpkg-deb -x \(deb) failed: \(unpacked.tail)") }
        // Debian's package ships no module index: its postinst runs depmod. So does this.
        let indexed = try Tools.run("depmod", ["-a", "-b", root, release])
        guard indexed.succeeded else {
            throw UsageProblem("depmod -b \(root) \(release) failed (\(indexed.tail)); install kmod (bash scripts/setup.sh)")
        }
        guard FileManager.default.fileExists(atPath: image(in: cache)) else {
            throw UsageProblem("\(package) \(version) has no boot/vmlinuz-\(release); is \(release) its release?")
        }
        try (version + "\n").write(toFile: root + "/.version", atomically: true, encoding: .utf8)
        return image(in: cache)
    }

    /// Whether `text` reads as a Debian kernel package version (`6.1.176-1`, `6.12.111-1~deb12u1`)
    /// rather than a path.
    static func looksLikeVersion(_ text: String) -> Bool {
        guard !text.contains("/"), let first = text.first, first.isNumber else { return false }
        let parts = text.split(separator: ".")
        return parts.count >= 3 && Int(parts[0]) != nil && Int(parts[1]) != nil && text.contains("-")
    }

    /// The test kernel of a Debian version: one the project knows, else the
    /// `linux-image-<series>.*-amd64-unsigned` package apt has at exactly that version.
    static func resolve(_ version: String) throws -> TestKernel {
        if let known = known.first(where: { $0.version == version }) { return known }
        guard looksLikeVersion(version) else {
            throw UsageProblem("\(version) is not a Debian kernel version; give one like 6.1.176-1 (apt-cache madison linux-image-amd64 lists them)")
        }
        let parts = version.split(separator: ".")
        let series = "\(parts[0]).\(parts[1])"
        let search = try Tools.run("apt-cache", ["search", "--names-only", "^linux-image-\(series)\\..*-amd64-unsigned$"])
        let images = search.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        guard !images.isEmpty else {
            throw UsageProblem("apt knows no linux-image-\(series).*-amd64-unsigned package; run apt-get update, or check the version \(version)")
        }
        let madison = try Tools.run("apt-cache", ["madison"] + images)
        for line in madison.stdout.split(separator: "\n") {
            let fields = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 2, fields[1] == version, fields[0].hasPrefix("linux-image-"),
                  fields[0].hasSuffix("-unsigned") else { continue }
            let release = String(fields[0].dropFirst("linux-image-".count).dropLast("-unsigned".count))
            return TestKernel(version: version, release: release)
        }
        throw UsageProblem("no Debian kernel image has version \(version); give one of the versions 'apt-cache madison linux-image-\(series).*' lists")
    }
}
