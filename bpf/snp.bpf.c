// SPDX-License-Identifier: GPL-2.0
/*
 * SNP probes: which RMP changes the kernel makes for a memory-attribute or guest_memfd policy
 * decision, observed passively while a VMM (another process) drives KVM. No process filter: the
 * workload is the VMM, not the checker. Events: bpf/snp_events.h.
 *
 * Kernel functions (signatures as probed; "6.12" = Debian linux-source-6.12 6.12.111):
 *   - sev_update_mem_attr(struct kvm_memory_slot *slot, unsigned int attr, gfn_t start,
 *     gfn_t end) -> int: entry and return. v8 48/56 (arch/x86/kvm/svm/sev.c, hunk
 *     "@@ -4373,3 +4398,104 @@"); absent on mainline.
 *   - kvm_restrictedmem_get_pfn(struct kvm_memory_slot *slot, gfn_t gfn, kvm_pfn_t *pfn,
 *     int *order) -> int: return only, *pfn and *order read after the call. Called by
 *     sev_update_mem_attr in v8 48/56; defined by the series' UPM/restrictedmem base tree,
 *     absent on mainline.
 *   - rmp_make_private(u64 pfn, u64 gpa, enum pg_level level, u32 asid, bool immutable) -> int:
 *     return only. 6.12 arch/x86/virt/svm/sev.c:532 (v8 had `int asid`; same register).
 *   - rmp_make_shared(u64 pfn, enum pg_level level) -> int: return only. 6.12 sev.c:548.
 *   - psmash(u64 pfn) -> int: return only. 6.12 arch/x86/virt/svm/sev.c:390.
 *   - sev_gmem_prepare(struct kvm *kvm, kvm_pfn_t pfn, gfn_t gfn, int max_order) -> int: entry
 *     and return. 6.12 arch/x86/kvm/svm/sev.c:4975 (kvm_amd).
 *   - sev_gmem_invalidate(kvm_pfn_t start, kvm_pfn_t end) -> void: entry and return. 6.12
 *     arch/x86/kvm/svm/sev.c:5022 (kvm_amd).
 *   - kvm_arch_post_set_memory_attributes(struct kvm *kvm, struct kvm_gfn_range *range) -> bool:
 *     entry only (range->start, range->end, range->arg.attributes). 6.12
 *     arch/x86/kvm/mmu/mmu.c:7721 (kvm), the post_set_range handler of
 *     virt/kvm/kvm_main.c:2536.
 *
 * Mechanisms, per function, chosen by user space (Sources/Probes/SNPProbeSession.swift):
 * fentry/fexit first (the snp_fentry_* / snp_fexit_* programs, each function's programs loaded in
 * an object of their own that shares this object's maps, so a function the kernel lacks fails
 * alone); else the generic snp_kprobe/snp_kretprobe pair, attached per function with the
 * function's `enum snp_function` as BPF cookie. A trampoline on a kvm or kvm_amd function holds a
 * reference on that module until detached: nothing here counts module references.
 *
 * The kprobe fallback saves the arguments at entry in `saved_args` (key: thread and function)
 * for the return probe. A full ring buffer drops the event and counts it in `lost`; an event
 * whose pointer reads failed carries a flag: either way the run is inconclusive.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "snp_events.h"
#include "snp_kvm.h"

char LICENSE[] SEC("license") = "GPL";

#include "ring.h"

struct saved_key {
	__u32 tid;
	__u32 function; /* enum snp_function */
};

struct saved_value {
	__u64 args[5];
};

/* kprobe fallback: the arguments of a call in progress, from entry to return. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct saved_key);
	__type(value, struct saved_value);
} saved_args SEC(".maps");

/* A zeroed event in the ring buffer, or NULL (counted in `lost`). */
static __always_inline struct snp_event *reserve(__u32 type, __u32 function)
{
	struct snp_event *e = ring_reserve_zeroed(sizeof(*e));

	if (!e)
		return NULL;
	e->timestamp_ns = bpf_ktime_get_ns();
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->type = type;
	e->function = function;
	return e;
}

