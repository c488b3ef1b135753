/// The rules of the KVM memory-attribute model, each citing the line of Debian's 6.12.111
/// `linux-source-6.12` it comes from.
public enum MemoryAttributesRules {
    /// The tree every rule cites.
    public static let tree = "linux 6.12.111 (Debian 6.12.111-1~deb12u1)"

    static func kvm(_ line: Int, _ function: String, file: String = "virt/kvm/kvm_main.c") -> Citation {
        .source(tree: tree, file: file, line: line, function: function)
    }

    // MARK: KVM_SET_MEMORY_ATTRIBUTES validation, in the order the kernel checks

    public static let flags = Rule(
        id: "kvm.memattr.flags",
        summary: "any bit set in flags (\"currently not used\") → EINVAL, before anything else",
        source: kvm(2586, "kvm_vm_ioctl_set_mem_attributes"))
    public static let unsupported = Rule(
        id: "kvm.memattr.unsupported",
        summary: "an attribute bit outside kvm_supported_mem_attributes(kvm) → EINVAL",
        source: kvm(2588, "kvm_vm_ioctl_set_mem_attributes"))
    public static let zeroSize = Rule(
        id: "kvm.memattr.size.zero",
        summary: "size == 0 → EINVAL",
        source: kvm(2590, "kvm_vm_ioctl_set_mem_attributes"))
    public static let wrappingSize = Rule(
        id: "kvm.memattr.size.wrap",
        summary: "address + size wraps past 2^64 (address + size < address, so the last page can never be named) → EINVAL",
        source: kvm(2590, "kvm_vm_ioctl_set_mem_attributes"))
    public static let unaligned = Rule(
        id: "kvm.memattr.unaligned",
        summary: "address or size not PAGE_ALIGNED (4 KiB) → EINVAL, checked after size",
        source: kvm(2592, "kvm_vm_ioctl_set_mem_attributes"))

    // MARK: KVM_SET_MEMORY_ATTRIBUTES acceptance

    public static let noop = Rule(
        id: "kvm.memattr.ok.noop",
        summary: "every gfn of [address>>12, (address+size)>>12) already has the attributes → 0, nothing changes, no hook runs",
        source: kvm(2549, "kvm_vm_set_mem_attributes"))
    public static let stored = Rule(
        id: "kvm.memattr.ok",
        summary: "a valid request is all-or-nothing: xa_reserve every gfn, then store the attributes → 0",
        source: kvm(2567, "kvm_vm_set_mem_attributes"))
    public static let reserveFailed = Rule(
        id: "kvm.memattr.reserve.enomem",
        summary: "xa_reserve fails part-way → its error (ENOMEM), attributes unchanged",
        source: kvm(2557, "kvm_vm_set_mem_attributes"))

    // MARK: The environment: the VM, its capability, its memslots

    public static let createVM = Rule(
        id: "kvm.vm.create",
        summary: "KVM_CREATE_VM of a supported type returns a new VM fd (a VM of any other type: EINVAL)",
        source: kvm(12815, "kvm_arch_init_vm", file: "arch/x86/kvm/x86.c"))
    /// `kvm_supported_mem_attributes(NULL)`: the system-scope answer.
    public static let capabilitySystem = Rule(
        id: "kvm.memattr.cap.system",
        summary: "KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES) on /dev/kvm (kvm == NULL) → KVM_MEMORY_ATTRIBUTE_PRIVATE",
        source: kvm(2407, "kvm_supported_mem_attributes"))
    /// `kvm_supported_mem_attributes(kvm)` on a VM: taken as the environment's supported set.
    public static let capabilityVM = Rule(
        id: "kvm.memattr.cap.vm",
        summary: "KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES) on a VM fd → the VM's supported set, a subset of the known attribute bits (PRIVATE iff kvm_arch_has_private_mem)",
        source: kvm(4943, "kvm_vm_ioctl_check_extension_generic"))
    /// Where a type-0 VM's supported set comes from before anyone asks.
    public static let defaultVMHasNoPrivateMemory = Rule(
        id: "kvm.vm.default.no-private-mem",
        summary: "a KVM_X86_DEFAULT_VM (type 0) has has_private_mem = false, so it supports no memory attribute",
        source: kvm(12819, "kvm_arch_init_vm", file: "arch/x86/kvm/x86.c"))
    public static let swProtectedVMHasPrivateMemory = Rule(
        id: "kvm.vm.sw-protected.private-mem",
        summary: "a KVM_X86_SW_PROTECTED_VM (type 1) has has_private_mem = true: it supports KVM_MEMORY_ATTRIBUTE_PRIVATE",
        source: kvm(12819, "kvm_arch_init_vm", file: "arch/x86/kvm/x86.c"))
    public static let snpVMHasPrivateMemory = Rule(
        id: "kvm.vm.snp.private-mem",
        summary: "a KVM_X86_SNP_VM (type 4) has has_private_mem = true: it supports KVM_MEMORY_ATTRIBUTE_PRIVATE",
        source: kvm(5146, "svm_vm_init", file: "arch/x86/kvm/svm/svm.c"))
    public static let memslotCreate = Rule(
        id: "kvm.memslot.create",
        summary: "KVM_SET_USER_MEMORY_REGION of a new, page-aligned, non-overlapping slot backed by anonymous memory → 0",
        source: kvm(2112, "kvm_set_memory_region"))
    /// Not a decision with its own result: recorded so reports can say the memslots play no part.
    public static let noMemslotRequirement = Rule(
        id: "kvm.memattr.no-memslot-requirement",
        summary: "attributes are set in the VM's xarray whether or not a memslot covers the range; memslots only decide which MMU hooks run",
        source: kvm(2473, "kvm_handle_gfn_range"))

    /// Every rule, for inventories and reports.
    public static let all: [Rule] = [
        flags, unsupported, zeroSize, wrappingSize, unaligned, noop, stored, reserveFailed,
        createVM, capabilitySystem, capabilityVM, defaultVMHasNoPrivateMemory, swProtectedVMHasPrivateMemory,
        snpVMHasPrivateMemory,
        memslotCreate, noMemslotRequirement,
    ]
}
