/*
 * The kernel API as mainline's SNP guest_memfd hooks see it, in user space (written for this
 * project; no kernel code is copied here).
 *
 * The gmem harness cuts sev_gmem_prepare, sev_gmem_invalidate, sev_private_max_mapping_level and
 * the static helpers they call out of a whole arch/x86/kvm/svm/sev.c (Linux 6.12) and compiles
 * them against this header instead of the kernel's. Every item cites the 6.12.111 line it
 * stands for ("6.12 file:line"); helpers are implemented in harness_gmem.c on top of a simulated
 * RMP (the Swift side, Sources/Model/SNP/RMPTable.swift).
 *
 * A function that calls something missing here fails to compile with an implicit declaration:
 * add the declaration (and, for a function, its implementation in harness_gmem.c) and cite its
 * source.
 */
#ifndef KERNEL_API_GMEM_H
#define KERNEL_API_GMEM_H

#include <errno.h>   /* EINVAL, ENOENT, EFAULT, ENODEV: the same values as the kernel's */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* include/linux/types.h, asm-generic/int-ll64.h: u64 is unsigned long long on x86-64. */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;
typedef int32_t s32;
typedef long long s64;

/* include/linux/kvm_types.h */
typedef u64 gfn_t;
typedef u64 gpa_t;
typedef u64 hpa_t;
typedef u64 kvm_pfn_t;

/* arch/x86/include/asm/page_types.h, pgtable_64_types.h: 4K pages, 512 entries per PMD. */
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PTRS_PER_PMD 512
#define PMD_SIZE (PAGE_SIZE * PTRS_PER_PMD)

/* include/linux/compiler.h, align.h, container_of.h */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define IS_ALIGNED(x, a) (((x) & ((typeof(x))(a) - 1)) == 0)
#define ALIGN_DOWN(x, a) ((x) & ~((typeof(x))(a) - 1))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* arch/x86/include/asm/pgtable_types.h: enum pg_level. */
enum pg_level {
	PG_LEVEL_NONE,
	PG_LEVEL_4K,
	PG_LEVEL_2M,
	PG_LEVEL_1G,
	PG_LEVEL_512G,
	PG_LEVEL_NUM
};

/* arch/x86/include/asm/kvm_host.h: 9 more gfn bits per level. */
#define KVM_HPAGE_GFN_SHIFT(x) (((x) - 1) * 9)
#define KVM_PAGES_PER_HPAGE(x) (1UL << KVM_HPAGE_GFN_SHIFT(x))

/* 6.12 arch/x86/include/asm/sev.h:92-101: return codes and page size conversions. */
#define RMPUPDATE_FAIL_OVERLAP 4
#define PSMASH_FAIL_INUSE 3
#define RMP_PG_SIZE_4K 0
#define RMP_PG_SIZE_2M 1
#define RMP_TO_PG_LEVEL(level) (((level) == RMP_PG_SIZE_4K) ? PG_LEVEL_4K : PG_LEVEL_2M)
#define PG_LEVEL_TO_RMP(level) (((level) == PG_LEVEL_4K) ? RMP_PG_SIZE_4K : RMP_PG_SIZE_2M)

/* 6.12 arch/x86/include/asm/sev.h: the RMPUPDATE operand (RCX). */
struct rmp_state {
	u64 gpa;
	u8 assigned;
	u8 pagesize;
	u8 immutable;
	u8 rsvd;
	u32 asid;
} __attribute__((packed));

/* include/linux/cc_platform.h: only the attribute the hooks test. */
enum cc_attr {
	CC_ATTR_HOST_SEV_SNP = 8,
};
/* Always true here: the harness simulates an SNP host (6.12 sev.c:5026 returns early otherwise). */
bool cc_platform_has(enum cc_attr attr);

/* The VM, reduced to what the hooks read (6.12 arch/x86/kvm/svm/svm.h struct kvm_sev_info,
 * struct kvm_svm). */
struct kvm {
	int harness_unused;
};

struct kvm_sev_info {
	bool active;
	bool es_active;
	bool snp_active;
	unsigned int asid;
};

struct kvm_svm {
	struct kvm kvm;
	struct kvm_sev_info sev_info;
};

/* 6.12 arch/x86/kvm/svm/svm.h: to_kvm_svm(). */
static inline struct kvm_svm *to_kvm_svm(struct kvm *kvm)
{
	return container_of(kvm, struct kvm_svm, kvm);
}

/* 6.12 arch/x86/kvm/svm/svm.h: an SNP guest is an SEV-ES guest with SNP active (6.12 tests
 * vmsa_features & SVM_SEV_FEAT_SNP_ACTIVE; the harness keeps that as snp_active). */
