#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLibBPF

/// An error number returned by libbpf: a kernel or libc `errno`, or one of libbpf's own codes.
///
/// libbpf 1.x reports failure as a negative errno from functions returning `int`, and as `NULL`
/// with `errno` set from functions returning a pointer. Both arrive here as a positive
/// ``rawValue``, through the one funnel in `LibbpfResult.swift`. Besides the usual errno values
/// (`EPERM`, `EINVAL`, …), libbpf has its own codes from 4000 up (`LIBBPF_ERRNO__FORMAT`, …) for
/// failures that have no errno, such as an ELF file it cannot parse.
///
/// The shape follows swift-system's `Errno`; it is a separate type so that the `checker` module
/// can import both `SystemPackage` and `Probes` without an ambiguous `Errno`. Convert with
/// `Errno(rawValue: e.rawValue)`.
///
/// ```swift
/// let e = LibbpfErrno(rawValue: EPERM)
/// print(e.symbol)        // "EPERM"
/// print(e)               // "EPERM (Operation not permitted)"
/// ```
public struct LibbpfErrno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    /// The positive error number.
    public let rawValue: CInt

    /// Creates an error number from its positive C value.
    ///
    /// - Parameter rawValue: The error number, for example `EPERM` (1), not `-EPERM`.
    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// The C name of the error, for example `EPERM` or `LIBBPF_ERRNO__FORMAT`.
    ///
    /// Errors this type does not name print as `errno N`.
    public var symbol: String {
        Self.symbols[rawValue] ?? "errno \(rawValue)"
    }

    /// libbpf's one-line message for the error, for example `Operation not permitted`.
    ///
    /// The corresponding C function is `libbpf_strerror`, which covers both the errno values and
    /// libbpf's own codes.
    public var message: String {
        var buffer = [CChar](repeating: 0, count: 128)
        _ = libbpf_strerror(rawValue, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) },
                      as: UTF8.self)
    }

    /// The symbol followed by the message, for example `EPERM (Operation not permitted)`.
    public var description: String { "\(symbol) (\(message))" }
}

// MARK: - Errors the probes meet

extension LibbpfErrno {
    /// Operation not permitted: no `CAP_BPF`/`CAP_SYS_ADMIN`, or lockdown refused the program.
    ///
    /// The corresponding C error is `EPERM`.
    public static let notPermitted = LibbpfErrno(rawValue: EPERM)
    /// No such file or directory: a missing object file, BTF, map or attach target.
    ///
    /// The corresponding C error is `ENOENT`.
    public static let noSuchFileOrDirectory = LibbpfErrno(rawValue: ENOENT)
    /// Interrupted system call: a ring buffer poll woken by a signal, a clean stop.
    ///
    /// The corresponding C error is `EINTR`.
    public static let interrupted = LibbpfErrno(rawValue: EINTR)
    /// Argument list too long: the program or an argument is bigger than the kernel accepts.
    ///
    /// The corresponding C error is `E2BIG`.
    public static let argListTooLong = LibbpfErrno(rawValue: E2BIG)
    /// Bad file descriptor.
    ///
    /// The corresponding C error is `EBADF`.
    public static let badFileDescriptor = LibbpfErrno(rawValue: EBADF)
    /// Resource temporarily unavailable.
    ///
    /// The corresponding C error is `EAGAIN`.
    public static let resourceTemporarilyUnavailable = LibbpfErrno(rawValue: EAGAIN)
    /// Cannot allocate memory, often the locked-memory limit on older kernels.
    ///
    /// The corresponding C error is `ENOMEM`.
    public static let noMemory = LibbpfErrno(rawValue: ENOMEM)
    /// Permission denied: the verifier rejected the program.
    ///
    /// The corresponding C error is `EACCES`.
    public static let permissionDenied = LibbpfErrno(rawValue: EACCES)
    /// Device or resource busy.
    ///
    /// The corresponding C error is `EBUSY`.
    public static let resourceBusy = LibbpfErrno(rawValue: EBUSY)
    /// File exists: an attach point already taken.
    ///
    /// The corresponding C error is `EEXIST`.
    public static let fileExists = LibbpfErrno(rawValue: EEXIST)
    /// No such device.
    ///
    /// The corresponding C error is `ENODEV`.
    public static let noSuchDevice = LibbpfErrno(rawValue: ENODEV)
    /// Invalid argument: a malformed request, or an empty object buffer.
    ///
    /// The corresponding C error is `EINVAL`.
    public static let invalidArgument = LibbpfErrno(rawValue: EINVAL)
    /// Function not implemented: no `bpf()` syscall, or it is filtered.
    ///
    /// The corresponding C error is `ENOSYS`.
    public static let noFunction = LibbpfErrno(rawValue: ENOSYS)
    /// Operation not supported.
    ///
    /// The corresponding C error is `EOPNOTSUPP` (equal to `ENOTSUP` on Linux).
    public static let notSupported = LibbpfErrno(rawValue: EOPNOTSUPP)
    /// Operation not supported, in the kernel's internal spelling that the `bpf()` syscall leaks
    /// for an unsupported attach type (for example fentry without trampoline support).
    ///
    /// The corresponding C error is `ENOTSUPP` (524), which has no libc name.
    public static let kernelNotSupported = LibbpfErrno(rawValue: 524)
    /// Object format invalid: the bytes are not a BPF ELF object.
    ///
    /// The corresponding C error is `LIBBPF_ERRNO__FORMAT`, a libbpf code.
    public static let libbpfFormat = LibbpfErrno(rawValue: CInt(LIBBPF_ERRNO__FORMAT.rawValue))
    /// Something went wrong in libelf.
    ///
    /// The corresponding C error is `LIBBPF_ERRNO__LIBELF`, a libbpf code.
    public static let libbpfLibelf = LibbpfErrno(rawValue: CInt(LIBBPF_ERRNO__LIBELF.rawValue))
    /// Internal error in libbpf; also used here when a libbpf call failed without setting `errno`.
    ///
    /// The corresponding C error is `LIBBPF_ERRNO__INTERNAL`, a libbpf code.
    public static let libbpfInternal = LibbpfErrno(rawValue: CInt(LIBBPF_ERRNO__INTERNAL.rawValue))

