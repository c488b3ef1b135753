import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The host folder one `checker vm` run writes to: `<base>/<UTC timestamp>/`, e.g.
/// `.checker-results/20261121T220301Z/`. A folder that exists is never reused: a second run in
/// the same second gets `20261121T220301Z-2`, then `-3`, … Creation is `mkdir(2)` itself, so two
/// runs started at once cannot both get the same folder.
enum VMResultsFolder {
    /// The default base, relative to the current directory.
    static let defaultBase = ".checker-results"

    /// The folder name for a run started at `date`.
    static func stem(for date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", parts.year!, parts.month!, parts.day!,
                      parts.hour!, parts.minute!, parts.second!)
    }

    /// The names tried in order: the stem, then `stem-2`, `stem-3`, …
    static func candidate(_ stem: String, attempt: Int) -> String {
        attempt <= 1 ? stem : "\(stem)-\(attempt)"
    }

    /// Creates a new folder under `base` (made if missing) and returns its absolute path.
    static func create(under base: String, at date: Date = Date()) throws -> String {
        let baseURL = URL(fileURLWithPath: base, isDirectory: true).standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: baseURL, withIntermediateDirectories: true)
        } catch {
            throw UsageProblem("cannot create the results folder \(baseURL.path): \(error.localizedDescription); "
                               + "give a writable --results directory")
        }
        return try createUnused(baseURL.appendingPathComponent(stem(for: date)).path)
    }

    /// Creates the folder `path`, or `path-2`, `path-3`, … when it exists (the parent must
    /// exist); returns the one created. A folder an earlier run left is never reused.
    static func createUnused(_ path: String) throws -> String {
        for attempt in 1...10_000 {
            let candidate = candidate(path, attempt: attempt)
            if mkdir(candidate, 0o755) == 0 { return candidate }
            let error = errno
            if error == EEXIST { continue }
            throw UsageProblem("cannot create \(candidate): \(String(cString: strerror(error))); give a writable --results directory")
        }
        throw UsageProblem("\(path) and 10000 more like it exist already; give another --results directory")
    }
}
