/// The rules of the SNP memory attribute model, each with the hunk it comes from.
///
/// The model states what "KVM: SVM: Add SNP-specific handling for memory attribute updates"
/// (v8 48/56) *intends*: its commit message ("RMP table updates ... needed for page state
/// conversions requested by userspace") and the comments in its code, not its loop. Where the
/// intent is unclear the rule says so and allows every outcome it could mean.
public enum SNPRules {
    static let series = "snp-v8"
    static let sevC = "arch/x86/kvm/svm/sev.c"
    static let updateHunk = "@@ -4373,3 +4398,104 @@"
    static let sharedHunk = "@@ -3381,6 +3381,31 @@"

    static func seed(_ hunk: String, _ function: String) -> Citation {
        .hunk(series: series, patch: 48, file: sevC, hunk: hunk, function: function)
    }

    public static let setup = Rule(
        id: "snp.setup",
        summary: "Setup operations (memslot, folios, RMP pre-states) are the environment: both sides apply them alike.",
        source: seed(updateHunk, "sev_update_mem_attr"))

    public static let nonSNP = Rule(
        id: "snp.attr.non-snp",
        summary: "A VM that is not an SNP guest: nothing changes, the hook returns 0 (`if (!sev_snp_guest(slot->kvm)) return 0;`).",
        source: seed(updateHunk, "sev_update_mem_attr"))

    public static let notPrivateSlot = Rule(
        id: "snp.attr.not-private-slot",
        summary: "A memslot that cannot be private: nothing changes, -EPERM (`if (!kvm_slot_can_be_private(slot)) ... return -EPERM;`).",
        source: seed(updateHunk, "sev_update_mem_attr"))

    public static let toPrivate = Rule(
        id: "snp.attr.private",
        summary: "PRIVATE: afterwards every gfn in [start, end) with a backing page has that page assigned to the VM's ASID at the gfn's GPA (`rmp_make_private(pfn, gpa, level, sev->asid, false)`, for every gfn of the range).",
        source: seed(updateHunk, "sev_update_mem_attr"))

    public static let toShared = Rule(
        id: "snp.attr.shared",
        summary: "Shared: afterwards every gfn in [start, end) with a backing page has that page unassigned (`snp_make_page_shared`); a page that is not assigned is left alone (`if (!rc) return 0;`).",
        source: seed(sharedHunk, "snp_make_page_shared"))

    public static let unbacked = Rule(
        id: "snp.attr.unbacked",
        summary: "A gfn without a backing page is skipped, never an error (`kvm_restrictedmem_get_pfn` fails: `gfn++; continue;`).",
        source: seed(updateHunk, "sev_update_mem_attr"))

    public static let split = Rule(
        id: "snp.attr.split",
        summary: "A 4K change inside a 2M RMP entry splits it first (PSMASH); pages outside the range keep their owner and GPA, only their page size may change (\"Split the 2MB into multiple of 4K-page before making the memory shared\").",
        source: seed(sharedHunk, "snp_make_page_shared"))

    public static let rmpFailure = Rule(
        id: "snp.attr.rmp-failure",
        summary: "An RMP operation that fails stops the update with -EINVAL; gfns before it stay converted, it and the rest are unchanged (`if (rc) { ... return -EINVAL; }`). A page that RMPUPDATE must refuse (immutable) is such a failure.",
        source: seed(updateHunk, "sev_update_mem_attr"))

    public static let foreign = Rule(
        id: "snp.attr.foreign",
        summary: "A page assigned to another ASID, or an immutable page already in the requested state: the patch does not say whether it may be taken over or must be looked at first. Unclear intent: converted (or left), or refused with -EINVAL there, are both allowed.",
        source: seed(updateHunk, "sev_update_mem_attr"))

    public static let references = Rule(
        id: "snp.attr.references",
        summary: "Every page reference `kvm_restrictedmem_get_pfn` takes is dropped (`put_page(pfn_to_page(pfn))` each iteration).",
        source: seed(updateHunk, "sev_update_mem_attr"))

    public static let ioctlDiscardsResult = Rule(
        id: "snp.ioctl.result-discarded",
        summary: "KVM_SET_MEMORY_ATTRIBUTES returns 0 whatever the hook returns: kvm_arch_post_set_memory_attributes only warns (`if (ret) pr_warn_ratelimited(...)`).",
        source: .hunk(series: series, patch: 2, file: "arch/x86/kvm/mmu/mmu.c", hunk: "kvm_arch_post_set_memory_attributes",
                      function: "kvm_arch_post_set_memory_attributes"))

    public static let all: [Rule] = [setup, nonSNP, notPrivateSlot, toPrivate, toShared, unbacked, split, rmpFailure,
                                     foreign, references, ioctlDiscardsResult]
}
