/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The wire format of the SNP probes (bpf/snp.bpf.c): one event struct, written into the ring
 * buffer and read by Sources/Probes/SNPEventDecoding.swift. Included by snp.bpf.c and, through
 * Sources/Probes/CLibBPF/shim.h, by Swift, so the layout is defined once.
 *
 * Fixed-width fields only, largest first, no implicit padding; the size is asserted below and by
 * Tests/ProbesTests/SNPEventLayoutTests.swift. What args[] hold depends on the type (see
 * enum snp_event_type); unused slots are 0.
 */
#ifndef KCC_SNP_EVENTS_H
#define KCC_SNP_EVENTS_H

#include <linux/types.h>

/* The probed kernel functions; the attach cookie of the generic kprobe programs. */
enum snp_function {
	SNP_FN_UPDATE_MEM_ATTR = 1,          /* sev_update_mem_attr (v8 48/56) */
	SNP_FN_GET_PFN = 2,                  /* kvm_restrictedmem_get_pfn (the v8 series' UPM base) */
	SNP_FN_RMP_MAKE_PRIVATE = 3,         /* rmp_make_private (vmlinux) */
	SNP_FN_RMP_MAKE_SHARED = 4,          /* rmp_make_shared (vmlinux) */
	SNP_FN_PSMASH = 5,                   /* psmash (vmlinux) */
	SNP_FN_GMEM_PREPARE = 6,             /* sev_gmem_prepare (kvm_amd, 6.11+) */
	SNP_FN_GMEM_INVALIDATE = 7,          /* sev_gmem_invalidate (kvm_amd, 6.11+) */
	SNP_FN_POST_SET_MEMORY_ATTRIBUTES = 8, /* kvm_arch_post_set_memory_attributes (kvm) */
};

/* What happened; `struct snp_event.type`. args[] per type: */
enum snp_event_type {
	/* sev_update_mem_attr entered: slot->id, slot->base_gfn, slot->npages, attr, start, end */
	SNP_UPDATE_MEM_ATTR_ENTRY = 1,
	/* sev_update_mem_attr returned: ret */
	SNP_UPDATE_MEM_ATTR_EXIT = 2,
	/* kvm_restrictedmem_get_pfn returned: gfn, *pfn, *order; ret */
	SNP_GET_PFN = 3,
	/* rmp_make_private returned: pfn, gpa, level, asid, immutable; ret */
	SNP_RMP_MAKE_PRIVATE = 4,
	/* rmp_make_shared returned: pfn, level; ret */
	SNP_RMP_MAKE_SHARED = 5,
	/* psmash returned: pfn; ret */
	SNP_PSMASH = 6,
	/* sev_gmem_prepare entered: pfn, gfn, max_order */
	SNP_GMEM_PREPARE_ENTRY = 7,
	/* sev_gmem_prepare returned: ret */
	SNP_GMEM_PREPARE_EXIT = 8,
	/* sev_gmem_invalidate entered: start, end */
	SNP_GMEM_INVALIDATE_ENTRY = 9,
	/* sev_gmem_invalidate returned (void) */
	SNP_GMEM_INVALIDATE_EXIT = 10,
	/* kvm_arch_post_set_memory_attributes entered: range->start, range->end,
	 * range->arg.attributes */
	SNP_POST_SET_MEMORY_ATTRIBUTES = 11,
};

/* `struct snp_event.flags` */
enum snp_event_flag {
	/* A pointer read failed (bpf_probe_read_kernel or a CO-RE read): args[] are incomplete.
	 * User space counts such an event as lost: the run is inconclusive, never passed. */
	SNP_FLAG_READ_FAILED = 1,
	/* The kernel's BTF lacks a type or field read for this event (CO-RE): args[] incomplete. */
	SNP_FLAG_NO_BTF = 2,
	/* A return without the arguments its entry saved (kprobe fallback only). */
	SNP_FLAG_NO_ENTRY = 4,
};

struct snp_event {
	__u64 timestamp_ns; /* bpf_ktime_get_ns() */
	__u64 args[6];      /* per type, see enum snp_event_type */
	__s64 ret;          /* the return value (all 64 bits of the register), return events only */
	__u32 tid;          /* the kernel thread (pid in kernel terms) */
	__u32 type;         /* enum snp_event_type */
	__u32 function;     /* enum snp_function */
	__u32 flags;        /* enum snp_event_flag */
};

#define SNP_EVENT_SIZE 80
_Static_assert(sizeof(struct snp_event) == SNP_EVENT_SIZE, "struct snp_event is 80 bytes");

#endif /* KCC_SNP_EVENTS_H */
