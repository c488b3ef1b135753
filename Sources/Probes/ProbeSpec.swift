import CLibBPF

/// One kernel function to probe, and how its first argument is to be read.
///
/// The probe reports every call (the first four arguments) and every return (the return
/// register) of `function` made by the session's target process, each with the name of a vsock
/// transport module: the one of the socket the call works on. ``flags`` say where that socket
/// comes from.
///
/// ```swift
/// ProbeSpec(function: "vsock_dgram_sendmsg", flags: .arg0IsSocket)
/// ProbeSpec(function: "vmci_transport_dgram_enqueue", flags: .arg0IsVsockSock)
/// ProbeSpec(function: "vmci_transport_dgram_allow")   // reports the thread's current socket
/// ```
public struct ProbeSpec: Hashable, Sendable, CustomStringConvertible {
    /// The kernel function, by its `/proc/kallsyms` name (`vsock_dgram_sendmsg`).
    public var function: String
    /// How the probe reads the function's first argument.
    public var flags: ProbeFlags
    /// Only the return is probed: enough for a function that names its transport by itself,
    /// and half the attach cost (each kprobe registration is slow under TCG).
    public var returnOnly: Bool

    /// Creates a spec.
    ///
    /// - Parameters:
    ///   - function: The kernel function, by its `/proc/kallsyms` name.
    ///   - flags: How the probe reads the first argument; none by default.
    ///   - returnOnly: Probe only the return (no call events).
    public init(function: String, flags: ProbeFlags = [], returnOnly: Bool = false) {
        self.function = function
        self.flags = flags
        self.returnOnly = returnOnly
    }

    /// The function, then its flags, for example `vsock_bind [arg0IsSocket]`.
    public var description: String {
        flags.isEmpty ? function : "\(function) \(flags)"
    }
}

/// What a probed function's first argument is, and what the probe does with it.
///
/// Each flag is a bit of the attach cookie (`enum kcc_cookie_flag` in `bpf/events.h`).
///
/// - ``arg0IsVsockSock``: arg0 is a `struct vsock_sock *`; events name its transport module
///   (`vsk->transport->module->name`). For transport callbacks such as
///   `vmci_transport_dgram_bind(struct vsock_sock *vsk, …)`.
/// - ``arg0IsSocket``: arg0 is the `struct socket *` of a core syscall handler such as
///   `vsock_dgram_sendmsg(struct socket *sock, …)`; `sock->sk` becomes the thread's *current
///   socket* from entry to return. Events of specs without a socket argument
///   (`vmci_transport_dgram_allow(u32 cid, u32 port)`) and `module_put` events are attributed to
///   the current socket, and `module_put` is reported only while one is set.
/// - ``reportTransportAfterReturn``: arg0 is a `struct vsock_sock *` whose transport the
///   function assigns; the *return* event names the transport after the call
///   (`vsock_assign_transport(vsk, psk)`).
///
/// Without any flag, events name the transport of the thread's current socket, or `""`.
public struct ProbeFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// The flag bits, as in `enum kcc_cookie_flag`.
    public let rawValue: UInt32

    /// Creates flags from their bits.
    ///
    /// - Parameter rawValue: Bits of `enum kcc_cookie_flag`.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// arg0 is a `struct vsock_sock *`: events name its transport.
    ///
    /// The corresponding C value is `KCC_FLAG_ARG0_IS_VSOCK_SOCK`.
    public static let arg0IsVsockSock = ProbeFlags(rawValue: KCC_FLAG_ARG0_IS_VSOCK_SOCK.rawValue)
    /// arg0 is a core handler's `struct socket *`: `sock->sk` is the thread's current socket
    /// until the function returns.
    ///
    /// The corresponding C value is `KCC_FLAG_ARG0_IS_SOCKET`.
    public static let arg0IsSocket = ProbeFlags(rawValue: KCC_FLAG_ARG0_IS_SOCKET.rawValue)
    /// arg0 is a `struct vsock_sock *`: the return event names its transport after the call.
    ///
    /// The corresponding C value is `KCC_FLAG_REPORT_TRANSPORT_AFTER_RETURN`.
    public static let reportTransportAfterReturn =
        ProbeFlags(rawValue: KCC_FLAG_REPORT_TRANSPORT_AFTER_RETURN.rawValue)

    /// The flags' names in brackets, for example `[arg0IsSocket]`.
    public var description: String {
        var names: [String] = []
        if contains(.arg0IsVsockSock) { names.append("arg0IsVsockSock") }
        if contains(.arg0IsSocket) { names.append("arg0IsSocket") }
        if contains(.reportTransportAfterReturn) { names.append("reportTransportAfterReturn") }
        let unknown = rawValue & ~(ProbeFlags.arg0IsVsockSock.rawValue
            | ProbeFlags.arg0IsSocket.rawValue | ProbeFlags.reportTransportAfterReturn.rawValue)
        if unknown != 0 { names.append("0x\(String(unknown, radix: 16))") }
        return "[\(names.joined(separator: ", "))]"
    }
}
