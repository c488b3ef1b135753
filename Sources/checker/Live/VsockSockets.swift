import CKernelCalls
import Foundation
import Model
import SystemPackage

/// The socket syscalls of a vsock operation, with `struct sockaddr_vm` from
/// `<linux/vm_sockets.h>`. Every socket is non-blocking (`SOCK_NONBLOCK`): a connect returns
/// EINPROGRESS instead of waiting for a peer, and a send never waits for buffer space.
enum VsockSockets {
    static let addressFamily: Int32 = 40  // AF_VSOCK

    static func socket(_ type: SocketType) -> SyscallResult {
        let descriptor = Glibc.socket(addressFamily, type.cValue | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        return descriptor >= 0 ? .value(Int(descriptor)) : failure()
    }

    static func bind(_ descriptor: Int32, _ address: SockAddrVM) -> SyscallResult {
        withSockaddr(family: addressFamily, address) { Glibc.bind(descriptor, $0, $1) == 0 ? .value(0) : failure() }
    }

    static func connect(_ descriptor: Int32, _ target: ConnectTarget) -> SyscallResult {
        switch target {
        case let .address(address):
            return withSockaddr(family: addressFamily, address) {
                Glibc.connect(descriptor, $0, $1) == 0 ? .value(0) : failure()
            }
        case .unspec:
            // A full-length sockaddr_vm whose family is AF_UNSPEC: vsock's disconnect.
            return withSockaddr(family: 0, .any) { Glibc.connect(descriptor, $0, $1) == 0 ? .value(0) : failure() }
        }
    }

    /// Sends `length` bytes tagged `tag` (``DatagramPayload``).
    static func sendto(_ descriptor: Int32, _ address: SockAddrVM, length: Int, tag: UInt32) -> SyscallResult {
        let payload = DatagramPayload.bytes(tag: tag, length: length)
        return withSockaddr(family: addressFamily, address) { pointer, size in
            let sent = payload.withUnsafeBytes { Glibc.sendto(descriptor, $0.baseAddress, length, Int32(MSG_DONTWAIT), pointer, size) }
            return sent >= 0 ? .value(sent) : failure()
        }
    }

    static func send(_ descriptor: Int32, length: Int, tag: UInt32) -> SyscallResult {
        let payload = DatagramPayload.bytes(tag: tag, length: length)
        let sent = payload.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, length, Int32(MSG_DONTWAIT)) }
        return sent >= 0 ? .value(sent) : failure()
    }

    /// `recvmsg(MSG_DONTWAIT)` into `buffer` bytes, with `msg_name` when `source` (recvfrom).
    static func recv(_ descriptor: Int32, buffer: Int, source: Bool) -> SyscallResult {
        var storage = [UInt8](repeating: 0, count: max(buffer, 1))
        var address = sockaddr_vm()
        var message = msghdr()
        let received: Int = storage.withUnsafeMutableBytes { bytes in
            var vector = iovec(iov_base: bytes.baseAddress, iov_len: buffer)
            return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                withUnsafeMutablePointer(to: &address) { addressPointer in
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    if source {
                        message.msg_name = UnsafeMutableRawPointer(addressPointer)
                        message.msg_namelen = socklen_t(MemoryLayout<sockaddr_vm>.size)
                    }
                    return Glibc.recvmsg(descriptor, &message, Int32(MSG_DONTWAIT))
                }
            }
        }
        guard received >= 0 else { return failure() }
        let (head, intact) = storage.withUnsafeBytes { DatagramPayload.inspect(UnsafeRawBufferPointer(rebasing: $0.prefix(received))) }
        return .received(ReceivedDatagram(
            copied: received, truncated: message.msg_flags & Int32(MSG_TRUNC) != 0, head: head, intact: intact,
            source: source ? SockAddrVM(cid: address.svm_cid, port: address.svm_port, flags: address.svm_flags) : nil))
    }

    static func getsockname(_ descriptor: Int32) -> SyscallResult {
        name(of: descriptor, by: Glibc.getsockname)
    }

    static func getpeername(_ descriptor: Int32) -> SyscallResult {
        name(of: descriptor, by: Glibc.getpeername)
    }

    /// `getsockname()` or `getpeername()` into a `sockaddr_vm`.
    private static func name(of descriptor: Int32,
                             by call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32)
        -> SyscallResult {
        var address = sockaddr_vm()
        var size = socklen_t(MemoryLayout<sockaddr_vm>.size)
        let status = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(descriptor, $0, &size) }
        }
        guard status == 0 else { return failure() }
        return .address(SockAddrVM(cid: address.svm_cid, port: address.svm_port, flags: address.svm_flags))
    }

    static func close(_ descriptor: Int32) -> SyscallResult {
        Glibc.close(descriptor) == 0 ? .value(0) : failure()
    }

    private static func failure() -> SyscallResult { .failure(Errno(rawValue: errno)) }

    private static func withSockaddr<T>(family: Int32, _ address: SockAddrVM,
                                        _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var raw = sockaddr_vm()
        raw.svm_family = sa_family_t(family)
        raw.svm_cid = address.cid
        raw.svm_port = address.port
        raw.svm_flags = address.flags
        return withUnsafePointer(to: &raw) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_vm>.size)) }
        }
    }
}
