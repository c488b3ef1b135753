import Foundation
import Generators

/// Where a kernel-API shim's sources are at run time: `Sources/checker/Harness/Shim/` (the
/// patch harness, v8 48/56) or `Sources/checker/Harness/ShimGmem/` (mainline's guest_memfd
/// hooks), each shipped as a resource of the checker (`Shim/`, `ShimGmem/` in its resource
/// bundle).
///
/// Lookup order, first folder holding `kernel_api.h` wins: the kind's environment variable
/// (`$KCC_HARNESS_SHIM_DIR`, `$KCC_HARNESS_SHIM_GMEM_DIR`); the resource bundle beside the
/// executable (where SwiftPM puts it, for `checker` and the test bundle alike); `Bundle.module`
/// (which also knows the bundle's path in the build directory). `Bundle.module` comes last
/// because it stops the process when it finds no bundle at all.
enum HarnessShim {
    /// One shim: its resource folder, its files and where a missing symbol goes.
    struct Kind: Hashable, Sendable {
        /// The folder's name in the resource bundle and under Sources/checker/Harness/.
        let folder: String
        let directoryVariable: String
        /// The files copied into every build, in this order (part of the cache key); the `.c`
        /// files among them are compiled.
        let files: [String]
        /// Where a missing kernel symbol goes (for messages).
        let projectPath: String
        /// What the generated C file is called in the build folder.
        let generatedFile: String

        var sources: [String] { files.filter { $0.hasSuffix(".c") } }
    }

    static let patch = Kind(folder: "Shim", directoryVariable: "KCC_HARNESS_SHIM_DIR",
                            files: ["kernel_api.h", "harness.h", "harness.c"],
                            projectPath: "Sources/checker/Harness/Shim/kernel_api.h", generatedFile: "patch_functions.c")
    static let gmem = Kind(folder: "ShimGmem", directoryVariable: "KCC_HARNESS_SHIM_GMEM_DIR",
                           files: ["kernel_api.h", "harness_gmem.h", "harness_gmem.c"],
                           projectPath: "Sources/checker/Harness/ShimGmem/kernel_api.h", generatedFile: "source_functions.c")

    static let bundleName = "kernel-conformance-checker_checker.resources"
    /// The patch shim's variable (kept under its old name for scripts that set it).
    static var directoryVariable: String { patch.directoryVariable }

    static func directory(_ kind: Kind = patch) throws -> URL {
        let fileManager = FileManager.default
        var candidates: [URL] = []
        if let folder = ProcessInfo.processInfo.environment[kind.directoryVariable], !folder.isEmpty {
            candidates.append(URL(fileURLWithPath: folder))
        }
        let executableFolders = [
            Bundle.main.bundleURL,
            Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent(),
            URL(fileURLWithPath: VM.executablePath()).deletingLastPathComponent(),
        ].compactMap { $0 }
        for folder in executableFolders {
            candidates.append(folder.appendingPathComponent(bundleName).appendingPathComponent(kind.folder))
        }
        if let found = candidates.first(where: { fileManager.fileExists(atPath: $0.appendingPathComponent("kernel_api.h").path) }) {
            return found
        }
        if let url = Bundle.module.url(forResource: kind.folder, withExtension: nil),
           fileManager.fileExists(atPath: url.appendingPathComponent("kernel_api.h").path) {
            return url
        }
        throw SystemError.unavailable("the harness shim (\(kind.files.joined(separator: ", "))) is not beside the checker; "
                                      + "set \(kind.directoryVariable) to a copy of Sources/checker/Harness/\(kind.folder)")
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
    let kind: HarnessShim.Kind

    init(cache: String = CheckerCache.defaultPath, shim: URL? = nil, kind: HarnessShim.Kind = HarnessShim.patch) throws {
        self.cache = cache
        self.kind = kind
        self.shim = try shim ?? HarnessShim.directory(kind)
    }

    struct Compiled {
        let folder: String
        let library: String
        let reused: Bool
    }

    func compile(_ functions: PatchFunctions) throws -> Compiled {
        try compile(source: functions.source,
                    subject: "the functions \(functions.patchName) adds to \(PatchFunctions.targetFile)",
                    fix: "or fix the patch if it should define")
    }

    /// Compiles functions cut from a whole source file (``SourceFunctions``) with this shim.
    func compile(_ functions: SourceFunctions) throws -> Compiled {
        try compile(source: functions.source,
                    subject: "the functions cut from \(functions.path) (\(functions.names.joined(separator: ", ")))",
                    fix: "or fix the tree if it should define")
    }

    /// Compiles `source` (the generated C file) with the shim's files into `harness.so`.
    /// `subject` and `fix` word the one-line message of a build that fails.
    func compile(source: String, subject: String, fix: String) throws -> Compiled {
        var shimText: [(String, String)] = []
        for name in kind.files {
            let path = shim.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SystemError.unavailable("cannot read the harness shim file \(path)")
            }
            shimText.append((name, String(decoding: data, as: UTF8.self)))
        }
        let key = try ContentHash.of(text: ([Self.recipe, Self.flags.joined(separator: " ")] + shimText.flatMap { [$0.0, $0.1] }
                                            + [kind.generatedFile, source]).joined(separator: "\n\u{1}\n"))
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
            try source.write(toFile: scratch + "/" + kind.generatedFile, atomically: false, encoding: .utf8)
        } catch {
            throw UsageProblem("cannot write the harness build in \(root): \(error.localizedDescription); give a writable cache (XDG_CACHE_HOME)")
        }
        let finished: Tools.Finished
        do {
            finished = try Tools.run("cc", Self.flags + ["-o", "harness.so"] + kind.sources + [kind.generatedFile],
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
            throw UsageProblem(Self.failureMessage(finished.stderr + finished.stdout, subject: subject, shim: kind, fix: fix,
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
        failureMessage(log, subject: "the functions \(patch) adds to \(PatchFunctions.targetFile)", shim: HarnessShim.patch,
                       fix: "or fix the patch if it should define", log: path)
    }

    static func failureMessage(_ log: String, subject: String, shim: HarnessShim.Kind, fix: String, log path: String) -> String {
        let missing = missingSymbols(in: log)
        let start = "\(subject) do not compile against the harness's kernel API"
        let implementation = shim.sources.first ?? "the shim's .c file"
        if !missing.isEmpty {
            let list = missing.joined(separator: ", ")
            return "\(start): missing \(list); add \(missing.count == 1 ? "it" : "them") to \(shim.projectPath) "
                + "(a function: declared there, implemented in \(implementation) beside it, citing its source), "
                + "\(fix) \(missing.count == 1 ? "it" : "them") (compiler log: \(path))"
        }
        let firstError = log.split(separator: "\n").first { $0.contains("error") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        } ?? "cc failed"
        return "\(start): \(firstError); fix the code or the shim in Sources/checker/Harness/\(shim.folder)/ (compiler log: \(path))"
    }
}
