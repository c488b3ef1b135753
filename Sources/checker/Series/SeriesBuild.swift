import Foundation

/// Patched vsock modules for a base kernel and a series, built once and kept in the cache.
///
/// Cache layout (`--cache`, default `~/.cache/checker`):
/// - `base/<version>/`: the unpacked Debian packages and `source/`, the parts of the pristine
///   source tree the builds need (unpacked once per base).
/// - `builds/<key>/`: `tree/` (patched), `kbuild/`, `build.log`, `application.txt` (which hunks
///   needed fuzz or an adaptation) and `modules/` (the `.ko` files, BTF included). The key hashes
///   the base version, the build recipe, and the contents of every patch, adaptation and mutant,
///   so any change to them is a new build and an unchanged series is never rebuilt.
struct SeriesBuild {
    /// Bumped when the way modules are built changes, so old builds are not reused.
    static let recipe = "vsock-modules-3"

    let base: DebianBaseKernel
    let series: PatchSeries
    let adaptations: String?
    /// Patches of the project's own applied after the series, in order (candidate fixes, then
    /// a mutant); each must apply without fuzz.
    let mutants: [String]
    let cache: String

    struct Built {
        let folder: String
        let modules: String
        /// `application.txt`: one line per hunk that needed fuzz or an adaptation.
        let report: [String]
        let reused: Bool
    }

    func build(progress: (String) -> Void) throws -> Built {
        let adaptationFiles = try adaptations.map { folder in
            try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".diff") }.sorted()
                .map { folder + "/" + $0 }
        } ?? []
        // (One mutant keys as it did when only one could be given: cached builds stay valid.)
        let key = try ContentHash.of(files: series.patches.map(\.path) + adaptationFiles + mutants,
                                     extra: [Self.recipe, base.version, "patches \(series.patches.count)", "mutant \(!mutants.isEmpty)"])
        let folder = "\(cache)/builds/\(key.prefix(16))"
        let modules = folder + "/modules"
        let complete = modules + "/.complete"
        let reportFile = folder + "/application.txt"
        if FileManager.default.fileExists(atPath: complete) {
            let report = (try? String(contentsOfFile: reportFile, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
            return Built(folder: folder, modules: modules, report: report, reused: true)
        }

        let packages = "\(cache)/base/\(base.version)"
        if !base.isUnpacked(in: packages) {
            progress("fetching \(base.buildPackages.joined(separator: ", ")) \(base.version) into \(packages)")
        }
        try base.unpack(into: packages)
        let source = packages + "/source"
        try unpackSource(from: base.sourceTarball(in: packages), into: source, touching: try series.touchedFiles())

        progress("applying \(series.patches.count) patches from \(series.folder)")
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let tree = folder + "/tree"
        let copied = try Tools.run("cp", ["-a", source, tree])
        guard copied.succeeded else { throw SeriesFailure("cp -a \(source) \(tree) failed: \(copied.tail)") }
        let application = PatchApplication(tree: tree, adaptations: adaptations, baseName: "Debian \(base.version)")
        var report = try application.apply(series).map(\.description)
        for mutant in mutants {
            try application.applyExactly(mutant, what: "mutant")
            report.append("mutant \(URL(fileURLWithPath: mutant).lastPathComponent) applied")
        }
        try (report.joined(separator: "\n") + "\n").write(toFile: reportFile, atomically: true, encoding: .utf8)

        progress("building net/vmw_vsock and vhost_vsock against \(base.headersPackage) (log: \(folder)/build.log)")
        try VsockModuleBuild(base: base, packages: packages, image: base.kernel.image(in: cache), tree: tree, output: folder).build()
        try Data().write(to: URL(fileURLWithPath: complete))
        return Built(folder: folder, modules: modules, report: report, reused: false)
    }

    /// The parts of the pristine source a build reads: the vsock code, vhost, the headers, the
    /// vsock tests and the tools headers they use (the peer suite), extract-vmlinux, and the folder of every file the series touches. Unpacked
    /// once per base; members already there are not unpacked again.
    private func unpackSource(from tarball: String, into source: String, touching files: [String]) throws {
        var members = Set(["net/vmw_vsock", "drivers/vhost", "include", "tools/testing/vsock", "tools/include",
                           "scripts/extract-vmlinux", "Makefile"])
        for file in files {
            let folder = (file as NSString).deletingLastPathComponent
            if !folder.isEmpty { members.insert(folder) }
        }
        // A folder inside another member is unpacked with it (and tar counts each archive entry
        // for one name only, so naming both fails with "Not found in archive").
        let outermost = members.filter { member in !members.contains { member.hasPrefix($0 + "/") } }
        let missing = outermost.sorted().filter { !FileManager.default.fileExists(atPath: source + "/" + $0) }
        guard !missing.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let top = "linux-source-\(base.series)/"
        let unpacked = try Tools.run("tar", ["-xJf", tarball, "-C", source, "--strip-components=1"] + missing.map { top + $0 })
        guard unpacked.succeeded else {
            throw UsageProblem("cannot unpack \(missing.joined(separator: ", ")) from \(tarball) (\(unpacked.tail)); does the series touch files this base does not have?")
        }
    }
}