static inline bool sev_snp_guest(struct kvm *kvm)
{
	struct kvm_sev_info *sev = &to_kvm_svm(kvm)->sev_info;

	return sev->es_active && sev->snp_active;
}

/* include/linux/kvm_host.h: gfn_to_gpa(). */
static inline gpa_t gfn_to_gpa(gfn_t gfn)
{
	return (gpa_t)gfn << PAGE_SHIFT;
}

/* include/linux/kvm_host.h: pfn_to_hpa(); arch/x86/include/asm/page.h: __va(). The direct map
 * is the identity here: the address is only handed to clflush_cache_range(). */
static inline hpa_t pfn_to_hpa(kvm_pfn_t pfn)
{
	return (hpa_t)pfn << PAGE_SHIFT;
}
#define __va(x) ((void *)(uintptr_t)(x))

/* arch/x86/include/asm/cacheflush.h: recorded as evidence (the pfn range flushed). */
void clflush_cache_range(void *addr, unsigned int size);
/* include/linux/sched.h: nothing to yield to here. */
static inline void cond_resched(void) {}

/* Every pfn below 2^40 (52-bit physical addresses) is RAM here. */
bool pfn_valid(u64 pfn);

/* 6.12 arch/x86/virt/svm/sev.c:299 snp_lookup_rmpentry(), :390 psmash(), :531 rmp_make_private(),
 * :546 rmp_make_shared(). */
int snp_lookup_rmpentry(u64 pfn, bool *assigned, int *level);
int psmash(u64 pfn);
int rmp_make_private(u64 pfn, u64 gpa, enum pg_level level, u32 asid, bool immutable);
int rmp_make_shared(u64 pfn, enum pg_level level);

/* 6.12 arch/x86/kvm/svm/svm.h: the hooks, as svm.c's kvm_x86_ops names them. */
int sev_gmem_prepare(struct kvm *kvm, kvm_pfn_t pfn, gfn_t gfn, int max_order);
void sev_gmem_invalidate(kvm_pfn_t start, kvm_pfn_t end);
int sev_private_max_mapping_level(struct kvm *kvm, kvm_pfn_t pfn);

/* include/linux/printk.h: every message is recorded (ratelimiting and the dynamic-debug switch of
 * pr_debug are not modelled: the harness keeps all of them). */
void harness_printk(const char *level, const char *format, ...) __attribute__((format(printf, 2, 3)));
#define pr_debug(fmt, ...) harness_printk("debug", fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) harness_printk("info", fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) harness_printk("warn", fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...) harness_printk("err", fmt, ##__VA_ARGS__)
#define pr_debug_ratelimited(fmt, ...) harness_printk("debug", fmt, ##__VA_ARGS__)
#define pr_info_ratelimited(fmt, ...) harness_printk("info", fmt, ##__VA_ARGS__)
#define pr_warn_ratelimited(fmt, ...) harness_printk("warn", fmt, ##__VA_ARGS__)
#define pr_err_ratelimited(fmt, ...) harness_printk("err", fmt, ##__VA_ARGS__)

/* include/asm-generic/bug.h: a WARN is a kernel bug report. Each one is recorded and counted
 * (the Swift side's warn callback), ONCE or not: a WARN_ONCE's "once" is per boot, and every
 * call of the harness is its own boot as far as the model is concerned. */
void harness_warn(const char *file, int line, const char *format, ...) __attribute__((format(printf, 3, 4)));
#define WARN(condition, fmt, ...) ({ bool __c = !!(condition); if (__c) harness_warn(__FILE__, __LINE__, fmt, ##__VA_ARGS__); __c; })
#define WARN_ONCE(condition, fmt, ...) WARN(condition, fmt, ##__VA_ARGS__)
#define WARN_ON(condition) ({ bool __c = !!(condition); if (__c) harness_warn(__FILE__, __LINE__, "WARN_ON(%s)", #condition); __c; })
#define WARN_ON_ONCE(condition) WARN_ON(condition)
/* include/asm-generic/bug.h: BUG() stops the kernel; here the process (abort(), which the
 * harness's sandbox reports as a crash). */
void harness_bug(const char *file, int line, const char *what) __attribute__((noreturn));
#define BUG() harness_bug(__FILE__, __LINE__, "BUG()")
#define BUG_ON(condition) do { if (unlikely(condition)) harness_bug(__FILE__, __LINE__, "BUG_ON(" #condition ")"); } while (0)

#endif
