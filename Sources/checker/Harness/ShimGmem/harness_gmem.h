/*
 * The Swift-facing ABI of the guest_memfd SNP harness (written for this project).
 *
 * The Swift side (Sources/checker/Harness/Gmem/GmemHarnessSystem.swift) simulates the RMP; the
 * C side (harness_gmem.c) is the kernel API the extracted 6.12 functions call. They meet in
 * struct harness_gmem_env: every field is 8 bytes wide and the Swift side writes them by index,
 * so the order below is the ABI. Bump HARNESS_GMEM_ABI_VERSION whenever it changes.
 */
#ifndef HARNESS_GMEM_H
#define HARNESS_GMEM_H

#include <stdint.h>

#define HARNESS_GMEM_ABI_VERSION 1

/* What an entry point returns when the code under check would never have returned (a
 * FAIL_OVERLAP that never clears, harness_gmem.c rmpupdate()): the stuck callback has the why. */
#define HARNESS_GMEM_STUCK INT32_MIN

struct harness_gmem_env {
	void *context;        /* 0: handed back to every callback */
	int64_t snp_guest;    /* 1: sev_snp_guest(kvm) */
	uint64_t asid;        /* 2: to_kvm_svm(kvm)->sev_info.asid */
	/* 3: the RMP entry of pfn: 0 or -errno; *assigned from pfn's own entry, *level (x86 level)
	 * from the 2M-aligned entry */
	int (*lookup)(void *ctx, uint64_t pfn, int *assigned, int *level);
	/* 4: one RMPUPDATE instruction: the raw hardware return code */
	int (*rmpupdate)(void *ctx, uint64_t pfn, uint64_t gpa, int assigned, int pagesize,
			 int immutable, uint32_t asid);
	/* 5: one PSMASH instruction: the raw hardware return code */
	int (*psmash)(void *ctx, uint64_t pfn);
	/* 6: one line of kernel log (pr_debug, pr_err, ...), without the newline */
	void (*log)(void *ctx, const char *line);
	/* 7: a WARN fired: its message */
	void (*warn)(void *ctx, const char *line);
	/* 8: clflush_cache_range over [pfn, pfn + bytes / 4K) */
	void (*flush)(void *ctx, uint64_t pfn, uint64_t bytes);
	/* 9: the call can never return (see HARNESS_GMEM_STUCK): why */
	void (*stuck)(void *ctx, const char *line);
};

/* (HARNESS_GMEM_ABI_VERSION << 32) | sizeof(struct harness_gmem_env): checked at load. */
uint64_t harness_gmem_abi(void);

/*
 * What guest_memfd does around the hooks (6.12 virt/kvm/guest_memfd.c) is the Swift side's; these
 * call the extracted functions on a VM built from env. Not reentrant across one thread's calls.
 */
/* kvm_arch_gmem_prepare(kvm, gfn, pfn, max_order) -> sev_gmem_prepare */
int32_t harness_gmem_prepare(const struct harness_gmem_env *env, uint64_t pfn, uint64_t gfn,
			     int32_t max_order);
/* kvm_arch_gmem_invalidate(start, end) -> sev_gmem_invalidate; 0, or HARNESS_GMEM_STUCK */
int32_t harness_gmem_invalidate(const struct harness_gmem_env *env, uint64_t start, uint64_t end);
/* kvm_x86_ops.private_max_mapping_level -> sev_private_max_mapping_level */
int32_t harness_gmem_max_mapping_level(const struct harness_gmem_env *env, uint64_t pfn);

#endif
