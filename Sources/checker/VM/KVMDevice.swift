import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The first, in-process look at whether KVM can run the test VM: the device itself. Cheap
/// (three syscalls) and precise about what is wrong: no device, no permission, a file that is
/// not a KVM device, an API QEMU does not speak, or a KVM that refuses to create a VM.
///
/// Passing it is not enough: on the project's machines `/dev/kvm` opens, reports API 12 and
/// creates VMs and vCPUs, yet QEMU dies setting the vCPU's MSRs (``KVMBootProbe`` tries that).
enum KVMDevice {
    static let defaultPath = "/dev/kvm"

    /// The only KVM API version there has ever been (`KVM_API_VERSION`); QEMU refuses any other.
    static let apiVersion: CInt = 12

    /// `_IO(KVMIO, 0x00)` and `_IO(KVMIO, 0x01)` with `KVMIO` 0xAE (`<linux/kvm.h>`).
    static let getAPIVersionRequest: UInt = 0xAE00
    static let createVMRequest: UInt = 0xAE01

    /// Why the device at `path` cannot run a VM, or nil when it opens, speaks API 12 and creates
    /// one. The answer names the failing step and, where there is one, the fix.
    static func problem(at path: String) -> String? {
        let device = open(path, O_RDWR | O_CLOEXEC)
        guard device >= 0 else {
            let error = errno
            switch error {
            case ENOENT: return "absent (no KVM on this machine, or not passed into this container)"
            case EACCES, EPERM: return "permission denied (add yourself to the kvm group, or run as root)"
            default: return "cannot be opened: \(describe(error))"
            }
        }
        defer { close(device) }
        let version = ioctl(device, getAPIVersionRequest)
        guard version >= 0 else { return "not a KVM device (KVM_GET_API_VERSION: \(describe(errno)))" }
        guard version == apiVersion else { return "KVM API version \(version), QEMU needs \(apiVersion)" }
        // Machine type 0, the default, as QEMU's x86 machines ask for.
        let vm = ioctl(device, createVMRequest, CInt(0))
        guard vm >= 0 else { return "KVM_CREATE_VM failed: \(describe(errno))" }
        close(vm)
        return nil
    }

    private static func describe(_ error: CInt) -> String { String(cString: strerror(error)) }
}
