import CKernelCalls
import Foundation
import Generators
import Model
import Probes
import SystemPackage

/// Loading and unloading kernel modules with the syscalls themselves, so the errno the kernel
/// gives (EEXIST, EBUSY, EWOULDBLOCK, ENOENT) is observed, not guessed from a tool's message.
///
/// Dependencies are loaded with `modprobe` first (they are not under check); the module itself
/// goes through `finit_module(2)` and `delete_module(2)`. Where a module's file is and what it
/// depends on are read from `modules.dep` and from the file's own `.modinfo` section
/// (``ModuleFile``), not by starting `modinfo` (80 ms a process under TCG); `modinfo` is the
/// fallback for a compressed module.
///
/// With a replacement folder (`--modules`, e.g. the vsock modules `checker series` rebuilt from a
/// patch series), every module whose `<name>.ko` is in that folder is loaded from there, its
/// dependencies in the folder too; the rest come from the running kernel's own modules. A module
/// under replacement that is already loaded must be the replacement (same srcversion), or the
/// check would silently run against the stock code.
struct KernelModules {
    /// The kernel release whose modules are used (`uname -r`).
    let release: String
    /// Where rebuilt modules replace the kernel's own, if anywhere.
    let replacements: String?
    private var paths: [String: String] = [:]
    private var dependencies: [String: [String]] = [:]
    /// `modules.dep` of the running kernel: module name → file, read on first use.
    private var installed: [String: String]?

    init(replacements: String? = nil) {
        var name = utsname()
        uname(&name)
        release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        self.replacements = replacements
    }

    /// The replacement file for a module, if the replacement folder has one.
    func replacement(for name: String) -> String? {
        guard let replacements else { return nil }
        let file = URL(fileURLWithPath: replacements).appendingPathComponent("\(name).ko").path
        return FileManager.default.fileExists(atPath: file) ? file : nil
    }

    /// Throws when a module that has a replacement is loaded but is not that replacement.
    func checkLoadedIsReplacement(_ name: String) throws {
        guard let file = replacement(for: name), Self.isLoaded(name) else { return }
        let loaded = (try? String(contentsOfFile: "/sys/module/\(name)/srcversion", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let wanted = try ModuleFile(path: file)?.modinfo["srcversion"]?.first
            ?? Tools.output("modinfo", ["-F", "srcversion", file]).trimmingCharacters(in: .whitespacesAndNewlines)
        guard loaded == wanted else {
            throw SystemError.unavailable("module \(name) is already loaded (srcversion \(loaded.isEmpty ? "unknown" : loaded)) "
                                          + "and is not the replacement \(file) (srcversion \(wanted)); boot a fresh test VM")
        }
    }

    /// Whether `/sys/module/<name>` shows a live module.
    static func isLoaded(_ name: String) -> Bool {
        guard let state = try? String(contentsOfFile: "/sys/module/\(name)/initstate", encoding: .utf8) else {
            return false
        }
        return state.trimmingCharacters(in: .whitespacesAndNewlines) == "live"
    }

    /// `/sys/module/<name>/refcnt`, or nil when the module is not loaded.
    static func refcount(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/sys/module/\(name)/refcnt", encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The module's file: in the replacement folder, else the one `modules.dep` names (else
    /// `modinfo -n`'s).
    mutating func path(of name: String) throws -> String {
        if let known = paths[name] { return known }
        if let file = replacement(for: name) {
            paths[name] = file
            return file
        }
        if installed == nil { installed = Self.readModulesDep(release: release) }
        if let file = installed?[name], FileManager.default.fileExists(atPath: file) {
            paths[name] = file
            return file
        }
        let path = try Tools.output("modinfo", ["-k", release, "-n", name]).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !path.isEmpty, FileManager.default.fileExists(atPath: path) else {
            throw SystemError.unavailable("module \(name) is not installed for kernel \(release) (modinfo -n found no file)")
        }
        paths[name] = path
        return path
    }

    /// Loads the module's dependencies (idempotent): replacements with finit_module, the
    /// kernel's own modules with modprobe.
    mutating func loadDependencies(of name: String) throws {
        if dependencies[name] == nil {
            let file = try path(of: name)
            if let parsed = ModuleFile(path: file) {
                dependencies[name] = parsed.depends
            } else {
                let depends = try Tools.output("modinfo", ["-k", release, "-F", "depends", file])
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                dependencies[name] = depends.split(separator: ",").map(String.init).filter { !$0.isEmpty }
            }
        }
        for dependency in dependencies[name, default: []] where replacement(for: dependency) != nil {
            try ensure(dependency)
        }
        let missing = dependencies[name, default: []].filter { !Self.isLoaded($0) }
        if !missing.isEmpty { _ = try Tools.output("modprobe", ["-a"] + missing) }
    }

    /// Makes sure a module not under check is present (the vsock core, the virtio common code),
    /// from the replacement folder when it has one.
    mutating func ensure(_ name: String) throws {
        try checkLoadedIsReplacement(name)
        guard !Self.isLoaded(name) else { return }
        guard replacement(for: name) != nil else {
            _ = try Tools.output("modprobe", [name])
            return
        }
        if case let .failure(errno) = try load(name) {
            throw SystemError.unavailable("cannot load the replacement \(try path(of: name)): finit_module \(errno.symbol)")
        }
    }

    /// `finit_module(2)`: 0, or the kernel's errno.
    mutating func load(_ name: String) throws -> SyscallResult {
        let file = try path(of: name)
        try loadDependencies(of: name)
        return try Self.load(file: file)
    }

    /// `finit_module(2)` of a module file whose dependencies are loaded: touches nothing of this
    /// value, so threads of a parallel section can call it.
    static func load(file: String) throws -> SyscallResult {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SystemError.unavailable("cannot open \(file): \(Errno(rawValue: errno).symbol)") }
        defer { close(descriptor) }
        return kcc_finit_module(descriptor, "", 0) == 0 ? .value(0) : .failure(Errno(rawValue: errno))
    }

    /// `/lib/modules/<release>/modules.dep` as module name → absolute path (a name is its file's
    /// name without `.ko` and compression suffix, `-` read as `_`, as modprobe does).
    static func readModulesDep(release: String, root: String = "/lib/modules") -> [String: String] {
        let folder = "\(root)/\(release)"
        guard let text = try? String(contentsOfFile: folder + "/modules.dep", encoding: .utf8) else { return [:] }
        var files: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let relative = String(line[..<colon])
            var name = Substring(relative.split(separator: "/").last ?? "")
            if let dot = name.range(of: ".ko") { name = name[..<dot.lowerBound] }
            let path = relative.hasPrefix("/") ? relative : folder + "/" + relative
            files[name.replacingOccurrences(of: "-", with: "_")] = path
        }
        return files
    }

    /// `delete_module(2)` with O_NONBLOCK: 0, or the kernel's errno.
    func unload(_ name: String) -> SyscallResult { Self.unload(name) }

    static func unload(_ name: String) -> SyscallResult {
        kcc_delete_module(name) == 0 ? .value(0) : .failure(Errno(rawValue: errno))
    }
}
