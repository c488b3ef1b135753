#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The one funnel from libbpf's C error conventions to `LibbpfErrno` (as swift-system's
// `valueOrErrno` in Sources/System/Util.swift). Every libbpf call in this module goes through
// one of these two functions; callers then name the stage with `mapError`:
//
//     try valueOrLibbpfErrno { bpf_object__load(object) }
//         .mapError { ProbeError.load(program: name, errno: $0) }
//         .get()
//
// No EINTR retry happens here: libbpf already retries the `bpf()` syscall where that is safe,
// and for `ring_buffer__poll` an interrupted poll is a clean stop the caller decides about.

/// Runs a libbpf call that returns `int`: zero or more is success, a negative value is `-errno`.
///
/// - Parameter call: The C call, for example `{ bpf_object__load(object) }`.
/// - Returns: The non-negative result, or the error number.
@inline(__always)
internal func valueOrLibbpfErrno(_ call: () -> CInt) -> Result<CInt, LibbpfErrno> {
    let result = call()
    guard result < 0 else { return .success(result) }
    // `-result` cannot overflow: libbpf never returns Int32.min, but be total anyway.
    return .failure(LibbpfErrno(rawValue: result == .min ? .max : -result))
}

/// Runs a libbpf call that returns a pointer: `NULL` is failure, with the error in `errno`.
///
/// `errno` is cleared before the call and read straight after it, so nothing else can overwrite
/// it. libbpf 1.x always sets `errno` with a `NULL` return; if a call ever fails without doing
/// so, the error is ``LibbpfErrno/libbpfInternal`` rather than a success.
///
/// The deprecated C function `libbpf_get_error` does the same for libbpf 1.x; it is not used.
///
/// - Parameter call: The C call, for example `{ bpf_object__open_mem(p, n, &opts) }`.
/// - Returns: The non-null pointer, or the error number.
@inline(__always)
internal func pointerOrLibbpfErrno<Pointer>(
    _ call: () -> Pointer?
) -> Result<Pointer, LibbpfErrno> {
    errno = 0
    let pointer = call()
    let error = errno
    if let pointer { return .success(pointer) }
    return .failure(error > 0 ? LibbpfErrno(rawValue: error) : .libbpfInternal)
}
