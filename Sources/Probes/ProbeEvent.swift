/// One observation from the probes: a call, a return, or a module reference dropped.
///
/// Events of one thread arrive in the order they happened (``ProbeSession/drain()``).
///
/// ```swift
/// for event in session.drain() where event.function == "vmci_transport_dgram_allow" {
///     if event.kind == .return { print(event.returnedBool) }
/// }
/// ```
///
/// Return values arrive as the whole return register (`rax` on x86-64). Only the bits of the
/// function's C return type are defined: read `int` returns with ``returnedInt32`` (the upper
/// half of `rax` is not sign-extended: `-113` can arrive as `0xffffff8f`) and `bool` returns
/// with ``returnedBool`` (only the low byte is defined).
public struct ProbeEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// The function was entered; ``ProbeEvent/args`` holds its first four arguments.
        case call
        /// The function returned; ``ProbeEvent/returned`` holds the return register.
        case `return`
        /// `module_put(mod)` ran inside a core vsock syscall handler of the target process;
        /// ``ProbeEvent/module`` is `mod->name`.
        case modulePut
    }

    /// Call, return or module reference dropped.
    public var kind: Kind
    /// The probed function, from the spec of the attachment that fired; `nil` for
    /// ``Kind/modulePut``.
    public var function: String?
    /// The spec of the attachment that fired; `nil` for ``Kind/modulePut``.
    public var spec: ProbeSpec?
    /// The thread (the kernel's pid of the task, `gettid()`).
    public var tid: UInt32
    /// The first four arguments of a call, as raw 64-bit registers; empty for other kinds.
    public var args: [UInt64]
    /// The whole return register of a return; 0 for other kinds. See ``returnedInt32`` and
    /// ``returnedBool``.
    public var returned: Int64
    /// The transport module's name (`vmw_vsock_vmci_transport`), or `""` when the socket has
    /// no transport, there is no socket, or the kernel's vsock types could not be resolved.
    /// For ``Kind/modulePut``, the module whose reference was dropped.
    public var module: String
    /// When the probe fired, in nanoseconds of `CLOCK_MONOTONIC` (`bpf_ktime_get_ns`).
    public var timestamp: UInt64

    /// Creates an event.
    ///
    /// - Parameters:
    ///   - kind: Call, return or module reference dropped.
    ///   - spec: The spec of the attachment that fired; `nil` for ``Kind/modulePut``.
    ///   - tid: The thread.
    ///   - args: The first four arguments of a call.
    ///   - returned: The return register of a return.
    ///   - module: The transport module's name, or `""`.
    ///   - timestamp: Nanoseconds of `CLOCK_MONOTONIC`.
    public init(kind: Kind, spec: ProbeSpec?, tid: UInt32, args: [UInt64] = [],
                returned: Int64 = 0, module: String, timestamp: UInt64) {
        self.kind = kind
        self.function = spec?.function
        self.spec = spec
        self.tid = tid
        self.args = args
        self.returned = returned
        self.module = module
        self.timestamp = timestamp
    }

    /// The return value of a function returning `int`: the low 32 bits, sign-extended.
    public var returnedInt32: Int32 { Int32(truncatingIfNeeded: returned) }

    /// The return value of a function returning `bool`: the low byte is non-zero.
    public var returnedBool: Bool { returned & 0xff != 0 }

    /// One line, for example `return vmci_transport_dgram_enqueue = -113 [vmw_vsock_vmci_transport]`.
    public var description: String {
        let name = function ?? "module_put"
        let suffix = module.isEmpty ? "" : " [\(module)]"
        switch kind {
        case .call:
            let list = args.map { "0x\(String($0, radix: 16))" }.joined(separator: ", ")
            return "call \(name)(\(list))\(suffix)"
        case .return:
            return "return \(name) = \(returnedInt32)\(suffix)"
        case .modulePut:
            return "module_put\(suffix)"
        }
    }
}
