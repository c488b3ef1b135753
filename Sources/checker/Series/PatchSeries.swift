import Foundation

/// A patch series as posted: the `*.patch` files of a folder, in name order (`git format-patch`
/// numbers them), optionally only the first N.
struct PatchSeries {
    struct Patch {
        let path: String
        var name: String { URL(fileURLWithPath: path).lastPathComponent }
        /// `0005` for `0005-af_vsock-use-a-separate-dgram-bind-table.patch`: adaptations are
        /// named after it.
        var number: String { String(name.prefix { $0 != "-" }) }
    }

    let folder: String
    let patches: [Patch]

    init(folder: String, upTo: Int?) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw UsageProblem("--patches \(folder) is not a folder; give the folder of the series' .patch files (git format-patch output)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".patch") }.sorted()
        guard !names.isEmpty else {
            throw UsageProblem("--patches \(folder) holds no .patch files; give the folder git format-patch wrote")
        }
        if let upTo, !(1...names.count).contains(upTo) {
            throw UsageProblem("--upto \(upTo) is outside the series (\(names.count) patches in \(folder)); give 1...\(names.count)")
        }
        let absolute = URL(fileURLWithPath: folder).standardizedFileURL.path
        self.folder = absolute
        patches = names.prefix(upTo ?? names.count).map { Patch(path: absolute + "/" + $0) }
    }

    /// Every file the series writes (`+++ b/<path>`), so only those parts of the source are
    /// unpacked.
    func touchedFiles() throws -> [String] {
        var files = Set<String>()
        for patch in patches {
            let text = try String(contentsOfFile: patch.path, encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("+++ b/") {
                files.insert(String(line.dropFirst(6)).split(separator: "\t").first.map(String.init) ?? "")
            }
        }
        return files.filter { !$0.isEmpty }.sorted()
    }
}
