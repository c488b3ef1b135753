import Dispatch
import Foundation
import Generators
import Model

/// Runs system tools (modinfo and modprobe for the live backend; tar, patch, make and pahole for
/// `checker series`).
enum Tools {
    /// What a finished tool left: its exit status and its output.
    struct Finished {
        let status: Int32
        let stdout: String
        let stderr: String
        var succeeded: Bool { status == 0 }
        /// The last lines of stderr (or stdout), for a one-line error.
        var tail: String {
            let text = stderr.isEmpty ? stdout : stderr
            return text.split(separator: "\n").suffix(2).joined(separator: " / ")
        }
    }

    /// Runs `tool arguments…` (found on PATH plus /usr/sbin and /sbin) in `directory` and waits.
    static func run(_ tool: String, _ arguments: [String], in directory: String? = nil,
                    environment extra: [String: String] = [:]) throws -> Finished {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        environment.merge(extra) { $1 }
        process.environment = environment
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes at once: a tool that fills one while we block on the other would hang.
        let stderrBox = DataBox()
        let readingStderr = DispatchGroup()
        DispatchQueue.global().async(group: readingStderr) { stderrBox.data = err.fileHandleForReading.readDataToEndOfFile() }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        readingStderr.wait()
        process.waitUntilExit()
        return Finished(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                        stderr: String(decoding: stderrBox.data, as: UTF8.self))
    }

    /// The tool's stdout; a failure is `SystemError.unavailable` with the tool's own message.
    static func output(_ tool: String, _ arguments: [String]) throws -> String {
        let finished = try run(tool, arguments)
        guard finished.succeeded else {
            let message = finished.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw SystemError.unavailable("\(tool) \(arguments.joined(separator: " ")) failed: \(message)")
        }
        return finished.stdout
    }
}

/// Bytes read on another queue, handed back after the group is waited for.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
