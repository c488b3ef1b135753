import Foundation
import Probes

/// Which kernel functions the SNP trace probes, what each reports, where it comes from, and why
/// a kernel may lack it.
///
/// Mechanism, per function: fentry/fexit first (arguments typed, the return value in fexit, no
/// kprobe needed), else kprobe/kretprobe (`bpf/snp.bpf.c`, the kprobe fallback saves the
/// arguments at entry for the return). Unlike the vsock probes, fentry on module functions is
/// fine here: a trampoline pins kvm/kvm_amd while attached, and nothing in an SNP trace counts
/// module references.
///
/// Two groups:
/// - the v8 series' policy point and the lookup it makes per gfn: present only in a kernel built
///   from that series (`sev_update_mem_attr`, `kvm_restrictedmem_get_pfn`);
/// - mainline 6.11+: the guest_memfd hooks of kvm_amd that decide RMP changes, the RMP helpers
///   of vmlinux that make them, and the attribute hook of kvm that records what user space asked.
struct SNPProbeTable {
    struct Entry: Sendable {
        let function: SNPFunction
        /// The module that holds the function on a kernel that has it; `nil` for vmlinux.
        let module: String?
        /// Where the signature comes from.
        let source: String
        /// What the probe reports.
        let reports: String
        /// Why a kernel may lack it, completing "not in /proc/kallsyms: …".
        let absence: String
        /// Whether it decides RMP changes (a policy function) or makes them (an RMP helper):
        /// either one firing is SNP activity.
        let isSNPActivity: Bool
    }

    static let entries: [Entry] = [
        Entry(function: .updateMemAttr, module: "kvm_amd",
              source: "v8 48/56 arch/x86/kvm/svm/sev.c @@ -4373,3 +4398,104 @@: int sev_update_mem_attr(struct kvm_memory_slot *slot, unsigned int attr, gfn_t start, gfn_t end)",
              reports: "entry: slot id, base_gfn, npages, attr, start, end; return: the result (its caller only warns on failure)",
              absence: "sev_update_mem_attr is added by the v8 SNP series, absent on mainline",
              isSNPActivity: true),
        Entry(function: .getPFN, module: "kvm",
              source: "called by sev_update_mem_attr (v8 48/56); defined by the series' UPM/restrictedmem base tree: int kvm_restrictedmem_get_pfn(struct kvm_memory_slot *slot, gfn_t gfn, kvm_pfn_t *pfn, int *order)",
              reports: "return: gfn, *pfn, *order, the result",
              absence: "kvm_restrictedmem_get_pfn belongs to the restrictedmem base of the v8 SNP series, absent on mainline (guest_memfd replaced it)",
              isSNPActivity: false),
        Entry(function: .rmpMakePrivate, module: nil,
              source: "6.12 arch/x86/virt/svm/sev.c:532: int rmp_make_private(u64 pfn, u64 gpa, enum pg_level level, u32 asid, bool immutable) (v8: int asid)",
              reports: "return: pfn, gpa, level, asid, immutable, the result",
              absence: "rmp_make_private is in vmlinux from 6.9 with CONFIG_KVM_AMD_SEV (arch/x86/virt/svm/sev.c); this kernel lacks it",
              isSNPActivity: true),
        Entry(function: .rmpMakeShared, module: nil,
              source: "6.12 arch/x86/virt/svm/sev.c:548: int rmp_make_shared(u64 pfn, enum pg_level level)",
              reports: "return: pfn, level, the result",
              absence: "rmp_make_shared is in vmlinux from 6.9 with CONFIG_KVM_AMD_SEV (arch/x86/virt/svm/sev.c); this kernel lacks it",
              isSNPActivity: true),
        Entry(function: .psmash, module: nil,
              source: "6.12 arch/x86/virt/svm/sev.c:390: int psmash(u64 pfn)",
              reports: "return: pfn, the result",
              absence: "psmash is in vmlinux from 6.9 with CONFIG_KVM_AMD_SEV (arch/x86/virt/svm/sev.c); this kernel lacks it",
              isSNPActivity: true),
        Entry(function: .gmemPrepare, module: "kvm_amd",
              source: "6.12 arch/x86/kvm/svm/sev.c:4975: int sev_gmem_prepare(struct kvm *kvm, kvm_pfn_t pfn, gfn_t gfn, int max_order), the gmem_prepare op (svm.c:5296)",
              reports: "entry: pfn, gfn, max_order; return: the result",
              absence: "sev_gmem_prepare is in kvm_amd from 6.11",
              isSNPActivity: true),
        Entry(function: .gmemInvalidate, module: "kvm_amd",
              source: "6.12 arch/x86/kvm/svm/sev.c:5022: void sev_gmem_invalidate(kvm_pfn_t start, kvm_pfn_t end), the gmem_invalidate op (svm.c:5297), called from guest_memfd's free_folio (virt/kvm/guest_memfd.c:372)",
              reports: "entry: start and end pfn; return",
              absence: "sev_gmem_invalidate is in kvm_amd from 6.11",
              isSNPActivity: true),
        Entry(function: .postSetMemoryAttributes, module: "kvm",
              source: "6.12 arch/x86/kvm/mmu/mmu.c:7721: bool kvm_arch_post_set_memory_attributes(struct kvm *kvm, struct kvm_gfn_range *range), the post_set_range handler (virt/kvm/kvm_main.c:2536)",
              reports: "entry: range->start, range->end, range->arg.attributes (one memslot's part of a KVM_SET_MEMORY_ATTRIBUTES that changed attributes)",
              absence: "kvm_arch_post_set_memory_attributes is in kvm from 6.8 with CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES",
              isSNPActivity: false),
    ]

    static func entry(for function: SNPFunction) -> Entry {
        entries.first { $0.function == function }!
    }

    /// The completion of "not in /proc/kallsyms: …" for a function this kernel lacks: its
    /// module is not loaded, or the kernel does not have it.
    static func absence(of entry: Entry, loadedModules: Set<String>) -> String {
        if let module = entry.module, !loadedModules.contains(module) {
            return "\(entry.function.name) is in \(module), which is not loaded (\(entry.absence))"
        }
        return entry.absence
    }

    /// The modules loaded now, from /sys/module.
    static func loadedModules(sysModule: String = "/sys/module") -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: sysModule)) ?? [])
    }
}
