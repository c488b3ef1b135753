import SystemPackage

/// Kernel developers read `ENODEV`, not "No such device": the symbolic names of the errnos the
/// models speak about.
extension Errno {
    /// The C name of this error (`ENODEV`), or `errno N` for one the table does not know.
    public var symbol: String { Errno.symbols[rawValue] ?? "errno \(rawValue)" }

    /// Looks an error up by its C name (`"ENODEV"`), as written in case files and on the command line.
    public init?(symbol: String) {
        guard let raw = Errno.symbols.first(where: { $0.value == symbol })?.key else { return nil }
        self.init(rawValue: raw)
    }

    // Linux x86-64 values (include/uapi/asm-generic/errno-base.h and errno.h).
    static let symbols: [CInt: String] = [
        1: "EPERM", 2: "ENOENT", 4: "EINTR", 5: "EIO", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM",
        13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 25: "ENOTTY",
        90: "EMSGSIZE", 93: "EPROTONOSUPPORT", 94: "ESOCKTNOSUPPORT", 95: "EOPNOTSUPP",
        97: "EAFNOSUPPORT", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 101: "ENETUNREACH",
        104: "ECONNRESET", 106: "EISCONN", 107: "ENOTCONN", 110: "ETIMEDOUT",
        113: "EHOSTUNREACH", 114: "EALREADY", 115: "EINPROGRESS",
    ]
}
