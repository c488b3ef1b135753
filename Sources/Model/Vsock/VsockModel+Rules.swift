extension VsockModel {
    /// Every rule the model applies under `profile`, in the order a socket meets them.
    public static func rules(for profile: VsockProfile) -> [Rule] {
        let v5 = profile.dgramLookup == .connectibleThenFallback
        var rules: [Rule] = [
            TransportRegistry.registered, TransportRegistry.registerAllOrNothing, TransportRegistry.alreadyLoaded,
            TransportRegistry.notLoaded, TransportRegistry.inUse, TransportRegistry.lingeringInUse, TransportRegistry.unregistered,
            TransportLookup.useLocal, v5 ? TransportLookup.connectible : TransportLookup.connectibleInline,
        ]
        if v5 { rules.append(TransportLookup.dgramFallback) }
        rules += [VsockRules.createConnectible, v5 ? VsockRules.createDgramLookup : VsockRules.createDgramSlot]
        switch profile.dgramCreation {
        case .dgramSlot: break
        case .seedIntent: rules += [VsockRules.createDgramSeedUnclear, VsockRules.createDgramNoTransport]
        case .seriesIntent: rules += [VsockRules.createDgramSupported, VsockRules.createDgramNoTransport]
        }
        rules += [VsockRules.assignNoTransport,
                  VsockRules.addressInvalid, VsockRules.alreadyBound, VsockRules.notLocalCID, VsockRules.dgramBindCallback]
        switch profile.dgramBindWithoutCallback {
        case .notReachable: break
        case .einval: rules.append(VsockRules.dgramBindNoCallback03)
        case .dgramBindTable: rules.append(VsockRules.dgramBindTable)
        }
        rules += [VsockRules.tableEphemeral, VsockRules.tableReserved, VsockRules.tableInUse, VsockRules.tableBound,
                  VsockRules.dgramDisconnect, VsockRules.dgramConnectAllow]
        if v5 {
            rules += [VsockRules.dgramConnectAssigns, VsockRules.dgramConnectFailedUnchanged,
                      VsockRules.dgramConnectFailedTransport]
        }
        rules += [VsockRules.connectibleUnspec, VsockRules.connectibleLookup, VsockRules.seqpacketAllow,
                  VsockRules.streamAllow, VsockRules.connectCallback]
        rules += v5 ? [VsockRules.sendtoNoTransport, VsockRules.sendtoPerPacket] : []
        rules += [VsockRules.sendSocketTransport, VsockRules.sendPortAny, VsockRules.sendNotConnected,
                  VsockRules.sendAllow]
        if v5 { rules.append(VsockRules.sendNullTransport) }
        rules += [VsockRules.getsockname, VsockRules.getsocknameReaddressed,
                  VsockRules.getpeername, VsockRules.getpeernameNotConnected, VsockRules.sendResolvesCidAny,
                  VsockRules.recvConnectibleNotConnected, VsockRules.dgramRecvEmpty, VsockRules.dgramDeliverVMCI]
        // Only the whole series carries datagrams through loopback (patches 07, 09, 12).
        if profile.dgramBindWithoutCallback == .dgramBindTable {
            rules += [VsockRules.sendLoopbackCarries, VsockRules.sendTransmittedByChooser, VsockRules.dgramDeliver,
                      VsockRules.dgramDeliverUnclear]
        }
        rules += [VsockRules.close, VsockRules.closeLingers]
        return rules
    }
}
