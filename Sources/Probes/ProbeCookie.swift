import CLibBPF

/// The attach cookie of one probe: the spec's index in the session's table, and its flags.
///
/// The BPF programs read it with `bpf_get_attach_cookie` and copy it into every event, so one
/// generic kprobe program serves every function. Layout (`bpf/events.h`): the low 32 bits are
/// the index, the flags (``ProbeFlags``) sit from bit `KCC_COOKIE_FLAG_SHIFT` (32) up.
internal struct ProbeCookie: Hashable, Sendable {
    /// The spec's index in ``ProbeSession``'s table.
    var index: UInt32
    /// The spec's flags.
    var flags: ProbeFlags

    /// How far the flags are shifted: `KCC_COOKIE_FLAG_SHIFT`.
    static let flagShift = UInt64(KCC_COOKIE_FLAG_SHIFT)

    init(index: UInt32, flags: ProbeFlags) {
        self.index = index
        self.flags = flags
    }

    /// Splits a cookie read back from an event.
    init(rawValue: UInt64) {
        index = UInt32(truncatingIfNeeded: rawValue)
        flags = ProbeFlags(rawValue: UInt32(truncatingIfNeeded: rawValue >> Self.flagShift))
    }

    /// The 64-bit value given to `bpf_program__attach_kprobe_opts`.
    var rawValue: UInt64 {
        UInt64(index) | UInt64(flags.rawValue) << Self.flagShift
    }
}