    /// C names of the errors ``symbol`` spells out: errno values first, then libbpf's own codes.
    private static let symbols: [CInt: String] = {
        var table: [CInt: String] = [
            EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO",
            ENXIO: "ENXIO", E2BIG: "E2BIG", ENOEXEC: "ENOEXEC", EBADF: "EBADF",
            EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT",
            EBUSY: "EBUSY", EEXIST: "EEXIST", ENODEV: "ENODEV", ENOTDIR: "ENOTDIR",
            EINVAL: "EINVAL", EMFILE: "EMFILE", ENOTTY: "ENOTTY", EFBIG: "EFBIG",
            ENOSPC: "ENOSPC", ERANGE: "ERANGE", EDEADLK: "EDEADLK", ENOSYS: "ENOSYS",
            ELOOP: "ELOOP", ENODATA: "ENODATA", EPROTO: "EPROTO", EBADMSG: "EBADMSG",
            EOVERFLOW: "EOVERFLOW", ENOTSOCK: "ENOTSOCK", EMSGSIZE: "EMSGSIZE",
            EPROTONOSUPPORT: "EPROTONOSUPPORT", ESOCKTNOSUPPORT: "ESOCKTNOSUPPORT",
            EOPNOTSUPP: "EOPNOTSUPP", EAFNOSUPPORT: "EAFNOSUPPORT", EADDRINUSE: "EADDRINUSE",
            EADDRNOTAVAIL: "EADDRNOTAVAIL", ENETUNREACH: "ENETUNREACH", ENOBUFS: "ENOBUFS",
            ENOTCONN: "ENOTCONN", ETIMEDOUT: "ETIMEDOUT", ECONNREFUSED: "ECONNREFUSED",
            EHOSTUNREACH: "EHOSTUNREACH", ECANCELED: "ECANCELED",
            524: "ENOTSUPP",
        ]
        let libbpfCodes: [(libbpf_errno, String)] = [
            (LIBBPF_ERRNO__LIBELF, "LIBBPF_ERRNO__LIBELF"),
            (LIBBPF_ERRNO__FORMAT, "LIBBPF_ERRNO__FORMAT"),
            (LIBBPF_ERRNO__KVERSION, "LIBBPF_ERRNO__KVERSION"),
            (LIBBPF_ERRNO__ENDIAN, "LIBBPF_ERRNO__ENDIAN"),
            (LIBBPF_ERRNO__INTERNAL, "LIBBPF_ERRNO__INTERNAL"),
            (LIBBPF_ERRNO__RELOC, "LIBBPF_ERRNO__RELOC"),
            (LIBBPF_ERRNO__LOAD, "LIBBPF_ERRNO__LOAD"),
            (LIBBPF_ERRNO__VERIFY, "LIBBPF_ERRNO__VERIFY"),
            (LIBBPF_ERRNO__PROG2BIG, "LIBBPF_ERRNO__PROG2BIG"),
            (LIBBPF_ERRNO__KVER, "LIBBPF_ERRNO__KVER"),
            (LIBBPF_ERRNO__PROGTYPE, "LIBBPF_ERRNO__PROGTYPE"),
            (LIBBPF_ERRNO__WRNGPID, "LIBBPF_ERRNO__WRNGPID"),
            (LIBBPF_ERRNO__INVSEQ, "LIBBPF_ERRNO__INVSEQ"),
            (LIBBPF_ERRNO__NLPARSE, "LIBBPF_ERRNO__NLPARSE"),
        ]
        for (code, name) in libbpfCodes { table[CInt(code.rawValue)] = name }
        return table
    }()
}
