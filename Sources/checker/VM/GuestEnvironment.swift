import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Facts about the kernel the checker runs on, and whether it is the disposable test VM.
enum GuestEnvironment {
    /// True inside a virtme-ng guest: its kernel command line carries virtme's parameters
    /// (`virtme_root_user=1`, `virtme.exec=…`, `init=…/virtme-ng-init`). The live backend loads
    /// and unloads modules only there, unless told `--allow-host`.
    static var isTestVM: Bool {
        guard let cmdline = try? String(contentsOfFile: "/proc/cmdline", encoding: .utf8) else { return false }
        return isTestVM(cmdline: cmdline)
    }

    /// Whether a kernel command line is a virtme-ng guest's.
    static func isTestVM(cmdline: String) -> Bool {
        cmdline.split(whereSeparator: \.isWhitespace).contains { parameter in
            parameter.hasPrefix("virtme_") || parameter.hasPrefix("virtme.")
                || (parameter.hasPrefix("init=") && parameter.contains("virtme"))
        }
    }

    /// `uname -r`.
    static var kernelRelease: String {
        var name = utsname()
        guard uname(&name) == 0 else { return "unknown" }
        return withUnsafeBytes(of: &name.release) { bytes in
            String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
