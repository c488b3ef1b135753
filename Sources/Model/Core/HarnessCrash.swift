/// The code under check ended the process that ran it, or never returned: in user space, what a
/// kernel would report as an oops, a `BUG()` or a hung task.
///
/// The patch-logic harness runs a patch's functions in a sandboxed child process; when that
/// process dies during a call (a signal, an abort, an exit), calls something the sandbox forbids
/// (opening a file, a socket, starting a program) or misses its time bound, the call's
/// observation is this. A model never allows it: it is always a divergence of kind
/// ``Mismatch/Kind/crash``, shrunk and kept like any other.
public struct HarnessCrash: Hashable, Codable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Codable, Sendable {
        /// Killed by a signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, …).
        case signal
        /// `abort()`: the shim's `BUG()` and `BUG_ON()` end here.
        case abort
        /// The code called `exit()` (or `_exit`) itself.
        case exit
        /// No answer within the call's time bound: an endless loop or a wait that never ends.
        case timeout
        /// A system call the sandbox forbids: a file, a socket, a new program or process.
        case forbiddenCall
    }

    public var kind: Kind
    /// One line that names the crash the same way on every run, e.g.
    /// `SIGSEGV in sev_update_mem_attr (patch_functions.c:42)`.
    public var signature: String
    /// What else was seen: the faulting address, the child's last lines on stderr.
    public var detail: [String]

    public init(kind: Kind, signature: String, detail: [String] = []) {
        self.kind = kind
        self.signature = signature
        self.detail = detail
    }

    public var description: String { "crashed: \(signature)" }
}

/// An observation type that can say "the code under check crashed" (the harness's sandbox builds
/// it when the child process dies during a call).
public protocol CrashObservable {
    static func crashed(_ crash: HarnessCrash) -> Self
    /// The crash this observation reports, if it is one.
    var crash: HarnessCrash? { get }
}
