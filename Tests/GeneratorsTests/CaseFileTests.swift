import Generators
import Model
import Testing

@Suite("case files")
struct CaseFileTests {
    typealias VsockCase = CaseFile<VsockOperation, VsockObservation>

    @Test("a case survives writing and reading, operations and observations alike")
    func roundTrip() throws {
        let steps: [VsockCase.Step] = [
            .init(op: .loadTransport(.vhost), observed: VsockObservation(result: .value(0), refcounts: [.vhost: 0])),
            .init(op: .socket(.dgram), observed: VsockObservation(result: .value(4), refcounts: [.vhost: 1])),
            .init(op: .connect(SocketRef(0), .unspec)),
            .init(op: .sendto(SocketRef(0), SockAddrVM(cid: 3, port: 1234, flags: VMAddr.flagToHost), length: 16),
                  observed: VsockObservation(result: .failure(.invalidArgument),
                                             calls: [TransportCall(.virtio, .dgramAllow, returned: 0)],
                                             refcounts: [.vhost: 1])),
            .init(op: .getsockname(SocketRef(0)), observed: VsockObservation(result: .address(SockAddrVM(cid: 1, port: 7)))),
            .init(op: .bindLearned(SocketRef(0), cid: VMAddr.cidAny, learned: 0, offset: 1)),
            .init(op: .sendtoLearned(SocketRef(0), cid: 1, learned: 0, length: 8)),
            .init(op: .getpeername(SocketRef(0)), observed: VsockObservation(result: .failure(.socketNotConnected))),
        ]
        let original = VsockCase(header: .init(target: "vsock", profile: "vsock-dgram-v5", seed: 9,
                                               signature: DivergenceSignature(operationKind: "sendto", mismatch: .transport),
                                               system: "simulated"), steps: steps)
        let text = try original.encoded()
        #expect(text.split(separator: "\n").count == 9)
        #expect(text.contains(#""op":"bind-learned""#) && text.contains(#""learned":0"#))
        #expect(text.contains(#""op":"sendto-learned""#))
        #expect(text.contains(#""errno":"EINVAL""#))
        #expect(text.contains(#"{"flags":1,"cid":3"#) || text.contains(#""cid":3"#))
        let read = try VsockCase(decoding: text)
        #expect(read.header == original.header)
        #expect(read.steps.map(\.op) == steps.map(\.op))
        #expect(read.steps.map(\.observed) == steps.map(\.observed))
    }

    @Test("a malformed line is reported with its number")
    func malformed() throws {
        let text = """
            {"format":"checker-case/1","target":"vsock","profile":"mainline"}
            {"op":{"op":"socket","type":"SOCK_DGRAM"}}
            {"op":{"op":"frobnicate"}}
            """
        #expect(throws: CaseFileError.self) { try VsockCase(decoding: text) }
        do {
            _ = try VsockCase(decoding: text)
        } catch {
            #expect(error.line == 3)
            #expect(error.message.contains("frobnicate"))
        }
    }

    @Test("a file without a header is refused on line 1")
    func noHeader() {
        do {
            _ = try VsockCase(decoding: #"{"op":{"op":"socket","type":"SOCK_DGRAM"}}"#)
            Issue.record("decoded a case without a header")
        } catch {
            #expect(error.line == 1)
        }
    }
}
