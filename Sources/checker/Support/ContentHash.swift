import Foundation

/// SHA-256 for cache keys, by coreutils' `sha256sum` (no crypto library, no hash code of our own).
enum ContentHash {
    /// Over files' contents (not their paths: the same series in another folder is the same
    /// build) and extra lines.
    static func of(files: [String], extra: [String] = []) throws -> String {
        var lines = extra
        if !files.isEmpty {
            let summed = try Tools.run("sha256sum", files)
            guard summed.succeeded else { throw SeriesFailure("sha256sum failed: \(summed.tail)") }
            lines += summed.stdout.split(separator: "\n").map { line in
                let fields = line.split(separator: " ", maxSplits: 1)
                return "\(fields[0]) \(URL(fileURLWithPath: String(fields.last ?? "").trimmingCharacters(in: .whitespaces)).lastPathComponent)"
            }
        }
        return try of(text: lines.joined(separator: "\n"))
    }

    /// Over a text. The temporary file is unique per call: tests hash concurrently.
    static func of(text: String) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("checker-hash-\(UUID().uuidString)").path
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let summed = try Tools.run("sha256sum", [file])
        guard summed.succeeded, summed.stdout.count >= 64 else { throw SeriesFailure("sha256sum failed: \(summed.tail)") }
        return String(summed.stdout.prefix(64))
    }
}
