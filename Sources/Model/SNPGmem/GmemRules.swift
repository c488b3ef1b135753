/// The rules of the guest_memfd SNP model, each with its source.
///
/// The model states what mainline's SNP guest_memfd hooks *intend*, from, in this order: the
/// comments of guest_memfd and of the hooks where they state the design, the callers' contract
/// (what guest_memfd does with a prepared folio, what the MMU does with a level), and the
/// project's research notes on the same code (../shared/docs/research/snp.md §2.3). The commits'
/// own messages ("KVM: SEV: Implement gmem hook for ...", Michael Roth, 2024) were not reachable
/// from this machine (docs/snp-gmem.md says where it looked). Rules about orders above 0 are the
/// large-folio world: 6.12 allocates only order-0 folios (guest_memfd.c:101).
public enum GmemRules {
    static let tree = "linux-6.12.111"
    static let sevC = "arch/x86/kvm/svm/sev.c"
    static let gmemC = "virt/kvm/guest_memfd.c"

    static func sev(_ line: Int, _ function: String) -> Citation { .source(tree: tree, file: sevC, line: line, function: function) }
    static func gmem(_ line: Int, _ function: String) -> Citation { .source(tree: tree, file: gmemC, line: line, function: function) }

    public static let setup = Rule(
        id: "gmem.setup",
        summary: "Setup operations (memslot, folios, RMP pre-states) are the environment: both sides apply them alike.",
        source: gmem(99, "kvm_gmem_get_folio"))

    public static let prepareNonSNP = Rule(
        id: "gmem.prepare.non-snp",
        summary: "A VM that is not an SNP guest owns nothing in the RMP: a fault changes no RMP entry and the hook returns 0 (`if (!sev_snp_guest(kvm)) return 0;`).",
        source: sev(4983, "sev_gmem_prepare"))

    public static let preparePrivate = Rule(
        id: "gmem.prepare.private",
        summary: "After a fault the page backing the faulted gfn, if it was unassigned, is assigned to the VM's ASID at that gfn's GPA, and the fault succeeds (0): guest_memfd prepares the folio \"so that the guest can use it\" and KVM then maps the gfn private.",
        source: gmem(51, "kvm_gmem_prepare_folio"))

    public static let prepareAssigned = Rule(
        id: "gmem.prepare.assigned",
        summary: "A page of the folio that is already assigned (to this VM, another ASID, or immutable) is left exactly as it is; the fault still returns 0 (\"already assigned\": return 0).",
        source: sev(4994, "sev_gmem_prepare"))

    public static let prepareWholeFolio = Rule(
        id: "gmem.prepare.whole-folio",
        summary: "Large-folio world: one fault prepares the whole folio, so every unassigned page of it ends assigned to the VM at its own gfn's GPA: guest_memfd marks the folio prepared as a whole (kvm_gmem_mark_prepared) and never calls the hook for it again (`if (!is_prepared)`, :643); \"Preparing huge folios should always be safe\" (:68); the Dec-2024 RFC 20241212063635.712877-5 makes sev_gmem_prepare cover every shared sub-range of a large folio (research/snp.md §2.3).",
        source: gmem(85, "kvm_gmem_prepare_folio"))

    public static let prepareHugeEntry = Rule(
        id: "gmem.prepare.huge-entry",
        summary: "A new 2M RMP entry only over a 2M-aligned pfn range that lies wholly in the folio (order >= 9) and was wholly unassigned (\"If this is a large folio, and the entire 2M range containing the PFN is currently shared, then the entire 2M-aligned range can be set to private via a single 2M RMP entry\").",
        source: sev(4964, "is_large_rmp_possible"))

    public static let prepareOthers = Rule(
        id: "gmem.prepare.others",
        summary: "Pages outside the faulted folio (other folios, other VMs' pages) keep their RMP entry: owner, ASID, GPA and page size. The hook is handed one folio (`kvm_arch_gmem_prepare(kvm, gfn, pfn, folio_order(folio))`).",
        source: gmem(34, "__kvm_gmem_prepare_folio"))

    public static let invalidateShared = Rule(
        id: "gmem.invalidate.shared",
        summary: "Every page of the freed range that this VM owned is hypervisor-owned afterwards: the pages go \"back to the host\" (the hook flushes them \"before free'ing them back to the host\"); a host write to a page still assigned would fault.",
        source: sev(5074, "sev_gmem_invalidate"))

    public static let invalidateOutside = Rule(
        id: "gmem.invalidate.outside",
        summary: "Pages outside the freed range keep owner, ASID and GPA; a 2M entry only partly freed is split first, only the page size of its other pages may change (\"PSMASH the region into individual 4K RMP entries before attempting to convert a 4K sub-page\").",
        source: sev(5045, "sev_gmem_invalidate"))

    public static let invalidateForeign = Rule(
        id: "gmem.invalidate.foreign",
        summary: "Unclear intent: a page of the freed range assigned to another ASID (not this VM's). Neither the comments nor the callers say whether the hook may reclaim it; made shared or left as it was are both allowed.",
        source: sev(5036, "sev_gmem_invalidate"))

    public static let invalidateImmutable = Rule(
        id: "gmem.invalidate.immutable",
        summary: "Unclear intent: an immutable page in the freed range. RMPUPDATE refuses it (only firmware may change it) and the hook cannot reclaim it; left as it was or shared are both allowed, and so is a WARN naming it.",
        source: sev(5060, "sev_gmem_invalidate"))

    public static let noWarn = Rule(
        id: "gmem.no-warn",
        summary: "No hook WARNs in a world the RMP allows: a WARN is a kernel bug report (\"This shouldn't fail, but if it does, report it\").",
        source: sev(5051, "sev_gmem_invalidate"))

    public static let maxLevelNonSNP = Rule(
        id: "gmem.max-level.non-snp",
        summary: "A VM that is not an SNP guest: 0, which the MMU reads as \"no limit\" (`if (req_max_level) max_level = min(max_level, req_max_level);`, arch/x86/kvm/mmu/mmu.c:4373).",
        source: sev(5090, "sev_private_max_mapping_level"))

    public static let maxLevelRMP = Rule(
        id: "gmem.max-level.rmp",
        summary: "An SNP guest: a level from 4K up to the page size of the RMP entry covering the pfn, never larger (an NPT mapping larger than the RMP page faults on every access; research/snp.md §2.3: the RMP level caps the NPT level); the query changes no RMP entry.",
        source: sev(5085, "sev_private_max_mapping_level"))

    public static let maxLevelUnassigned = Rule(
        id: "gmem.max-level.unassigned",
        summary: "Unclear intent: a pfn that is not assigned (the guest will fault on it anyway): any level from 4K up to the RMP entry's page size is allowed.",
        source: sev(5095, "sev_private_max_mapping_level"))

    public static let crash = Rule(
        id: "gmem.crash",
        summary: "The code under check never crashes, aborts or hangs (a BUG() or an RMPUPDATE retried forever, arch/x86/virt/svm/sev.c:518).",
        source: .source(tree: tree, file: "arch/x86/virt/svm/sev.c", line: 518, function: "rmpupdate"))

    public static let all: [Rule] = [setup, prepareNonSNP, preparePrivate, prepareAssigned, prepareWholeFolio, prepareHugeEntry,
                                     prepareOthers, invalidateShared, invalidateOutside, invalidateForeign, invalidateImmutable,
                                     noWarn, maxLevelNonSNP, maxLevelRMP, maxLevelUnassigned, crash]
}
