/// A libbpf failure, named after the stage of a probe's life that failed.
///
/// A probe goes through open → configure → load → attach (as libbpf-bootstrap's `minimal.c`
/// does); each case names the stage and the object or program, and carries libbpf's error number.
/// A failed attach inside ``ProbeSession/attach(_:)`` is not thrown but reported as
/// ``ProbeStatus/Mechanism/unavailable(reason:)``, with the error in ``ProbeStatus/error``.
/// A caller decides from the stage what the failure means for a run: a failed attach makes the
/// run *skipped* or *inconclusive*, never passed.
///
/// ```swift
/// do {
///     _ = try ProbeObject(bytes: bytes, name: "vsock")
/// } catch {
///     print(error)   // "open vsock: LIBBPF_ERRNO__FORMAT (BPF object format invalid)"
/// }
/// ```
public enum ProbeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Opening (parsing) a BPF object file failed.
    ///
    /// - Parameters:
    ///   - object: The object's name.
    ///   - errno: libbpf's error.
    case open(object: String, errno: LibbpfErrno)
    /// Configuring an opened object before load, or setting up its reader after load, failed:
    /// a missing program or map, a `.rodata` value of the wrong size, a map that could not be
    /// shared, a ring buffer that could not be mapped.
    ///
    /// - Parameters:
    ///   - object: The object's name.
    ///   - step: What was being configured, for example `set .rodata` or `find map events`.
    ///   - errno: libbpf's error.
    case configure(object: String, step: String, errno: LibbpfErrno)
    /// Loading a program into the kernel failed; the verifier log went to ``LibbpfLog``.
    ///
    /// - Parameters:
    ///   - program: The program's name (its C function name), or the object's if libbpf loaded
    ///     the whole object.
    ///   - errno: libbpf's error.
    case load(program: String, errno: LibbpfErrno)
    /// Attaching a loaded program to its hook failed.
    ///
    /// - Parameters:
    ///   - program: The program's name.
    ///   - errno: libbpf's error.
    case attach(program: String, errno: LibbpfErrno)

    /// libbpf's error, whatever the stage.
    public var errno: LibbpfErrno {
        switch self {
        case .open(_, let errno), .configure(_, _, let errno), .load(_, let errno),
             .attach(_, let errno):
            return errno
        }
    }

    /// The stage, its subject and the error, for example `attach probe_sendmsg: EPERM (...)`.
    public var description: String {
        switch self {
        case .open(let object, let errno): "open \(object): \(errno)"
        case .configure(let object, let step, let errno): "configure \(object) (\(step)): \(errno)"
        case .load(let program, let errno): "load \(program): \(errno)"
        case .attach(let program, let errno): "attach \(program): \(errno)"
        }
    }
}
