import Foundation
import Generators

/// Where the kernel-API shim's sources are at run time: `Sources/checker/Harness/Shim/`, shipped
/// as a resource of the checker (`Shim/` in its resource bundle).
///
/// Lookup order, first folder holding `kernel_api.h` wins: `$KCC_HARNESS_SHIM_DIR`; the resource
/// bundle beside the executable (where SwiftPM puts it, for `checker` and the test bundle alike);
/// `Bundle.module` (which also knows the bundle's path in the build directory). `Bundle.module`
/// comes last because it stops the process when it finds no bundle at all.
enum HarnessShim {
    static let directoryVariable = "KCC_HARNESS_SHIM_DIR"
    static let bundleName = "kernel-conformance-checker_checker.resources"
    /// The files copied into every harness build, in this order (part of the cache key).
    static let files = ["kernel_api.h", "harness.h", "harness.c"]
    /// Where a missing kernel symbol goes (for messages).
    static let projectPath = "Sources/checker/Harness/Shim/kernel_api.h"

    static func directory() throws -> URL {
        let fileManager = FileManager.default
        var candidates: [URL] = []
        if let folder = ProcessInfo.processInfo.environment[directoryVariable], !folder.isEmpty {
            candidates.append(URL(fileURLWithPath: folder))
        }
        let executableFolders = [
            Bundle.main.bundleURL,
            Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent(),
            URL(fileURLWithPath: VM.executablePath()).deletingLastPathComponent(),
        ].compactMap { $0 }
        for folder in executableFolders {
            candidates.append(folder.appendingPathComponent(bundleName).appendingPathComponent("Shim"))
        }
        if let found = candidates.first(where: { fileManager.fileExists(atPath: $0.appendingPathComponent("kernel_api.h").path) }) {
            return found
        }
        if let url = Bundle.module.url(forResource: "Shim", withExtension: nil),
           fileManager.fileExists(atPath: url.appendingPathComponent("kernel_api.h").path) {
            return url
        }
        throw SystemError.unavailable("the harness shim (kernel_api.h, harness.c) is not beside the checker; "
                                      + "set \(directoryVariable) to a copy of Sources/checker/Harness/Shim")
    }
}

/// Compiles a patch's functions with the kernel-API shim into `harness.so`, once per content.
///
/// Cache layout (`<cache>/harness/<key>/`, `<cache>` = `$XDG_CACHE_HOME/checker` or
/// `~/.cache/checker`): `kernel_api.h`, `harness.h`, `harness.c` (the shim as it was), the
/// generated `patch_functions.c`, `build.log` and `harness.so`. The key is the SHA-256 of the
/// build recipe, the shim's files and the generated source, so a changed patch or shim is a new
/// build and an unchanged one is reused. A build is made in a scratch folder and renamed into
/// place, so concurrent builds of one key never see half a build. A failed build is kept as
/// `<key>.failed/` for its log.
struct HarnessCompiler {
    /// Bumped when the compile command changes.
    static let recipe = "snp-harness-1"
    static let flags = ["-O1", "-g", "-fPIC", "-shared", "-Wall", "-Werror=implicit-function-declaration"]

    let cache: String
    let shim: URL

    init(cache: String = CheckerCache.defaultPath, shim: URL? = nil) throws {
        self.cache = cache
        self.shim = try shim ?? HarnessShim.directory()
    }

    struct Compiled {
        let folder: String
        let library: String
        let reused: Bool
    }

    func compile(_ functions: PatchFunctions) throws -> Compiled {
        var shimText: [(String, String)] = []
        for name in HarnessShim.files {
            let path = shim.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SystemError.unavailable("cannot read the harness shim file \(path)")
            }
            shimText.append((name, String(decoding: data, as: UTF8.self)))
        }
        let source = functions.source
        let key = try ContentHash.of(text: ([Self.recipe, Self.flags.joined(separator: " ")] + shimText.flatMap { [$0.0, $0.1] }
                                            + ["patch_functions.c", source]).joined(separator: "\n\u{1}\n"))
        let root = cache + "/harness"
        let folder = root + "/" + key
        let library = folder + "/harness.so"
        if FileManager.default.fileExists(atPath: library) {
            return Compiled(folder: folder, library: library, reused: true)
        }

