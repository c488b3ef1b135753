import CLibBPF
import Testing
@testable import Probes

@Suite("event decoding")
struct EventDecodingTests {
    let specs = [
        ProbeSpec(function: "vsock_dgram_sendmsg", flags: .arg0IsSocket),
        ProbeSpec(function: "vmci_transport_dgram_allow"),
        ProbeSpec(function: "vsock_assign_transport", flags: .reportTransportAfterReturn),
    ]

    /// A record as the BPF program writes it, through raw bytes like the ring buffer's.
    func record(type: kcc_event_type, cookie: UInt64, ret: Int64 = 0, args: [UInt64] = [0, 0, 0, 0],
                tid: UInt32 = 4242, module: String = "") -> [UInt8] {
        var event = kcc_event()
        event.timestamp_ns = 123_456_789
        event.cookie = cookie
        event.ret = ret
        event.args = (args[0], args[1], args[2], args[3])
        event.tid = tid
        event.type = type.rawValue
        withUnsafeMutableBytes(of: &event.module) { buffer in
            for (offset, byte) in module.utf8.prefix(buffer.count).enumerated() {
                buffer[offset] = byte
            }
        }
        return withUnsafeBytes(of: &event) { Array($0) }
    }

    func decode(_ bytes: [UInt8]) -> ProbeEvent? {
        let raw = bytes.withUnsafeBytes { EventDecoder.record(from: $0) }
        return raw.flatMap { EventDecoder(specs: specs).decode($0) }
    }

    @Test("cookie round trip: index in the low 32 bits, flags from bit 32")
    func cookieRoundTrip() {
        let cookie = ProbeCookie(index: 7, flags: [.arg0IsSocket, .reportTransportAfterReturn])
        #expect(cookie.rawValue == 7 | (6 << 32))
        #expect(ProbeCookie(rawValue: cookie.rawValue) == cookie)
    }

    @Test("a call: cookie → spec, four arguments, module name as a C string")
    func call() throws {
        let cookie = ProbeCookie(index: 0, flags: .arg0IsSocket).rawValue
        let event = try #require(decode(record(type: KCC_CALL, cookie: cookie,
                                               args: [0xffff_8880_0000_1000, 2, 3, 4],
                                               module: "vmw_vsock_vmci_transport")))
        #expect(event.kind == .call)
        #expect(event.function == "vsock_dgram_sendmsg")
        #expect(event.spec == specs[0])
        #expect(event.args == [0xffff_8880_0000_1000, 2, 3, 4])
        #expect(event.module == "vmw_vsock_vmci_transport")
        #expect(event.tid == 4242)
        #expect(event.timestamp == 123_456_789)
        #expect(event.returned == 0)
    }

    @Test("a bool return: only the low byte of rax is defined")
    func boolReturn() throws {
        // `mov $1, %al` leaves the rest of rax as it was.
        let event = try #require(decode(record(type: KCC_RETURN, cookie: 1, ret: 0x7f3a_0001)))
        #expect(event.kind == .return)
        #expect(event.function == "vmci_transport_dgram_allow")
        #expect(event.returnedBool)
        #expect(event.args.isEmpty)
        let no = try #require(decode(record(type: KCC_RETURN, cookie: 1, ret: 0x7f3a_0100)))
        #expect(!no.returnedBool)
    }

    @Test("an int return: -EHOSTUNREACH in eax, upper half zero")
    func intReturn() throws {
        let event = try #require(decode(record(type: KCC_RETURN, cookie: 0, ret: 0xffff_ff8f)))
        #expect(event.returned == 4_294_967_183)
        #expect(event.returnedInt32 == -113)
        #expect(event.description == "return vsock_dgram_sendmsg = -113")
    }

    @Test("module_put: no spec, the dropped module's name")
    func modulePut() throws {
        let event = try #require(decode(record(type: KCC_MODULE_PUT, cookie: 0,
                                               module: "vmw_vsock_vmci_transport")))
        #expect(event.kind == .modulePut)
        #expect(event.function == nil)
        #expect(event.spec == nil)
        #expect(event.module == "vmw_vsock_vmci_transport")
    }

    @Test("a 56-byte name without NUL is read whole, never past the field")
    func nameWithoutTerminator() throws {
        let long = String(repeating: "m", count: 60)
        let event = try #require(decode(record(type: KCC_RETURN, cookie: 2, module: long)))
        #expect(event.module == String(repeating: "m", count: 56))
    }

    @Test("undecodable: unknown type, a cookie naming no spec, a record of the wrong size")
    func undecodable() {
        #expect(decode(record(type: kcc_event_type(rawValue: 9), cookie: 0)) == nil)
        #expect(decode(record(type: KCC_CALL, cookie: 3)) == nil)
        #expect(decode(Array(record(type: KCC_CALL, cookie: 0).dropLast())) == nil)
    }
}
