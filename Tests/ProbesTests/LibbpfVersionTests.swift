import Foundation
import Testing
@testable import Probes

@Suite("libbpf version")
struct LibbpfVersionTests {
    @Test("the loaded libbpf is 1.x or later, as the headers")
    func runtimeIsAtLeastOne() {
        let runtime = LibbpfVersion.runtime
        #expect(runtime.major >= 1)
        #expect(runtime >= LibbpfVersion.headers)
        #expect(runtime.description == "libbpf \(runtime.major).\(runtime.minor)")
    }

    @Test("the loaded libbpf matches pkg-config --modversion libbpf",
          .enabled(if: PkgConfig.path != nil, "pkg-config is not installed"))
    func runtimeMatchesPkgConfig() throws {
        let reported = try #require(try PkgConfig.modversion("libbpf"))
        let parts = reported.split(separator: ".").compactMap { Int($0) }
        try #require(parts.count >= 2, "pkg-config printed \(reported)")
        #expect(LibbpfVersion.runtime == LibbpfVersion(major: parts[0], minor: parts[1]))
    }

    @Test("versions order by major, then minor")
    func ordering() {
        #expect(LibbpfVersion(major: 1, minor: 1) < LibbpfVersion(major: 1, minor: 2))
        #expect(LibbpfVersion(major: 0, minor: 8) < LibbpfVersion(major: 1, minor: 0))
    }
}

/// Runs `pkg-config`, found on `PATH`.
enum PkgConfig {
    static let path: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        return dirs.map { "\($0)/pkg-config" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static func modversion(_ package: String) throws -> String? {
        guard let path else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--modversion", package]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
