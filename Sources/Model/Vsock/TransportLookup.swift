/// Which transport serves a remote CID: the lookups of `af_vsock.c`.
struct TransportLookup {
    let slots: TransportSlots
    let configuration: VsockConfiguration

    init(state: VsockState, configuration: VsockConfiguration) {
        self.slots = state.slots
        self.configuration = configuration
    }

    static let useLocal = Rule(
        id: "vsock.lookup.local",
        summary: "CID 1, the G2H transport's own CID, or CID 2 without G2H go to the local transport",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/af_vsock.c", line: 404,
                        function: "vsock_use_local_transport"))
    /// Unpatched 6.1.176 has the connectible lookup inline; v5 02 moves it into a function.
    static let connectibleInline = Rule(
        id: "vsock.lookup.connectible",
        summary: "CID ≤ 2, no H2G, or VMADDR_FLAG_TO_HOST → G2H; else H2G (may be NULL)",
        source: .source(tree: "linux 6.1.176", file: "net/vmw_vsock/af_vsock.c", line: 473,
                        function: "vsock_assign_transport"))
    static let connectible = Rule(
        id: "vsock.lookup.connectible",
        summary: "CID ≤ 2, no H2G, or VMADDR_FLAG_TO_HOST → G2H; else H2G (may be NULL)",
        source: .hunk(series: "vsock-dgram-v5", patch: 2, file: "net/vmw_vsock/af_vsock.c",
                      hunk: "@@ -423,6 +423,22 @@", function: "vsock_connectible_lookup_transport"))
    static let dgramFallback = Rule(
        id: "vsock.dgram.lookup.fallback",
        summary: "a datagram lookup tries the connectible lookup first and falls back to the DGRAM slot",
        source: .hunk(series: "vsock-dgram-v5", patch: 3, file: "net/vmw_vsock/af_vsock.c",
                      hunk: "@@ -439,6 +439,18 @@", function: "vsock_dgram_lookup_transport"))

    /// `vsock_use_local_transport(cid)`.
    func usesLocal(_ cid: UInt32) -> Bool {
        guard slots[.local] != nil else { return false }
        if cid == VMAddr.cidLocal { return true }
        if let g2h = slots[.g2h] {
            // virtio without a device reports VMADDR_CID_ANY, so CID_ANY matches here.
            return cid == configuration.localCID(of: g2h)
        }
        return cid == VMAddr.cidHost
    }

    /// `vsock_connectible_lookup_transport(cid, flags)` (mainline's inline STREAM logic).
    func connectible(cid: UInt32, flags: UInt8) -> TransportModule? {
        if usesLocal(cid) { return slots[.local] }
        if cid <= VMAddr.cidHost || slots[.h2g] == nil || flags & VMAddr.flagToHost != 0 {
            return slots[.g2h]
        }
        return slots[.h2g]
    }

    /// The transport a datagram socket gets for `cid` under `profile`.
    func dgram(cid: UInt32, flags: UInt8, profile: VsockProfile) -> TransportModule? {
        switch profile.dgramLookup {
        case .dgramSlotOnly:
            return slots[.dgram]
        case .connectibleThenFallback:
            return connectible(cid: cid, flags: flags) ?? slots[.dgram]
        }
    }

    /// `vsock_find_cid(cid)`: is `cid` one of ours, so that `bind()` may use it?
    func isLocalCID(_ cid: UInt32) -> Bool {
        // vsock_registered_transport_cid() answers VMADDR_CID_ANY without a G2H transport.
        let g2hCID = slots[.g2h].map { configuration.localCID(of: $0) } ?? VMAddr.cidAny
        if cid == g2hCID { return true }
        if slots[.h2g] != nil && cid == VMAddr.cidHost { return true }
        if slots[.local] != nil && cid == VMAddr.cidLocal { return true }
        return false
    }
}