/* slot->id, slot->base_gfn, slot->npages into args[0..2]. */
static __always_inline void read_slot(struct snp_event *e, __u64 pointer)
{
	struct kvm_memory_slot *slot = (struct kvm_memory_slot *)pointer;
	short id = 0;
	__u64 base = 0;
	unsigned long pages = 0;

	if (!bpf_core_field_exists(slot->id) || !bpf_core_field_exists(slot->base_gfn)
	    || !bpf_core_field_exists(slot->npages)) {
		e->flags |= SNP_FLAG_NO_BTF;
		return;
	}
	if (!slot || bpf_core_read(&id, sizeof(id), &slot->id)
	    || bpf_core_read(&base, sizeof(base), &slot->base_gfn)
	    || bpf_core_read(&pages, sizeof(pages), &slot->npages)) {
		e->flags |= SNP_FLAG_READ_FAILED;
		return;
	}
	e->args[0] = (__u64)(__u32)(__s32)id;
	e->args[1] = base;
	e->args[2] = pages;
}

/* range->start, range->end, range->arg.attributes into args[0..2]. */
static __always_inline void read_range(struct snp_event *e, __u64 pointer)
{
	struct kvm_gfn_range *range = (struct kvm_gfn_range *)pointer;
	__u64 start = 0, end = 0;
	unsigned long attributes = 0;

	if (!bpf_core_field_exists(range->start) || !bpf_core_field_exists(range->end)
	    || !bpf_core_field_exists(range->arg.attributes)) {
		e->flags |= SNP_FLAG_NO_BTF;
		return;
	}
	if (!range || bpf_core_read(&start, sizeof(start), &range->start)
	    || bpf_core_read(&end, sizeof(end), &range->end)
	    || bpf_core_read(&attributes, sizeof(attributes), &range->arg.attributes)) {
		e->flags |= SNP_FLAG_READ_FAILED;
		return;
	}
	e->args[0] = start;
	e->args[1] = end;
	e->args[2] = attributes;
}

/*
 * A function entered, with its arguments as raw 64-bit registers. Only the functions with an
 * entry event report here; the others are reported on return.
 */
static __always_inline void on_entry(__u32 function, __u64 a0, __u64 a1, __u64 a2, __u64 a3)
{
	struct snp_event *e;

	switch (function) {
	case SNP_FN_UPDATE_MEM_ATTR:
		e = reserve(SNP_UPDATE_MEM_ATTR_ENTRY, function);
		if (!e)
			return;
		read_slot(e, a0);
		e->args[3] = a1; /* unsigned int attr */
		e->args[4] = a2; /* gfn_t start */
		e->args[5] = a3; /* gfn_t end */
		break;
	case SNP_FN_GMEM_PREPARE:
		e = reserve(SNP_GMEM_PREPARE_ENTRY, function);
		if (!e)
			return;
		e->args[0] = a1; /* kvm_pfn_t pfn */
		e->args[1] = a2; /* gfn_t gfn */
		e->args[2] = a3; /* int max_order */
		break;
	case SNP_FN_GMEM_INVALIDATE:
		e = reserve(SNP_GMEM_INVALIDATE_ENTRY, function);
		if (!e)
			return;
		e->args[0] = a0; /* kvm_pfn_t start */
		e->args[1] = a1; /* kvm_pfn_t end */
		break;
	case SNP_FN_POST_SET_MEMORY_ATTRIBUTES:
		e = reserve(SNP_POST_SET_MEMORY_ATTRIBUTES, function);
		if (!e)
			return;
		read_range(e, a1);
		break;
	default:
		return;
	}
	bpf_ringbuf_submit(e, 0);
}

/*
 * A function returned: its arguments (as at entry) and the whole return register. `flags` is
 * SNP_FLAG_NO_ENTRY when the kprobe fallback found no saved arguments.
 */
