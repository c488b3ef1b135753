extension VsockModel {
    /// `vsock.dgram.send.transmitted-by-chooser`, judged on what the probes on each transport's
    /// `send_pkt` saw, once a branch has admitted the result: the syscall can look right while
    /// the packet left through another transport than the one that accepted it (finding 1's
    /// silent variant, docs/vsock-dgram-v5.md). Only under the whole series, whose virtio family
    /// carries datagrams (patches 07, 11-13); only for datagram sends; nothing where the
    /// transmissions were not observed.
    func transmissionMismatch(_ observation: VsockObservation, of operation: VsockOperation,
                              in state: VsockState) -> Mismatch? {
        guard profile.dgramBindWithoutCallback == .dgramBindTable,
              let transmissions = observation.transmissions else { return nil }
        switch operation {
        case let .sendto(ref, _, _), let .sendtoLearned(ref, _, _, _), let .send(ref, _):
            guard state.sockets[ref.position].type == .dgram else { return nil }
        default:
            return nil
        }
        let rule = VsockRules.sendTransmittedByChooser.id
        let sentBy = transmissions.map { "\($0.shortName).send_pkt" }.joined(separator: ", ")
        guard let enqueue = observation.calls.last(where: { $0.hook == .dgramEnqueue }) else {
            guard transmissions.isEmpty else {
                return Mismatch(kind: .transmission, detail:
                    "no transport accepted the datagram, yet \(sentBy) ran; observed \(observation) [\(rule)]")
            }
            return nil
        }
        if let stranger = transmissions.first(where: { $0 != enqueue.transport }) {
            return Mismatch(kind: .transmission, detail:
                "\(enqueue) accepted the datagram, but \(stranger.shortName).send_pkt sent it; observed \(observation) [\(rule)]")
        }
        if enqueue.transport.isVirtioFamily, enqueue.returned >= 0, transmissions.count != 1 {
            return Mismatch(kind: .transmission, detail:
                "\(enqueue) accepted the datagram, which was put on the wire \(transmissions.count) times; observed \(observation) [\(rule)]")
        }
        return nil
    }
}
