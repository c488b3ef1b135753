/// The address constants of `include/uapi/linux/vm_sockets.h`.
public enum VMAddr {
    /// `VMADDR_CID_ANY`: "any context", and what virtio reports as its CID without a device.
    public static let cidAny: UInt32 = 0xFFFF_FFFF
    /// `VMADDR_CID_HYPERVISOR`.
    public static let cidHypervisor: UInt32 = 0
    /// `VMADDR_CID_LOCAL`: loopback.
    public static let cidLocal: UInt32 = 1
    /// `VMADDR_CID_HOST`.
    public static let cidHost: UInt32 = 2
    /// `VMADDR_PORT_ANY`.
    public static let portAny: UInt32 = 0xFFFF_FFFF
    /// `VMADDR_FLAG_TO_HOST`: route through the G2H transport even for CIDs above 2.
    public static let flagToHost: UInt8 = 0x01
    /// `LAST_RESERVED_PORT` (af_vsock.h): ports up to it need `CAP_NET_BIND_SERVICE`.
    public static let lastReservedPort: UInt32 = 1023

    /// `VMADDR_CID_ANY` prints as `ANY`; other CIDs as numbers.
    public static func cidName(_ cid: UInt32) -> String { cid == cidAny ? "ANY" : String(cid) }
    /// `VMADDR_PORT_ANY` prints as `ANY`.
    public static func portName(_ port: UInt32) -> String { port == portAny ? "ANY" : String(port) }
}

/// A `struct sockaddr_vm` as the operations pass it: CID, port and `svm_flags`.
///
/// `svm_family` is always `AF_VSOCK` here; the AF_UNSPEC disconnect is its own operation form.
public struct SockAddrVM: Hashable, Sendable, Codable, CustomStringConvertible {
    public var cid: UInt32
    public var port: UInt32
    public var flags: UInt8

    public init(cid: UInt32, port: UInt32, flags: UInt8 = 0) {
        self.cid = cid
        self.port = port
        self.flags = flags
    }

    /// `(ANY, ANY)`: what an unbound socket's local address and an unconnected remote hold.
    public static let any = SockAddrVM(cid: VMAddr.cidAny, port: VMAddr.portAny)

    /// `vsock_addr_validate()` refuses flags other than `VMADDR_FLAG_TO_HOST`.
    public var hasValidFlags: Bool { flags & ~VMAddr.flagToHost == 0 }

    public var description: String {
        var text = "cid=\(VMAddr.cidName(cid)) port=\(VMAddr.portName(port))"
        if flags != 0 { text += flags == VMAddr.flagToHost ? " TO_HOST" : " flags=0x\(String(flags, radix: 16))" }
        return text
    }
}
