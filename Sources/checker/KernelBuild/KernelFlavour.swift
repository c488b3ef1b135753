/// Which checks a built kernel carries: at most one of KASAN and KCSAN, and lockdep or not.
///
/// KASAN and KCSAN cannot be built together: `config KCSAN` depends on `!KASAN` (both instrument
/// every memory access, with shadow memory of their own). lockdep goes with either or alone.
struct KernelFlavour: Hashable, Sendable, CustomStringConvertible {
    enum Sanitizer: String, Hashable, Sendable, CaseIterable {
        case kasan, kcsan
    }

    let sanitizer: Sanitizer?
    let lockdep: Bool

    init(sanitizer: Sanitizer?, lockdep: Bool) {
        self.sanitizer = sanitizer
        self.lockdep = lockdep
    }

    /// From the command line's flags; both sanitizers at once is a usage problem.
    init(kasan: Bool, kcsan: Bool, lockdep: Bool) throws {
        if kasan && kcsan {
            throw UsageProblem("--kasan and --kcsan cannot be built into one kernel (Kconfig: KCSAN depends on !KASAN); build one kernel of each")
        }
        self.init(sanitizer: kasan ? .kasan : kcsan ? .kcsan : nil, lockdep: lockdep)
    }

    /// The flavour a name (``description``) names: `kasan`, `kcsan`, `lockdep`, `kasan-lockdep`,
    /// `kcsan-lockdep`, `plain`; nil for any other.
    init?(name: String) {
        let known = [nil, Sanitizer.kasan, .kcsan].flatMap { sanitizer in [false, true].map { KernelFlavour(sanitizer: sanitizer, lockdep: $0) } }
        guard let flavour = known.first(where: { $0.description == name }) else { return nil }
        self = flavour
    }

    /// Every name ``init(name:)`` takes.
    static let names = ["kasan", "kcsan", "lockdep", "kasan-lockdep", "kcsan-lockdep", "plain"]

    /// `kasan-lockdep`, `kcsan`, `lockdep`, `plain`: names the build and the kernel release.
    var description: String {
        let parts = [sanitizer?.rawValue, lockdep ? "lockdep" : nil].compactMap { $0 }
        return parts.isEmpty ? "plain" : parts.joined(separator: "-")
    }

    /// `-checker-kasan-lockdep`: the kernel release's suffix (`6.1.176-checker-kasan-lockdep`),
    /// so that the modules of two flavours never share a `/lib/modules/<release>`.
    var localVersion: String { "-checker-" + description }

    /// The project's fragments for this flavour, in merge order.
    var fragments: [KernelConfigFragment] {
        var fragments = [KernelConfigFragment.checker]
        switch sanitizer {
        case .kasan?: fragments.append(.kasan)
        case .kcsan?: fragments.append(.kcsan)
        case nil: break
        }
        if lockdep { fragments.append(.lockdep) }
        fragments.append(KernelConfigFragment(name: "release", options: [
            KernelConfigOption("LOCALVERSION", .text(localVersion), "The release names the flavour: each flavour's modules get a /lib/modules/<release> of their own."),
        ]))
        return fragments
    }

    /// Every option this flavour asks for (what ``KernelConfigCheck`` verifies).
    var requested: [KernelConfigOption] { fragments.flatMap(\.options) }
}
