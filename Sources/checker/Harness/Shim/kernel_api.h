/*
 * The kernel API as the SNP patch's functions see it, in user space (written for this project).
 *
 * The patch-logic harness compiles the functions a patch adds to arch/x86/kvm/svm/sev.c against
 * this header instead of the kernel's. Types, constants and macros are stated here; the helpers
 * from the series' other patches are implemented in harness.c, on top of a simulated RMP and
 * restricted memfd (the Swift side). Sources are cited per item: "v8 NN/56" is a patch of
 * "[PATCH RFC v8 NN/56] Add AMD Secure Nested Paging (SEV-SNP) Hypervisor Support" (Michael Roth,
 * 20 Feb 2023); "UPM v10" is its base (Chao Peng's restrictedmem series); "research §x" is
 * docs/research/snp.md in the shared docs.
 *
 * A patch that calls something missing here fails to compile with an implicit declaration: add
 * the declaration (and, for a function, its implementation in harness.c) and cite its source.
 */
#ifndef KERNEL_API_H
#define KERNEL_API_H

#include <errno.h>   /* EINVAL, EPERM, EFAULT, ENXIO, ENOENT: the same values as the kernel's */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* include/linux/types.h, asm-generic/int-ll64.h: u64 is unsigned long long on x86-64 (so the
 * patch's "%llx" formats type-check as in the kernel). */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef long long s64;

/* include/linux/kvm_types.h */
typedef u64 gfn_t;
typedef u64 gpa_t;
typedef u64 hpa_t;
typedef u64 kvm_pfn_t;

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)

/* include/linux/compiler.h, kernel.h, align.h, container_of.h */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define IS_ALIGNED(x, a) (((x) & ((typeof(x))(a) - 1)) == 0)
#define ALIGN_DOWN(x, a) ((x) & ~((typeof(x))(a) - 1))
#define ALIGN(x, a) ALIGN_DOWN((x) + ((typeof(x))(a) - 1), (a))
#define BIT(n) (1UL << (n))
#define BIT_ULL(n) (1ULL << (n))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
/* include/linux/build_bug.h: a compile-time assertion usable as a statement. */
#define BUILD_BUG_ON(condition) ((void)sizeof(char[1 - 2 * !!(condition)]))

/* arch/x86/include/asm/pgtable_types.h */
enum pg_level {
	PG_LEVEL_NONE,
	PG_LEVEL_4K,
	PG_LEVEL_2M,
	PG_LEVEL_1G,
	PG_LEVEL_512G,
	PG_LEVEL_NUM
};

/* arch/x86/include/asm/kvm_host.h (x86): 9 more gfn bits per level. */
#define KVM_MAX_HUGEPAGE_LEVEL PG_LEVEL_1G
#define KVM_HPAGE_GFN_SHIFT(x) (((x) - 1) * 9)
#define KVM_PAGES_PER_HPAGE(x) (1UL << KVM_HPAGE_GFN_SHIFT(x))

/* include/uapi/linux/kvm.h (UPM v10, research §1.3, §2.2) */
#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3)
/* include/uapi/linux/kvm.h (UPM v10): the memslot has a restricted memfd. */
#define KVM_MEM_PRIVATE (1UL << 2)

/* arch/x86/include/asm/sev-common.h: GHCB page state change operations. */
enum psc_op {
	SNP_PAGE_STATE_PRIVATE = 1,
	SNP_PAGE_STATE_SHARED = 2,
};
/* The PSC "invalid entry" error (v8 41-42/56; value inferred from the GHCB spec's PSC error
 * codes). sev_update_mem_attr uses it only in an unreachable switch default. */
#define PSC_INVALID_ENTRY 2

/* arch/x86/include/asm/sev.h (v8 14/56) */
#define RMP_PG_SIZE_4K 0
#define RMP_PG_SIZE_2M 1
#define RMP_TO_X86_PG_LEVEL(level) (((level) == RMP_PG_SIZE_4K) ? PG_LEVEL_4K : PG_LEVEL_2M)
/* Every level but 4K, 1G included, becomes a 2M RMP entry: the RMP has no 1G entries. */
#define X86_TO_RMP_PG_LEVEL(level) (((level) == PG_LEVEL_4K) ? RMP_PG_SIZE_4K : RMP_PG_SIZE_2M)
/* v8 14/56 defines the overlap code as 7; the hardware's is 4 (research §1.6, §3.2). */
#define RMPUPDATE_FAIL_OVERLAP 7

/* v8 14/56: the operand of RMPUPDATE (RCX). */
struct rmp_state {
	u64 gpa;
	u8 assigned;
	u8 pagesize;
	u8 immutable;
	u8 rsvd;
	u32 asid;
} __attribute__((packed));

/* The VM and its SEV state, reduced to what the SNP memory attribute code reads. */
struct kvm {
	int harness_unused;
};

