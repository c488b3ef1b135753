import Foundation

/// A whole kernel built from a Debian base's source package with virtme-ng's minimal
/// configuration and the checker's fragments (``KernelFlavour``), optionally with a patch series
/// applied to the whole tree; built once and kept in the cache.
///
/// Cache layout (`--cache`, default `~/.cache/checker`):
/// - `base/<version>/`: the unpacked Debian packages (shared with `checker series`'s module
///   builds) and `tree/`, the whole source tarball unpacked once per base. Builds never write
///   into it: they build with `O=`.
/// - `kernel-configs/<key>/`: a configuration made and checked without a build (`--config-only`).
/// - `kernel-builds/<key>/`: `config-fragment` (virtme-ng's fragment, then the checker's, each
///   option under a comment saying why), `config` (the `.config` that was built), `out/`
///   (kbuild's objects and `vmlinux`), `build.log`, and what the test VM boots:
///   `boot/vmlinuz-<release>` with `lib/modules/<release>/` beside it (virtme-ng walks up from the
///   image to the folder with `lib/modules` and gives it to the guest). With a series, `tree/` is
///   the patched copy (hard links to the pristine tree: `patch` replaces the files it changes)
///   and `application.txt` lists the hunks that needed fuzz or an adaptation.
///   `.complete` (holding the release) marks a finished build: building again is instant.
///
/// The key hashes the recipe, the base version, the flavour, the merged fragment (so another
/// virtme-ng release or a changed option is a new build) and the contents of every patch,
/// adaptation and mutant.
struct KernelBuild {
    /// Bumped when the way kernels are built changes, so old builds are not reused.
    static let recipe = "kernel-build-1"

    /// A series applied to the whole tree before the build.
    struct AppliedSeries {
        let series: PatchSeries
        let adaptations: String?
        let mutants: [String]
    }

    let base: DebianBaseKernel
    let flavour: KernelFlavour
    let series: AppliedSeries?
    let cache: String
    /// `make -j`: parallel jobs.
    let jobs: Int

    struct Built {
        let folder: String
        /// `uname -r` of the built kernel, e.g. `6.1.176-checker-kasan-lockdep`.
        let release: String
        /// What `checker vm --kernel` boots.
        var image: String { "\(folder)/boot/vmlinuz-\(release)" }
        var modules: String { "\(folder)/lib/modules/\(release)" }
        /// The vsock core, its transports and vhost_vsock, flat, as `checker run --modules`
        /// takes them (the layout of a `checker series` module build).
        var vsockModules: String { "\(folder)/vsock-modules" }
        let reused: Bool
        /// Hunks that needed fuzz or an adaptation (with a series).
        let report: [String]
    }

    /// The merged fragment: virtme-ng's, then the flavour's (later lines win in merge_config.sh).
    static func fragment(virtme: String, flavour: KernelFlavour) -> String {
        ([virtme] + flavour.fragments.map(\.text)).joined(separator: "\n")
    }

    /// The cache key of a build of `fragment` (the merged text) with these patches.
    static func key(base: String, flavour: KernelFlavour, fragment: String, patchFiles: [String]) throws -> String {
        let key = try ContentHash.of(files: patchFiles, extra: [recipe, base, flavour.description, "patches \(patchFiles.count)",
                                                               try ContentHash.of(text: fragment)])
        return String(key.prefix(16))
    }

    private var packages: String { "\(cache)/base/\(base.version)" }
    private var pristineTree: String { packages + "/tree" }