        let scratch = root + "/.build-\(getpid())-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            for (name, text) in shimText { try text.write(toFile: scratch + "/" + name, atomically: false, encoding: .utf8) }
            try source.write(toFile: scratch + "/patch_functions.c", atomically: false, encoding: .utf8)
        } catch {
            throw UsageProblem("cannot write the harness build in \(root): \(error.localizedDescription); give a writable cache (XDG_CACHE_HOME)")
        }
        let finished: Tools.Finished
        do {
            finished = try Tools.run("cc", Self.flags + ["-o", "harness.so", "harness.c", "patch_functions.c"],
                                     in: scratch, environment: ["LC_ALL": "C"])
        } catch {
            try? FileManager.default.removeItem(atPath: scratch)
            throw SystemError.unavailable("cannot run cc (\(error.localizedDescription)); install gcc to use the harness backend")
        }
        try? (finished.stdout + finished.stderr).write(toFile: scratch + "/build.log", atomically: false, encoding: .utf8)
        guard finished.succeeded else {
            let failed = folder + ".failed"
            try? FileManager.default.removeItem(atPath: failed)
            let kept = (try? FileManager.default.moveItem(atPath: scratch, toPath: failed)) != nil
            throw UsageProblem(Self.failureMessage(finished.stderr + finished.stdout, patch: functions.patchName,
                                                   log: (kept ? failed : scratch) + "/build.log"))
        }
        do {
            try FileManager.default.moveItem(atPath: scratch, toPath: folder)
        } catch {
            // Another build of the same key won the race: use it.
            try? FileManager.default.removeItem(atPath: scratch)
            guard FileManager.default.fileExists(atPath: library) else {
                throw UsageProblem("cannot move the harness build into \(folder): \(error.localizedDescription)")
            }
            return Compiled(folder: folder, library: library, reused: true)
        }
        return Compiled(folder: folder, library: library, reused: false)
    }

    /// The symbols a compiler's messages say are missing, in order of first mention: gcc's
    /// "implicit declaration of function 'X'", "'X' undeclared", "unknown type name 'X'",
    /// "invalid use of undefined type 'struct X'", "'struct S' has no member named 'm'" and
    /// clang's "call to undeclared function 'X'", "use of undeclared identifier 'X'",
    /// "no member named 'm' in 'struct S'".
    static func missingSymbols(in log: String) -> [String] {
        let patterns: [(String, (Regex<AnyRegexOutput>.Match) -> String?)] = [
            (#"implicit declaration of function '([A-Za-z_]\w*)'"#, { $0.output[1].substring.map(String.init) }),
            (#"call to undeclared function '([A-Za-z_]\w*)'"#, { $0.output[1].substring.map(String.init) }),
            (#"'([A-Za-z_]\w*)' undeclared"#, { $0.output[1].substring.map(String.init) }),
            (#"use of undeclared identifier '([A-Za-z_]\w*)'"#, { $0.output[1].substring.map(String.init) }),
            (#"unknown type name '([A-Za-z_]\w*)'"#, { $0.output[1].substring.map(String.init) }),
            (#"(?:invalid use of undefined type|incomplete definition of type) '(struct [A-Za-z_]\w*)'"#,
             { $0.output[1].substring.map(String.init) }),
            (#"'(struct [A-Za-z_]\w*)' has no member named '([A-Za-z_]\w*)'"#,
             { m in m.output[2].substring.map { "\($0) (member of \(m.output[1].substring ?? ""))" } }),
            (#"no member named '([A-Za-z_]\w*)' in '(struct [A-Za-z_]\w*)'"#,
             { m in m.output[1].substring.map { "\($0) (member of \(m.output[2].substring ?? ""))" } }),
        ]
        var found: [(position: Int, name: String)] = []
        for line in log.split(separator: "\n") where line.contains("error") || line.contains("warning: implicit") {
            for (pattern, name) in patterns {
                guard let regex = try? Regex(pattern) else { continue }
                for match in line.matches(of: regex) {
                    if let symbol = name(match) { found.append((found.count, symbol)) }
                }
            }
        }
        var seen = Set<String>()
        return found.map(\.name).filter { seen.insert($0).inserted }
    }

    /// One line: the missing symbols and where to add them, or the compiler's first error.
    static func failureMessage(_ log: String, patch: String, log path: String) -> String {
        let missing = missingSymbols(in: log)
        let start = "the functions \(patch) adds to \(PatchFunctions.targetFile) do not compile against the harness's kernel API"
        if !missing.isEmpty {
            let list = missing.joined(separator: ", ")
            return "\(start): missing \(list); add \(missing.count == 1 ? "it" : "them") to \(HarnessShim.projectPath) "
                + "(a function: declared there, implemented in harness.c beside it, citing its source), "
                + "or fix the patch if it should define \(missing.count == 1 ? "it" : "them") (compiler log: \(path))"
        }
        let firstError = log.split(separator: "\n").first { $0.contains("error") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        } ?? "cc failed"
        return "\(start): \(firstError); fix the patch or the shim in Sources/checker/Harness/Shim/ (compiler log: \(path))"
    }
}