static __always_inline void on_return(__u32 function, __u64 a0, __u64 a1, __u64 a2, __u64 a3,
				      __u64 a4, __s64 ret, __u32 flags)
{
	struct snp_event *e;

	switch (function) {
	case SNP_FN_UPDATE_MEM_ATTR:
		e = reserve(SNP_UPDATE_MEM_ATTR_EXIT, function);
		break;
	case SNP_FN_GET_PFN:
		e = reserve(SNP_GET_PFN, function);
		if (e) {
			__u64 pfn = 0;
			__s32 order = 0;
			e->flags |= flags;
			e->args[0] = a1; /* gfn_t gfn */
			if (!a2 || !a3 || bpf_probe_read_kernel(&pfn, sizeof(pfn), (void *)a2)
			    || bpf_probe_read_kernel(&order, sizeof(order), (void *)a3))
				e->flags |= SNP_FLAG_READ_FAILED;
			e->args[1] = pfn;
			e->args[2] = (__u64)(__s64)order;
		}
		break;
	case SNP_FN_RMP_MAKE_PRIVATE:
		e = reserve(SNP_RMP_MAKE_PRIVATE, function);
		if (e) {
			e->flags |= flags;
			e->args[0] = a0; /* u64 pfn */
			e->args[1] = a1; /* u64 gpa */
			e->args[2] = a2; /* enum pg_level level */
			e->args[3] = a3; /* u32 asid (v8: int asid) */
			e->args[4] = a4; /* bool immutable: the low byte */
		}
		break;
	case SNP_FN_RMP_MAKE_SHARED:
		e = reserve(SNP_RMP_MAKE_SHARED, function);
		if (e) {
			e->flags |= flags;
			e->args[0] = a0; /* u64 pfn */
			e->args[1] = a1; /* enum pg_level level */
		}
		break;
	case SNP_FN_PSMASH:
		e = reserve(SNP_PSMASH, function);
		if (e) {
			e->flags |= flags;
			e->args[0] = a0; /* u64 pfn */
		}
		break;
	case SNP_FN_GMEM_PREPARE:
		e = reserve(SNP_GMEM_PREPARE_EXIT, function);
		break;
	case SNP_FN_GMEM_INVALIDATE:
		e = reserve(SNP_GMEM_INVALIDATE_EXIT, function);
		break;
	default:
		return;
	}
	if (!e)
		return;
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
}

/* Functions whose return event needs the arguments (the kprobe fallback saves them). */
static __always_inline int return_needs_arguments(__u32 function)
{
	return function == SNP_FN_GET_PFN || function == SNP_FN_RMP_MAKE_PRIVATE
	       || function == SNP_FN_RMP_MAKE_SHARED || function == SNP_FN_PSMASH;
}

/* ---- kprobe fallback: one generic pair, attached per function with its enum as cookie ---- */

SEC("kprobe")
int snp_kprobe(struct pt_regs *ctx)
{
	__u32 function = (__u32)bpf_get_attach_cookie(ctx);
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx);
	__u64 a3 = PT_REGS_PARM4(ctx), a4 = PT_REGS_PARM5(ctx);

	if (return_needs_arguments(function)) {
		struct saved_key key = { .tid = (__u32)bpf_get_current_pid_tgid(),
					 .function = function };
		struct saved_value value = { .args = { a0, a1, a2, a3, a4 } };
		bpf_map_update_elem(&saved_args, &key, &value, BPF_ANY);
	}
	on_entry(function, a0, a1, a2, a3);
	return 0;
}

SEC("kretprobe")
int snp_kretprobe(struct pt_regs *ctx)
{
	__u32 function = (__u32)bpf_get_attach_cookie(ctx);
	__s64 ret = (__s64)PT_REGS_RC(ctx);
	__u64 a[5] = {};
	__u32 flags = 0;

	if (return_needs_arguments(function)) {
		struct saved_key key = { .tid = (__u32)bpf_get_current_pid_tgid(),
					 .function = function };
		struct saved_value *value = bpf_map_lookup_elem(&saved_args, &key);
		if (value) {
			a[0] = value->args[0];
			a[1] = value->args[1];
			a[2] = value->args[2];
			a[3] = value->args[3];
			a[4] = value->args[4];
			bpf_map_delete_elem(&saved_args, &key);
		} else {
			flags = SNP_FLAG_NO_ENTRY;
		}
	}
	on_return(function, a[0], a[1], a[2], a[3], a[4], ret, flags);
	return 0;
}

