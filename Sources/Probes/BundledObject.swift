import Foundation

/// The BPF object files built from `bpf/*.bpf.c` by the `BPFCompiler` plugin and shipped as
/// resources of this module.
///
/// Lookup order, first file that exists wins:
/// 1. the environment variable `KCC_BPF_OBJECT_DIR` (a directory holding `vsock.bpf.o`), for
///    a checker copied somewhere without its resource bundle;
/// 2. the resource bundle next to the executable (`<package>_Probes.resources/`, where SwiftPM
///    puts it and where `Bundle.module` looks first), or beside the executable itself;
/// 3. `Bundle.module`, which also knows the bundle's path in the build directory.
///
/// Steps 1 and 2 come first because SwiftPM's `Bundle.module` stops the process with a fatal
/// error when it finds no bundle at all; by then the files at its first path are known to be
/// missing, so it is reached only for its build-directory path.
public enum BundledObject {
    /// The vsock probes, from `bpf/vsock.bpf.c`.
    public static let vsock = "vsock.bpf.o"

    /// The environment variable naming a directory that holds the objects.
    public static let directoryVariable = "KCC_BPF_OBJECT_DIR"

    /// The name of the resource bundle SwiftPM makes for this module.
    static let bundleName = "kernel-conformance-checker_Probes.resources"

    /// The path of the object file `name`, or `nil` if it is nowhere.
    ///
    /// - Parameter name: The file name, for example ``vsock``.
    public static func url(named name: String) -> URL? {
        let fileManager = FileManager.default
        var candidates: [URL] = []
        if let directory = ProcessInfo.processInfo.environment[directoryVariable] {
            candidates.append(URL(fileURLWithPath: directory).appendingPathComponent(name))
        }
        let executableDirectories = [
            Bundle.main.bundleURL,
            Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent(),
        ].compactMap { $0 }
        for directory in executableDirectories {
            candidates.append(directory.appendingPathComponent(bundleName).appendingPathComponent(name))
            candidates.append(directory.appendingPathComponent(name))
        }
        if let found = candidates.first(where: { fileManager.isReadableFile(atPath: $0.path) }) {
            return found
        }
        let base = (name as NSString).deletingPathExtension
        let pathExtension = (name as NSString).pathExtension
        return Bundle.module.url(forResource: base,
                                 withExtension: pathExtension.isEmpty ? nil : pathExtension)
    }

    /// The bytes of the object file `name`.
    ///
    /// - Parameter name: The file name, for example ``vsock``.
    /// - Throws: ``ProbeError/open(object:errno:)`` with `ENOENT` if the file is nowhere, or the
    ///   read error.
    public static func bytes(named name: String) throws(ProbeError) -> [UInt8] {
        guard let url = url(named: name) else {
            throw .open(object: name, errno: .noSuchFileOrDirectory)
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .open(object: url.path, errno: .noSuchFileOrDirectory)
        }
        return [UInt8](data)
    }
}
