#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Probes

@Suite("libbpf error funnel")
struct LibbpfResultTests {
    @Test("a non-negative int return passes through")
    func successPassesThrough() {
        #expect(valueOrLibbpfErrno { 0 } == .success(0))
        #expect(valueOrLibbpfErrno { 7 } == .success(7))
    }

    @Test("-1 → EPERM")
    func minusOneIsEPERM() throws {
        let result = valueOrLibbpfErrno { -1 }
        #expect(result == .failure(.notPermitted))
        guard case .failure(let error) = result else { return }
        #expect(error.symbol == "EPERM")
        #expect(error.rawValue == EPERM)
        #expect(error.message == "Operation not permitted")
        #expect(error.description == "EPERM (Operation not permitted)")
    }

    @Test("-EINVAL → EINVAL")
    func minusEINVALIsEINVAL() {
        #expect(valueOrLibbpfErrno { -EINVAL } == .failure(.invalidArgument))
        #expect(LibbpfErrno.invalidArgument.symbol == "EINVAL")
    }

    @Test("Int32.min does not trap")
    func minimumIsTotal() {
        #expect(valueOrLibbpfErrno { .min } == .failure(LibbpfErrno(rawValue: .max)))
    }

    @Test("NULL with errno set → that errno")
    func nullReadsErrno() {
        let result: Result<OpaquePointer, LibbpfErrno> = pointerOrLibbpfErrno {
            errno = ENOENT
            return nil
        }
        #expect(result == .failure(.noSuchFileOrDirectory))
    }

    @Test("NULL without errno → LIBBPF_ERRNO__INTERNAL, never success")
    func nullWithoutErrnoIsStillAnError() {
        let result: Result<OpaquePointer, LibbpfErrno> = pointerOrLibbpfErrno { nil }
        #expect(result == .failure(.libbpfInternal))
        #expect(LibbpfErrno.libbpfInternal.symbol == "LIBBPF_ERRNO__INTERNAL")
    }

    @Test("a non-NULL pointer passes through, whatever errno says")
    func pointerPassesThrough() {
        let pointer = OpaquePointer(bitPattern: 0x1000)!
        let result: Result<OpaquePointer, LibbpfErrno> = pointerOrLibbpfErrno {
            errno = EAGAIN
            return pointer
        }
        #expect(result == .success(pointer))
    }

    @Test("symbols: kernel ENOTSUPP, libbpf codes, unknown numbers")
    func symbols() {
        #expect(LibbpfErrno.kernelNotSupported.symbol == "ENOTSUPP")
        #expect(LibbpfErrno.notSupported.symbol == "EOPNOTSUPP")
        #expect(LibbpfErrno.libbpfFormat.rawValue == 4001)
        #expect(LibbpfErrno.libbpfFormat.symbol == "LIBBPF_ERRNO__FORMAT")
        #expect(LibbpfErrno(rawValue: 4007).symbol == "LIBBPF_ERRNO__VERIFY")
        #expect(LibbpfErrno(rawValue: 3999).symbol == "errno 3999")
    }

    @Test("ProbeError names the stage and keeps the errno")
    func probeErrorNamesTheStage() {
        let error = ProbeError.attach(program: "probe_sendmsg", errno: .notPermitted)
        #expect(error.errno == .notPermitted)
        #expect(error.description == "attach probe_sendmsg: EPERM (Operation not permitted)")
        #expect(ProbeError.load(program: "p", errno: .permissionDenied).description
                    .hasPrefix("load p: EACCES"))
    }
}
