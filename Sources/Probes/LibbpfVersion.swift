import CLibBPF

/// The version of libbpf, as `major.minor`.
///
/// libbpf reports its version twice: the headers the Probes module was compiled against
/// (``headers``, from `libbpf_version.h`) and the shared library loaded at run time
/// (``runtime``). They differ only when the library was upgraded under a built binary; libbpf
/// keeps its ABI backward compatible within a major version, so only a lower runtime matters.
///
/// ```swift
/// print(LibbpfVersion.runtime)   // "libbpf 1.1"
/// ```
public struct LibbpfVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The major version: `1` for libbpf 1.1.2.
    public var major: Int
    /// The minor version: `1` for libbpf 1.1.2. libbpf exposes no patch level through its API.
    public var minor: Int

    /// Creates a version from its two parts.
    ///
    /// - Parameters:
    ///   - major: The major version.
    ///   - minor: The minor version.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// The version of the libbpf shared library loaded into this process.
    ///
    /// The corresponding C functions are `libbpf_major_version` and `libbpf_minor_version`.
    public static var runtime: LibbpfVersion {
        LibbpfVersion(major: Int(libbpf_major_version()), minor: Int(libbpf_minor_version()))
    }

    /// The version of the libbpf headers this module was compiled against.
    ///
    /// The corresponding C macros are `LIBBPF_MAJOR_VERSION` and `LIBBPF_MINOR_VERSION`.
    public static let headers = LibbpfVersion(
        major: Int(LIBBPF_MAJOR_VERSION), minor: Int(LIBBPF_MINOR_VERSION))

    /// Orders versions by major, then minor.
    public static func < (lhs: LibbpfVersion, rhs: LibbpfVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    /// The version as libbpf's users write it, for example `libbpf 1.1`.
    public var description: String { "libbpf \(major).\(minor)" }
}