/* arch/x86/kvm/svm/svm.h */
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

static inline struct kvm_svm *to_kvm_svm(struct kvm *kvm)
{
	return container_of(kvm, struct kvm_svm, kvm);
}

/* arch/x86/kvm/svm/svm.h (v8 32/56): an SEV-ES guest with SNP active. */
static inline bool sev_snp_guest(struct kvm *kvm)
{
	struct kvm_sev_info *sev = &to_kvm_svm(kvm)->sev_info;

	return sev->es_active && sev->snp_active;
}

/* include/linux/kvm_host.h (UPM v10: memslots carry their VM and a restricted memfd). The
 * restricted file and its offset live on the Swift side, behind kvm_restrictedmem_get_pfn(). */
struct kvm_memory_slot {
	gfn_t base_gfn;
	unsigned long npages;
	u32 flags;
	short id;
	struct kvm *kvm;
};

/* include/linux/kvm_host.h (UPM v10) */
static inline bool kvm_slot_can_be_private(const struct kvm_memory_slot *slot)
{
	return slot && (slot->flags & KVM_MEM_PRIVATE);
}

static inline gpa_t gfn_to_gpa(gfn_t gfn)
{
	return (gpa_t)gfn << PAGE_SHIFT;
}

/* struct page: never dereferenced. A fake pointer encodes the pfn (see pfn_to_page). */
struct page;
#define pfn_to_page(pfn) ((struct page *)(uintptr_t)((((u64)(pfn)) + 1) << 6))
#define page_to_pfn(page) ((kvm_pfn_t)(((uintptr_t)(page) >> 6) - 1))
/* include/linux/mm.h: drops the reference kvm_restrictedmem_get_pfn() took. */
void put_page(struct page *page);
/* Every pfn below 2^40 (52-bit physical addresses) is RAM here. */
bool pfn_valid(u64 pfn);
unsigned int num_present_cpus(void);

/* include/linux/kvm_host.h (UPM v10): the pfn backing gfn in the slot's restricted memfd and the
 * order of its folio; 0, or -errno where no page can be had. Takes a page reference. */
int kvm_restrictedmem_get_pfn(struct kvm_memory_slot *slot, gfn_t gfn, kvm_pfn_t *pfn, int *order);

/* arch/x86/include/asm/sev.h (v8 12/56, 14/56) */
int snp_lookup_rmpentry(u64 pfn, int *level);
int psmash(u64 pfn);
int rmp_make_private(u64 pfn, u64 gpa, enum pg_level level, int asid, bool immutable);
int rmp_make_shared(u64 pfn, enum pg_level level);

/* arch/x86/kvm/svm/sev.c, context of v8 48/56 (research §1.8). Static in sev.c. */
int snp_rmptable_psmash(struct kvm *kvm, kvm_pfn_t pfn);

/* arch/x86/kvm/svm/svm.h, added by v8 48/56. */
int sev_update_mem_attr(struct kvm_memory_slot *slot, unsigned int attr, gfn_t start, gfn_t end);

/* include/linux/printk.h: every message is recorded (ratelimiting and the dynamic-debug switch
 * of pr_debug are not modelled: the harness keeps all of them). */
void harness_printk(const char *level, const char *format, ...) __attribute__((format(printf, 2, 3)));
#define pr_debug(fmt, ...) harness_printk("debug", fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) harness_printk("info", fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) harness_printk("warn", fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...) harness_printk("err", fmt, ##__VA_ARGS__)
#define pr_info_ratelimited(fmt, ...) harness_printk("info", fmt, ##__VA_ARGS__)
#define pr_warn_ratelimited(fmt, ...) harness_printk("warn", fmt, ##__VA_ARGS__)
#define pr_err_ratelimited(fmt, ...) harness_printk("err", fmt, ##__VA_ARGS__)
#define pr_warn_once(fmt, ...) harness_printk("warn", fmt, ##__VA_ARGS__)
/* include/asm-generic/bug.h */
#define WARN_ON(condition) ({ bool __c = !!(condition); if (__c) harness_printk("warn", "WARN_ON(%s) at %s:%d\n", #condition, __FILE__, __LINE__); __c; })
#define WARN_ON_ONCE(condition) WARN_ON(condition)
#define WARN(condition, fmt, ...) ({ bool __c = !!(condition); if (__c) harness_printk("warn", fmt, ##__VA_ARGS__); __c; })
/* include/asm-generic/bug.h: BUG() is an oops; here the harness child aborts, which the sandbox
 * reports as the patch's crash ("kernel BUG at file:line" on its stderr first). */
void harness_bug(const char *file, int line) __attribute__((noreturn));
#define BUG() harness_bug(__FILE__, __LINE__)
#define BUG_ON(condition) do { if (condition) BUG(); } while (0)

#endif