    /// The folder of this build (computing the key asks virtme-ng for its fragment); a
    /// configuration without a build goes into `kernel-configs/`, so that checking one never
    /// touches a build that is under way.
    func folder(fragment: String, compile: Bool = true) throws -> String {
        let patchFiles: [String] = try series.map { applied -> [String] in
            let adaptationFiles = try applied.adaptations.map { folder -> [String] in
                try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".diff") }.sorted().map { folder + "/" + $0 }
            } ?? []
            return applied.series.patches.map(\.path) + adaptationFiles + applied.mutants
        } ?? []
        return "\(cache)/\(compile ? "kernel-builds" : "kernel-configs")/" + (try Self.key(base: base.version, flavour: flavour, fragment: fragment, patchFiles: patchFiles))
    }

    /// Configures the build and checks the configuration; with `compile`, builds and installs
    /// the kernel too. A finished build is returned at once.
    func build(compile: Bool = true, progress: (String) -> Void) throws -> Built {
        let fragment = Self.fragment(virtme: try VirtmeKernelConfig.fragment(), flavour: flavour)
        let built = try folder(fragment: fragment)
        let complete = built + "/.complete"
        if let release = try? String(contentsOfFile: complete, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !release.isEmpty {
            return Built(folder: built, release: release, reused: true, report: readReport(built))
        }
        let folder = compile ? built : try self.folder(fragment: fragment, compile: false)
        if !base.isUnpacked(in: packages) {
            progress("fetching \(base.buildPackages.joined(separator: ", ")) \(base.version) into \(packages)")
        }
        try base.unpack(into: packages)
        try unpackTree(progress: progress)

        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let source = try prepareSource(in: folder, progress: progress)
        let out = folder + "/out"
        let log = folder + "/build.log"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try fragment.write(toFile: folder + "/config-fragment", atomically: true, encoding: .utf8)

        progress("configuring \(flavour) (virtme-ng's \(VirtmeKernelConfig.defconfigTarget) and fragment, then the checker's; log: \(log))")
        try make(["-C", source, "O=\(out)", VirtmeKernelConfig.defconfigTarget], log: log, what: VirtmeKernelConfig.defconfigTarget)
        try step("sh", [source + "/scripts/kconfig/merge_config.sh", "-m", "-O", out, out + "/.config", folder + "/config-fragment"],
                 log: log, what: "merge_config.sh")
        try make(["-C", source, "O=\(out)", "olddefconfig"], log: log, what: "olddefconfig")
        let config = try String(contentsOfFile: out + "/.config", encoding: .utf8)
        let lost = KernelConfigCheck(requested: flavour.requested).lost(in: config) { KconfigEntry.find($0, in: source) }
        if let first = lost.first {
            let more = lost.count > 1 ? " (and \(lost.count - 1) more: \(lost.dropFirst().map(\.option).joined(separator: ", ")))" : ""
            throw KernelBuildFailure(first.description + more)
        }
        try config.write(toFile: folder + "/config", atomically: true, encoding: .utf8)
        // syncconfig writes include/config/auto.conf, where kernelrelease reads CONFIG_LOCALVERSION.
        try make(["-C", source, "O=\(out)", "syncconfig"], log: log, what: "syncconfig")
        let release = try kernelRelease(source: source, out: out)
        guard compile else {
            return Built(folder: folder, release: release, reused: false, report: readReport(folder))
        }

        progress("building \(release) with make -j\(jobs) bzImage modules (log: \(log); 2 cores take about an hour)")
        // LOCALVERSION= on the command line: the release is the configuration's alone (no `+`
        // for a tree that is not a clean git checkout).
        try make(["-C", source, "O=\(out)", "-j\(jobs)", "LOCALVERSION=", "bzImage", "modules"], log: log, what: "make bzImage modules")
        // Modules without DWARF, as Debian installs them (INSTALL_MOD_STRIP: --strip-debug keeps
        // .BTF and the symbol table, which the probes use; finit_module under TCG is faster).
        try make(["-C", source, "O=\(out)", "LOCALVERSION=", "INSTALL_MOD_PATH=\(folder)", "INSTALL_MOD_STRIP=1", "modules_install"],
                 log: log, what: "make modules_install")
        try FileManager.default.createDirectory(atPath: folder + "/boot", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: out + "/arch/x86/boot/bzImage", toPath: "\(folder)/boot/vmlinuz-\(release)")
        let result = Built(folder: folder, release: release, reused: false, report: readReport(folder))
        try collectVsockModules(of: result)
        try (release + "\n").write(toFile: complete, atomically: true, encoding: .utf8)
        return result
    }

    /// Copies the installed vsock modules into ``Built/vsockModules``.
    private func collectVsockModules(of built: Built) throws {
        try? FileManager.default.removeItem(atPath: built.vsockModules)
        try FileManager.default.createDirectory(atPath: built.vsockModules, withIntermediateDirectories: true)
        let installed = built.modules + "/kernel"
        let vsock = installed + "/net/vmw_vsock"
        var files = try FileManager.default.contentsOfDirectory(atPath: vsock).filter { $0.hasSuffix(".ko") }.map { vsock + "/" + $0 }
        files.append(installed + "/drivers/vhost/vhost_vsock.ko")
        for file in files {
            guard FileManager.default.fileExists(atPath: file) else {
                throw KernelBuildFailure("\(file) was not installed; is VHOST_VSOCK=m in \(built.folder)/config?")
            }
            try FileManager.default.copyItem(atPath: file, toPath: built.vsockModules + "/" + URL(fileURLWithPath: file).lastPathComponent)
        }
    }

    /// The whole source tarball, unpacked once per base (`tree/.complete` marks it).
    private func unpackTree(progress: (String) -> Void) throws {
        let done = pristineTree + "/.complete"
        if FileManager.default.fileExists(atPath: done) { return }
        progress("unpacking \(base.sourceTarball(in: packages)) into \(pristineTree)")
        try? FileManager.default.removeItem(atPath: pristineTree)
        try FileManager.default.createDirectory(atPath: pristineTree, withIntermediateDirectories: true)
        let unpacked = try Tools.run("tar", ["-xJf", base.sourceTarball(in: packages), "-C", pristineTree, "--strip-components=1"])
        guard unpacked.succeeded else { throw KernelBuildFailure("cannot unpack \(base.sourceTarball(in: packages)): \(unpacked.tail)") }
        try Data().write(to: URL(fileURLWithPath: done))
    }

    /// The tree to build: the pristine one, or a patched copy of it.
    private func prepareSource(in folder: String, progress: (String) -> Void) throws -> String {
        guard let series else { return pristineTree }
        let tree = folder + "/tree"
        let copied = try Tools.run("cp", ["-al", pristineTree, tree])
        guard copied.succeeded else { throw KernelBuildFailure("cp -al \(pristineTree) \(tree) failed: \(copied.tail)") }
        try? FileManager.default.removeItem(atPath: tree + "/.complete")
        progress("applying \(series.series.patches.count) patches from \(series.series.folder) to the whole tree")
        let application = PatchApplication(tree: tree, adaptations: series.adaptations, baseName: "Debian \(base.version)")
        var report = try application.apply(series.series).map(\.description)
        for mutant in series.mutants {
            try application.applyExactly(mutant, what: "mutant")
            report.append("mutant \(URL(fileURLWithPath: mutant).lastPathComponent) applied")
        }
        try (report.joined(separator: "\n") + "\n").write(toFile: folder + "/application.txt", atomically: true, encoding: .utf8)
        return tree
    }

    private func readReport(_ folder: String) -> [String] {
        ((try? String(contentsOfFile: folder + "/application.txt", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// `make -s kernelrelease`: the release the configuration gives.
    private func kernelRelease(source: String, out: String) throws -> String {
        let made = try Tools.run("make", ["-s", "-C", source, "O=\(out)", "LOCALVERSION=", "kernelrelease"])
        let release = made.stdout.split(separator: "\n").last.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        guard made.succeeded, !release.isEmpty else { throw KernelBuildFailure("make kernelrelease failed: \(made.tail)") }
        return release
    }

    private func make(_ arguments: [String], log: String, what: String) throws {
        try step("make", arguments, log: log, what: what)
    }

    /// Runs a tool with its output appended to `log`; a failure names the step and the log's
    /// first error line.
    private func step(_ tool: String, _ arguments: [String], log: String, what: String) throws {
        try ("$ " + ShellQuoting.join([tool] + arguments) + "\n").appendLine(to: log)
        let ran = try Tools.run("sh", ["-c", "\"$@\" >> \"$0\" 2>&1", log, tool] + arguments)
        guard ran.succeeded else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n")
            // The compiler's first error; else (a killed make prints none) the log's last line.
            let firstError = (lines.first { $0.contains("error:") || $0.contains("Error ") } ?? lines.last).map(String.init) ?? ""
            throw KernelBuildFailure("\(what) failed with status \(ran.status): \(firstError) (full log: \(log))")
        }
    }
}

extension String {
    /// Appends the text to a file, creating it.
    fileprivate func appendLine(to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(utf8))
    }
}
