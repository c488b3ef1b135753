import CKernelCalls
import Foundation
import Generators
import Model
import SystemPackage

/// The live kernel's `KVM_SET_MEMORY_ATTRIBUTES` as a system under test: every operation is the
/// real ioctl on `/dev/kvm` or on a VM fd, observed by its return and errno (nothing else is
/// observable on 6.12: there is no GET ioctl, and without SNP hardware the RMP probes never fire).
///
/// Needs `/dev/kvm` and a VM of the configured type. In the test VM: `modprobe kvm_amd` in a
/// guest booted with Debian's 6.12 and `--qemu-opts "-cpu EPYC"` (TCG emulates SVM).
final class LiveMemoryAttributesSystem: SystemUnderTest {
    typealias Model = MemoryAttributesModel

    let name: String
    let configuration: MemoryAttributesConfiguration
    /// The last operation's ioctl, its arguments and its result, in words, for reports.
    private(set) var lastEvidence: [String] = []
    /// Called with each operation before it runs (progress for crash reports).
    var willExecute: ((MemoryAttributesOperation) -> Void)?

    private let kvm: Int32
    private var vm: Int32 = -1
    /// A second VM held open for the system's lifetime, never used. The first VM of the host
    /// turns on `preempt_notifier_inc()` (kvm_main.c:1256) and hardware virtualization, the last
    /// one's destruction turns them off (:1367–1368): the static key is patched into `__schedule`
    /// with int3 breakpoints each time. Under TCG with 2 vCPUs, closing and recreating the only
    /// VM in a loop crashed 6.12 within seconds ("Oops: int3" in `__schedule`, a kworker, measured
    /// in the test VM). With this VM open, resets never bring the count to zero.
    private var keeper: Int32 = -1
    /// Anonymous memory backing each added memslot, unmapped when the VM closes.
    private var backing: [(address: UnsafeMutableRawPointer, size: Int)] = []

    static let fix = "modprobe kvm_amd (or kvm_intel); in the test VM boot the 6.12 kernel with --qemu-opts '-cpu EPYC'"

    init(configuration: MemoryAttributesConfiguration = MemoryAttributesConfiguration()) throws {
        self.configuration = configuration
        // The numbers this binary was compiled with must be the model's (the C file also
        // asserts the struct layout at compile time).
        let compiled = UInt64(kcc_kvm_set_memory_attributes_number())
        guard compiled == KVMMemoryAttributesABI.setMemoryAttributes,
              UInt64(kcc_kvm_set_user_memory_region_number()) == KVMMemoryAttributesABI.setUserMemoryRegion else {
            throw SystemError.unavailable(String(format:
                "KVM_SET_MEMORY_ATTRIBUTES compiled as %#llx, the model states %#llx", compiled,
                KVMMemoryAttributesABI.setMemoryAttributes))
        }
        let fd = kcc_kvm_open()
        guard fd >= 0 else {
            throw SystemError.unavailable("cannot open /dev/kvm: \(Errno(rawValue: errno).symbol); \(Self.fix)")
        }
        kvm = fd
        var release = utsname()
        uname(&release)
        let kernel = withUnsafeBytes(of: &release.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        name = "live kernel \(kernel) (/dev/kvm, VM type \(configuration.vmType))"
        do {
            keeper = kcc_kvm_create_vm(kvm, UInt(configuration.vmType))
            guard keeper >= 0 else {
                let error = Errno(rawValue: errno)
                throw SystemError.unavailable("KVM_CREATE_VM(\(configuration.vmType)) failed: \(error.symbol); \(Self.fix)")
            }
            // The feature itself: kernels before 6.8 lack the ioctl, newer ones may gate it
            // (research/snp.md §2.2: a vm_memory_attributes module parameter; the project's
            // 6.18 host answers ENOTTY). That is a skip, never a divergence of the model.
            if kcc_kvm_set_memory_attributes(keeper, 0, 4096, 0, 0) < 0 && errno == ENOTTY {
                throw SystemError.unavailable("KVM_SET_MEMORY_ATTRIBUTES is not available on \(kernel) (ENOTTY): it needs CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES (6.8+) and may be switched off; the model states 6.12's ioctl")
            }
            try createVM()
        } catch {
            if keeper >= 0 { close(keeper) }
            close(kvm)
            throw error
        }
    }

    deinit {
        closeVM()
        if keeper >= 0 { close(keeper) }
        close(kvm)
    }

    /// A fresh VM: the old one closed, its memslots' memory unmapped.
    func reset() throws {
        closeVM()
        try createVM()
    }

    func execute(_ operation: MemoryAttributesOperation) throws -> MemoryAttributesObservation {
        willExecute?(operation)
        switch operation {
        case .createVM:
            closeVM()
            let result = kcc_kvm_create_vm(kvm, UInt(configuration.vmType))
            let observation = observe(result, "ioctl(/dev/kvm, KVM_CREATE_VM, \(configuration.vmType))")
            if result >= 0 { vm = result }
            return observation
        case let .checkExtension(scope):
            let fd = scope == .system ? kvm : vm
            return observe(kcc_kvm_check_extension(fd, Int(KVMMemoryAttributesABI.capMemoryAttributes)),
                           "ioctl(\(scope == .system ? "/dev/kvm" : "vm"), KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES=\(KVMMemoryAttributesABI.capMemoryAttributes))")
        case let .addMemslot(index):
            let slot = Memslot.layout[index]
            let size = Int(slot.size)
            let memory = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            guard let memory, memory != MAP_FAILED else {
                throw SystemError.unreliable("mmap of \(size) bytes for \(slot): \(Errno(rawValue: errno).symbol)")
            }
            let result = kcc_kvm_set_user_memory_region(vm, slot.slot, 0, slot.guestPhysicalAddress, slot.size,
                                                        UInt64(UInt(bitPattern: memory)))
            let observation = observe(result, String(format:
                "ioctl(vm, KVM_SET_USER_MEMORY_REGION, {slot=%u flags=0 guest_phys_addr=%#llx memory_size=%#llx userspace_addr=%#lx})",
                slot.slot, slot.guestPhysicalAddress, slot.size, UInt(bitPattern: memory)))
            if result == 0 { backing.append((memory, size)) } else { munmap(memory, size) }
            return observation
        case let .setAttributes(request):
            let result = kcc_kvm_set_memory_attributes(vm, request.address, request.size, request.attributes, request.flags)
            return observe(result, String(format:
                "ioctl(vm, KVM_SET_MEMORY_ATTRIBUTES=%#lx, {address=%#llx size=%#llx attributes=%#llx flags=%#llx})",
                kcc_kvm_set_memory_attributes_number(), request.address, request.size, request.attributes, request.flags))
        }
    }

    /// Records the call and what it returned; reads errno before anything else can change it.
    private func observe(_ result: Int32, _ call: String) -> MemoryAttributesObservation {
        let error = errno
        let observation = MemoryAttributesObservation(ioctlReturn: Int64(result), errno: error)
        lastEvidence = ["\(call) = \(result)\(result < 0 ? " \(Errno(rawValue: error).symbol) (\(error))" : "")"]
        return observation
    }

    private func createVM() throws {
        let result = kcc_kvm_create_vm(kvm, UInt(configuration.vmType))
        guard result >= 0 else {
            let error = Errno(rawValue: errno)
            throw SystemError.unavailable("KVM_CREATE_VM(\(configuration.vmType)) failed: \(error.symbol); \(Self.fix)")
        }
        vm = result
    }

    private func closeVM() {
        if vm >= 0 { close(vm) }
        vm = -1
        for region in backing { munmap(region.address, region.size) }
        backing = []
    }
}
