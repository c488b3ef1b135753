import Model
import Testing

/// The rules each profile states, against the rules this target has a test for: a rule added to
/// (or dropped from) a profile without a matching test here fails.
@Suite("rule inventory")
struct RuleInventoryTests {
    /// Rules of every profile (each has at least one test named after it in this target).
    static let common: Set<String> = [
        "vsock.register.ok", "vsock.register.ebusy-all-or-nothing", "module.load.eexist", "module.unload.enoent",
        "module.unload.in-use", "vsock.unregister.clears-slots",
        "vsock.lookup.local", "vsock.lookup.connectible",
        "vsock.create.connectible-no-transport", "vsock.assign.enodev",
        "vsock.addr.einval", "vsock.bind.already-bound", "vsock.bind.eaddrnotavail", "vsock.bind.dgram.callback",
        "vsock.bind.ephemeral", "vsock.bind.eacces", "vsock.bind.eaddrinuse", "vsock.bind.ok",
        "vsock.connect.dgram.unspec", "vsock.connect.dgram.allow",
        "vsock.connect.stream.unspec-einval", "vsock.connect.stream.assign", "vsock.connect.seqpacket.allow",
        "vsock.connect.stream.allow", "vsock.connect.stream.callback",
        "vsock.dgram.send.socket-transport", "vsock.dgram.send.port-any", "vsock.dgram.send.not-connected",
        "vsock.dgram.send.allow",
        "vsock.getsockname.local", "vsock.getsockname.readdressed-any", "vsock.getpeername.remote", "vsock.getpeername.enotconn",
        "vsock.dgram.send.resolves-cid-any",
        "vsock.close.releases", "vsock.close.lingering", "module.unload.lingering",
        "vsock.recv.connectible.not-connected", "vsock.dgram.recv.empty", "vsock.dgram.deliver.vmci",
    ]
    /// Rules of the v5 profiles (patch 03 onwards).
    static let v5: Set<String> = [
        "vsock.dgram.lookup.fallback", "vsock.create.dgram.lookup", "vsock.connect.dgram.assigns",
        "vsock.dgram.sendto.no-transport", "vsock.dgram.sendto.per-packet", "vsock.dgram.send.null-transport",
        "vsock.create.dgram.no-transport", "vsock.connect.dgram.failed-unchanged",
        "vsock.connect.dgram.failed-transport-unclear",
    ]

    static func tested(_ profile: VsockProfile) -> Set<String> {
        switch profile {
        case .mainline: return common.union(["vsock.create.dgram.dgram-slot"])
        case .vsockDgramV5Upto03:
            return common.union(v5).union(["vsock.bind.dgram.no-callback-einval", "vsock.create.dgram.seed-unclear"])
        default:
            return common.union(v5).union(["vsock.bind.dgram.table", "vsock.create.dgram.supported",
                                           "vsock.dgram.send.loopback-carries", "vsock.dgram.send.transmitted-by-chooser",
                                           "vsock.dgram.deliver",
                                           "vsock.dgram.deliver.unclear"])
        }
    }

    @Test("every rule of the profile has a test here, and no test claims a rule the profile lacks",
          arguments: VsockProfile.all)
    func inventory(profile: VsockProfile) {
        let rules = VsockModel.rules(for: profile).map(\.id)
        #expect(Set(rules).count == rules.count, "duplicate rule ids: \(rules)")
        let stated = Set(rules)
        let expected = Self.tested(profile)
        #expect(stated.subtracting(expected).isEmpty, "rules without a test: \(stated.subtracting(expected).sorted())")
        #expect(expected.subtracting(stated).isEmpty, "tested rules the profile does not state: \(expected.subtracting(stated).sorted())")
    }

    // Every rule names a source: a v5 hunk, the series' own words, or a 6.1.176 line; rules only
    // the series states cite the series, and a mainline rule points at the unpatched tree.
    @Test("rules cite a v5 hunk, the series' words or a 6.1.176 line; v5-only rules cite the series",
          arguments: VsockProfile.all)
    func citations(profile: VsockProfile) {
        let mainline = Set(VsockModel.rules(for: .mainline).map(\.id))
        for rule in VsockModel.rules(for: profile) {
            switch rule.source {
            case let .hunk(series, patch, _, hunk, _):
                #expect(series == "vsock-dgram-v5" && (1...14).contains(patch) && hunk.hasPrefix("@@ "), "\(rule)")
                #expect(profile != .mainline, "mainline states a rule citing the v5 series: \(rule)")
            case let .source(tree, file, line, _):
                #expect(tree == "linux 6.1.176" && line > 0 && (file.hasPrefix("net/vmw_vsock/") || file.hasPrefix("kernel/module/")),
                        "\(rule)")
                #expect(mainline.contains(rule.id), "a rule only v5 states cites the unpatched tree: \(rule)")
            case let .message(series, place, quote):
                #expect(series == "vsock-dgram-v5" && !place.isEmpty && !quote.isEmpty, "\(rule)")
                #expect(profile != .mainline, "mainline states a rule citing the v5 series: \(rule)")
            }
        }
    }
}
