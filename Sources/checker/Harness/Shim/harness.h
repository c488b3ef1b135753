/*
 * The Swift-facing ABI of the SNP patch-logic harness (written for this project).
 *
 * The Swift side (Sources/checker/Harness/SNPHarnessSystem.swift) simulates the hardware and the
 * restricted memfd; the C side (harness.c) is the kernel API the patch's functions call. They
 * meet in struct harness_env: every field is 8 bytes wide and the Swift side writes them by
 * index, so the order below is the ABI. Bump HARNESS_ABI_VERSION whenever it changes.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdint.h>

#define HARNESS_ABI_VERSION 1

struct harness_env {
	void *context;                 /* 0: handed back to every callback */
	int64_t snp_guest;             /* 1: sev_snp_guest(kvm) */
	int64_t slot_can_be_private;   /* 2: kvm_slot_can_be_private(slot) */
	int64_t num_present_cpus;      /* 3: num_present_cpus() (rmpupdate()'s retry budget) */
	uint64_t asid;                 /* 4: to_kvm_svm(kvm)->sev_info.asid */
	uint64_t slot_id;              /* 5: slot->id */
	uint64_t base_gfn;             /* 6: slot->base_gfn */
	uint64_t npages;               /* 7: slot->npages */
	/* 8: kvm_restrictedmem_get_pfn: 0 (and a page reference taken) or -errno */
	int (*get_pfn)(void *ctx, uint64_t gfn, uint64_t *pfn, int *order);
	/* 9: put_page: drops one page reference */
	void (*put_page)(void *ctx, uint64_t pfn);
	/* 10: the RMP entry of pfn: 1 assigned, 0 not, or -errno; *level from the 2M-aligned entry */
	int (*lookup)(void *ctx, uint64_t pfn, int *level);
	/* 11: one RMPUPDATE instruction: the raw hardware return code */
	int (*rmpupdate)(void *ctx, uint64_t pfn, uint64_t gpa, int assigned, int pagesize,
			 int immutable, uint32_t asid);
	/* 12: one PSMASH instruction: the raw hardware return code */
	int (*psmash)(void *ctx, uint64_t pfn);
	/* 13: one line of kernel log (pr_debug, pr_err, ...), without the newline */
	void (*log)(void *ctx, const char *line);
};

/* (HARNESS_ABI_VERSION << 32) | sizeof(struct harness_env): checked by the Swift side at load. */
uint64_t harness_abi(void);

/*
 * Calls the patch's sev_update_mem_attr(slot, attr, start, end) on a memslot and VM built from
 * env. Not reentrant across threads' envs: the env is kept in a thread-local for the duration of
 * the call, so concurrent calls on different threads are fine, nested ones are not.
 */
int harness_update_mem_attr(const struct harness_env *env, unsigned int attr, uint64_t start,
			    uint64_t end);

#endif
