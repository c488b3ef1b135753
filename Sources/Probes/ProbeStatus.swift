/// Whether a probe attached, and how; or why not.
///
/// A probe that could not attach is never hidden: ``mechanism`` is
/// ``Mechanism/unavailable(reason:)`` with a sentence naming the errno and its likely cause,
/// and a run that needed the probe is *skipped* or *inconclusive*, never passed.
///
/// ```swift
/// let status = session.attach(ProbeSpec(function: "vsock_dgram_sendmsg", flags: .arg0IsSocket))
/// if case .unavailable(let reason) = status.mechanism { print("# SKIP \(reason)") }
/// ```
public struct ProbeStatus: Sendable, Hashable, CustomStringConvertible {
    /// How a probe is attached.
    public enum Mechanism: Sendable, Hashable, CustomStringConvertible {
        /// A kprobe (and kretprobe) with a BPF cookie: pins no module.
        case kprobe
        /// A kprobe defined as a trace event on `module:function` (tracefs `kprobe_events`): the
        /// kernel arms it again at every load of the module (``KprobeEventGroup``).
        case kprobeEvent
        /// An fentry trampoline; used for vmlinux functions only (`module_put`), because a
        /// trampoline on a module function holds a reference on that module.
        case fentry
        /// Not attached; `reason` names the function, the errno and the likely cause, for
        /// example `kprobe vsock_bind: ENOENT (No such file or directory): not in /proc/kallsyms`.
        case unavailable(reason: String)

        /// `kprobe`, `fentry` or `unavailable: <reason>`.
        public var description: String {
            switch self {
            case .kprobe: "kprobe"
            case .kprobeEvent: "kprobe event"
            case .fentry: "fentry"
            case .unavailable(let reason): "unavailable: \(reason)"
            }
        }
    }

    /// The kernel function.
    public let function: String
    /// How the probe is attached, or why it is not.
    public let mechanism: Mechanism
    /// The last libbpf error met while attaching; `nil` when attached at the first try.
    ///
    /// When `module_put` falls back from fentry to kprobe, this is the fentry error, even
    /// though the probe is attached.
    public let error: ProbeError?

    /// Creates a status.
    ///
    /// - Parameters:
    ///   - function: The kernel function.
    ///   - mechanism: How it is attached, or why not.
    ///   - error: The libbpf error behind a fallback or an unavailable probe.
    public init(function: String, mechanism: Mechanism, error: ProbeError? = nil) {
        self.function = function
        self.mechanism = mechanism
        self.error = error
    }

    /// `true` unless the mechanism is ``Mechanism/unavailable(reason:)``.
    public var isAttached: Bool {
        if case .unavailable = mechanism { return false }
        return true
    }

    /// The function and the mechanism, for example `vsock_bind: kprobe`.
    public var description: String { "\(function): \(mechanism)" }
}
