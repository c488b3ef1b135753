import Foundation

/// The failure store: every shrunk case a run found, kept under `<store>/<target>/<profile>/`
/// (default `~/.cache/checker/failures`, `--store DIR` to move it), and run again first on the
/// next run of that target and profile. A case that no longer diverges is reported fixed and
/// moved to `fixed/` beside the others.
///
/// In the test VM the guest's filesystem is a throw-away overlay, so `checker vm` copies the
/// host's store into the results folder (`<results>/store`) before the boot and back after it;
/// the guest's run uses that copy.
struct FailureStore {
    let root: URL

    init(_ path: String) { root = URL(fileURLWithPath: path, isDirectory: true) }

    /// `$CHECKER_FAILURE_STORE` (`none` turns the store off), else `<cache>/failures`.
    static var defaultPath: String? {
        switch ProcessInfo.processInfo.environment["CHECKER_FAILURE_STORE"] {
        case "none"?: return nil
        case let path? where !path.isEmpty: return path
        default: return CheckerCache.defaultPath + "/failures"
        }
    }

    func folder(target: String, profile: String) -> URL {
        root.appendingPathComponent(target, isDirectory: true).appendingPathComponent(profile, isDirectory: true)
    }

    /// The cases waiting to be run again, oldest name first.
    func cases(target: String, profile: String) -> [String] {
        let folder = folder(target: target, profile: profile)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") }.sorted().map { folder.appendingPathComponent($0).path }
    }

    /// Keeps a copy of a case file, unless one with the same content is kept already; returns
    /// the stored path.
    @discardableResult
    func save(_ caseFile: String, target: String, profile: String) throws -> String {
        let source = URL(fileURLWithPath: caseFile)
        return try save(content: try Data(contentsOf: source), stem: source.deletingPathExtension().lastPathComponent,
                        target: target, profile: profile)
    }

    /// Keeps a case given as its content, as `<stem>.jsonl` (or `<stem>-N.jsonl`), unless one
    /// with the same content is kept already; returns the stored path. For a run that writes no
    /// results folder: its cases are kept all the same.
    @discardableResult
    func save(content: Data, stem: String, target: String, profile: String) throws -> String {
        let folder = folder(target: target, profile: profile)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for existing in cases(target: target, profile: profile)
        where (try? Data(contentsOf: URL(fileURLWithPath: existing))) == content {
            return existing
        }
        var target = folder.appendingPathComponent(stem + ".jsonl")
        var suffix = 2
        while FileManager.default.fileExists(atPath: target.path) {
            target = folder.appendingPathComponent("\(stem)-\(suffix).jsonl")
            suffix += 1
        }
        try content.write(to: target)
        return target.path
    }

    /// Moves a case that no longer diverges to `fixed/`; returns its new path.
    @discardableResult
    func markFixed(_ path: String) throws -> String {
        let source = URL(fileURLWithPath: path)
        let fixed = source.deletingLastPathComponent().appendingPathComponent("fixed", isDirectory: true)
        try FileManager.default.createDirectory(at: fixed, withIntermediateDirectories: true)
        var target = fixed.appendingPathComponent(source.lastPathComponent)
        if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
        try FileManager.default.moveItem(at: source, to: target)
        target.standardize()
        return target.path
    }

    /// Replaces the store at `destination` with this one (the VM's copy going home).
    func copy(to destination: String) throws {
        let target = URL(fileURLWithPath: destination, isDirectory: true)
        guard FileManager.default.fileExists(atPath: root.path) else { return }
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: target.path) { try FileManager.default.removeItem(at: target) }
        try FileManager.default.copyItem(at: root, to: target)
    }
}
