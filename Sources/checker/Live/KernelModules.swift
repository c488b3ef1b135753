import CKernelCalls
import Foundation
import Generators
import Model
import SystemPackage

/// Loading and unloading kernel modules with the syscalls themselves, so the errno the kernel
/// gives (EEXIST, EBUSY, EWOULDBLOCK, ENOENT) is observed, not guessed from a tool's message.
///
/// Dependencies are loaded with `modprobe` first (they are not under check); the module itself
/// goes through `finit_module(2)` and `delete_module(2)`.
struct KernelModules {
    /// The kernel release whose modules are used (`uname -r`).
    let release: String
    private var paths: [String: String] = [:]
    private var dependencies: [String: [String]] = [:]

    init() {
        var name = utsname()
        uname(&name)
        release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
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

    /// The module's file and its dependencies, from `modinfo`.
    mutating func path(of name: String) throws -> String {
        if let known = paths[name] { return known }
        let path = try Tools.output("modinfo", ["-k", release, "-n", name]).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !path.isEmpty, FileManager.default.fileExists(atPath: path) else {
            throw SystemError.unavailable("module \(name) is not installed for kernel \(release) (modinfo -n found no file)")
        }
        paths[name] = path
        return path
    }

    /// Loads the module's dependencies with modprobe (idempotent).
    mutating func loadDependencies(of name: String) throws {
        if dependencies[name] == nil {
            let depends = try Tools.output("modinfo", ["-k", release, "-F", "depends", name])
                .trimmingCharacters(in: .whitespacesAndNewlines)
            dependencies[name] = depends.split(separator: ",").map(String.init).filter { !$0.isEmpty }
        }
        let missing = dependencies[name, default: []].filter { !Self.isLoaded($0) }
        if !missing.isEmpty { _ = try Tools.output("modprobe", ["-a"] + missing) }
    }

    /// Makes sure a module not under check is present (the vsock core, the virtio common code).
    func ensure(_ name: String) throws {
        if !Self.isLoaded(name) { _ = try Tools.output("modprobe", [name]) }
    }

    /// `finit_module(2)`: 0, or the kernel's errno.
    mutating func load(_ name: String) throws -> SyscallResult {
        let file = try path(of: name)
        try loadDependencies(of: name)
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SystemError.unavailable("cannot open \(file): \(Errno(rawValue: errno).symbol)") }
        defer { close(descriptor) }
        return kcc_finit_module(descriptor, "", 0) == 0 ? .value(0) : .failure(Errno(rawValue: errno))
    }

    /// `delete_module(2)` with O_NONBLOCK: 0, or the kernel's errno.
    func unload(_ name: String) -> SyscallResult {
        kcc_delete_module(name) == 0 ? .value(0) : .failure(Errno(rawValue: errno))
    }
}