/* ---- fentry/fexit: typed arguments, the return value in fexit ---- */

SEC("fentry/sev_update_mem_attr")
int BPF_PROG(snp_fentry_update_mem_attr, void *slot, unsigned int attr, __u64 start, __u64 end)
{
	on_entry(SNP_FN_UPDATE_MEM_ATTR, (__u64)slot, attr, start, end);
	return 0;
}

SEC("fexit/sev_update_mem_attr")
int BPF_PROG(snp_fexit_update_mem_attr, void *slot, unsigned int attr, __u64 start, __u64 end,
	     int ret)
{
	on_return(SNP_FN_UPDATE_MEM_ATTR, (__u64)slot, attr, start, end, 0, ret, 0);
	return 0;
}

SEC("fexit/kvm_restrictedmem_get_pfn")
int BPF_PROG(snp_fexit_get_pfn, void *slot, __u64 gfn, __u64 *pfn, int *order, int ret)
{
	on_return(SNP_FN_GET_PFN, (__u64)slot, gfn, (__u64)pfn, (__u64)order, 0, ret, 0);
	return 0;
}

SEC("fexit/rmp_make_private")
int BPF_PROG(snp_fexit_rmp_make_private, __u64 pfn, __u64 gpa, int level, __u32 asid,
	     __u8 immutable, int ret)
{
	on_return(SNP_FN_RMP_MAKE_PRIVATE, pfn, gpa, (__u64)(__s64)level, asid, immutable, ret, 0);
	return 0;
}

SEC("fexit/rmp_make_shared")
int BPF_PROG(snp_fexit_rmp_make_shared, __u64 pfn, int level, int ret)
{
	on_return(SNP_FN_RMP_MAKE_SHARED, pfn, (__u64)(__s64)level, 0, 0, 0, ret, 0);
	return 0;
}

SEC("fexit/psmash")
int BPF_PROG(snp_fexit_psmash, __u64 pfn, int ret)
{
	on_return(SNP_FN_PSMASH, pfn, 0, 0, 0, 0, ret, 0);
	return 0;
}

SEC("fentry/sev_gmem_prepare")
int BPF_PROG(snp_fentry_gmem_prepare, void *kvm, __u64 pfn, __u64 gfn, int max_order)
{
	on_entry(SNP_FN_GMEM_PREPARE, (__u64)kvm, pfn, gfn, (__u64)(__s64)max_order);
	return 0;
}

SEC("fexit/sev_gmem_prepare")
int BPF_PROG(snp_fexit_gmem_prepare, void *kvm, __u64 pfn, __u64 gfn, int max_order, int ret)
{
	on_return(SNP_FN_GMEM_PREPARE, (__u64)kvm, pfn, gfn, (__u64)(__s64)max_order, 0, ret, 0);
	return 0;
}

SEC("fentry/sev_gmem_invalidate")
int BPF_PROG(snp_fentry_gmem_invalidate, __u64 start, __u64 end)
{
	on_entry(SNP_FN_GMEM_INVALIDATE, start, end, 0, 0);
	return 0;
}

SEC("fexit/sev_gmem_invalidate")
int BPF_PROG(snp_fexit_gmem_invalidate, __u64 start, __u64 end)
{
	on_return(SNP_FN_GMEM_INVALIDATE, start, end, 0, 0, 0, 0, 0);
	return 0;
}

SEC("fentry/kvm_arch_post_set_memory_attributes")
int BPF_PROG(snp_fentry_post_set_attrs, void *kvm, void *range)
{
	on_entry(SNP_FN_POST_SET_MEMORY_ATTRIBUTES, (__u64)kvm, (__u64)range, 0, 0);
	return 0;
}
