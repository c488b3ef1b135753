import Foundation

/// The `arch/x86/kvm/svm/sev.c` a guest_memfd run checks: from a kernel tree (`--source TREE`) or
/// from Debian's `linux-source-<series>` package of a version (`--source 6.12.111`), optionally
/// with a patch applied (`--patch FILE`) to a scratch copy.
///
/// A version's package is fetched with `apt-get download` into
/// `<cache>/sources/<version>/` once, and only `sev.c` is extracted from its tarball; the machine's
/// own packages are never touched (as ``DebianBaseKernel`` does for `checker series`).
struct GmemSource {
    static let sevC = PatchFunctions.targetFile

    /// The sev.c to cut the hooks from.
    let sevC: String
    /// What reports call it: "sev.c of linux-source-6.12 6.12.111-1~deb12u1 + mutant.patch".
    let displayName: String

    /// Resolves `--source` (and `--patch`), fetching and patching as needed.
    /// - Throws: ``UsageProblem`` (one line, exit status 2) for a tree without sev.c, a version
    ///   apt does not know, or a patch that does not apply.
    static func resolve(_ source: String, patch: String?, cache: String = CheckerCache.defaultPath,
                        progress: (String) -> Void = { _ in }) throws -> GmemSource {
        var isFolder: ObjCBool = false
        let original: String
        let name: String
        if FileManager.default.fileExists(atPath: source, isDirectory: &isFolder), isFolder.boolValue {
            original = URL(fileURLWithPath: source).appendingPathComponent(sevC).path
            guard FileManager.default.fileExists(atPath: original) else {
                throw UsageProblem("--source \(source) has no \(sevC); give the top folder of a kernel source tree, or a Debian version such as 6.12.111")
            }
            name = "\(sevC) of \(source)"
        } else if looksLikeVersion(source) {
            let version = try fullVersion(source)
            original = try fetch(version: version, cache: cache, progress: progress)
            name = "\(sevC) of linux-source \(version)"
        } else {
            throw UsageProblem("--source \(source) is neither a folder nor a Debian kernel version; give a kernel tree or a version such as 6.12.111 or 6.12.111-1~deb12u1")
        }
        guard let patch else { return GmemSource(sevC: original, displayName: name) }
        return GmemSource(sevC: try apply(patch, to: original, cache: cache),
                          displayName: name + " + " + URL(fileURLWithPath: patch).lastPathComponent)
    }

    /// `6.12.111` or `6.12.111-1~deb12u1`.
    static func looksLikeVersion(_ text: String) -> Bool {
        guard !text.contains("/"), let first = text.first, first.isNumber else { return false }
        let upstream = text.split(separator: "-").first ?? ""
        let parts = upstream.split(separator: ".")
        return parts.count == 3 && parts.allSatisfy { Int($0) != nil }
    }

    static func series(of version: String) -> String {
        version.split(separator: ".").prefix(2).joined(separator: ".")
    }

    /// The package version apt has: the one given when it has a Debian revision, else the
    /// newest `<upstream>-*` that `apt-cache madison linux-source-<series>` lists.
    static func fullVersion(_ version: String) throws -> String {
        let package = "linux-source-\(series(of: version))"
        let madison = try Tools.run("apt-cache", ["madison", package])
        let known = madison.stdout.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return fields.count >= 2 && fields[0] == package ? fields[1] : nil
        }
        if let exact = known.first(where: { $0 == version || $0.hasPrefix(version + "-") }) { return exact }
        throw UsageProblem("apt knows no \(package) at \(version)"
                           + (known.isEmpty ? "; run apt-get update" : "; it has " + known.prefix(4).joined(separator: ", ")))
    }

    /// `<cache>/sources/<version>/linux-source-<series>/arch/x86/kvm/svm/sev.c`, fetched once.
    static func fetch(version: String, cache: String, progress: (String) -> Void) throws -> String {
        let series = series(of: version)
        let root = "\(cache)/sources/\(version)"
        let tree = "\(root)/linux-source-\(series)"
        let file = "\(tree)/\(sevC)"
        if FileManager.default.fileExists(atPath: root + "/.complete") { return file }
        progress("fetching linux-source-\(series)=\(version) into \(root) (once)")
        let scratch = "\(root)/.fetch-\(getpid())"
        try? FileManager.default.removeItem(atPath: scratch)
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fetched = try Tools.run("apt-get", ["download", "linux-source-\(series)=\(version)"], in: scratch)
        guard fetched.succeeded else {
            throw UsageProblem("apt-get download linux-source-\(series)=\(version) failed (\(fetched.tail)); run apt-get update or check --source")
        }
        guard let deb = try FileManager.default.contentsOfDirectory(atPath: scratch).first(where: { $0.hasSuffix(".deb") }) else {
            throw UsageProblem("apt-get download linux-source-\(series)=\(version) left no .deb in \(scratch)")
        }
        let unpacked = try Tools.run("dpkg-deb", ["-x", deb, "."], in: scratch)
        guard unpacked.succeeded else { throw UsageProblem("dpkg-deb -x \(deb) failed: \(unpacked.tail)") }
        // Only the file the harness compiles is taken out of the 150 MB tarball.
        let tarball = "\(scratch)/usr/src/linux-source-\(series).tar.xz"
        let extracted = try Tools.run("tar", ["-xJf", tarball, "linux-source-\(series)/\(sevC)"], in: root)
        guard extracted.succeeded else { throw UsageProblem("tar -xJf \(tarball) \(sevC) failed: \(extracted.tail)") }
        try Data().write(to: URL(fileURLWithPath: root + "/.complete"))
        return file
    }

    /// Applies `patch` with `patch -p1` to a scratch copy of `sevC` (in
    /// `<cache>/sources/patched/<hash>/`, keyed by both texts) and returns the copy's path.
    static func apply(_ patch: String, to sevC: String, cache: String) throws -> String {
        guard let patchData = FileManager.default.contents(atPath: patch) else {
            throw UsageProblem("cannot read the patch \(patch); give --patch a readable patch file")
        }
        guard let original = FileManager.default.contents(atPath: sevC) else {
            throw UsageProblem("cannot read \(sevC)")
        }
        let key = try ContentHash.of(text: String(decoding: original, as: UTF8.self) + "\n\u{1}\n" + String(decoding: patchData, as: UTF8.self))
        let root = "\(cache)/sources/patched/\(key)"
        let file = "\(root)/\(Self.sevC)"
        if FileManager.default.fileExists(atPath: root + "/.complete") { return file }
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: file).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        try original.write(to: URL(fileURLWithPath: file))
        let applied = try Tools.run("patch", ["-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-r", "-",
                                              "-i", URL(fileURLWithPath: patch).standardizedFileURL.path], in: root)
        guard applied.succeeded else {
            try? FileManager.default.removeItem(atPath: root)
            let why = (applied.stdout + applied.stderr).split(separator: "\n").last { $0.contains("FAILED") || $0.contains("can't find")
                || $0.contains("Only garbage") || $0.contains("malformed") }.map(String.init) ?? applied.tail
            throw UsageProblem("\(patch) does not apply to \(sevC) with patch -p1 (\(why)); rebase it on that tree")
        }
        try Data().write(to: URL(fileURLWithPath: root + "/.complete"))
        return file
    }
}
