/*
 * The kernel helpers the SNP patch's functions call, over a simulated RMP and restricted memfd
 * (written for this project; see kernel_api.h for the conventions and harness.h for the ABI).
 *
 * Each helper states the behaviour of the series' own version of it, as docs/research/snp.md
 * records it; the hardware (RMPUPDATE, PSMASH, the RMP lookup) and the memfd are callbacks into
 * the Swift side, which keeps the state. The direct-map changes of v8 15/56 always succeed here
 * and are not modelled.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_api.h"
#include "harness.h"

/* The env of the call in progress on this thread. */
static _Thread_local const struct harness_env *current;

uint64_t harness_abi(void)
{
	return ((uint64_t)HARNESS_ABI_VERSION << 32) | sizeof(struct harness_env);
}

void harness_printk(const char *level, const char *format, ...)
{
	char line[512];
	int used = snprintf(line, sizeof(line), "pr_%s: ", level);
	va_list args;
	size_t length;

	va_start(args, format);
	vsnprintf(line + used, sizeof(line) - (size_t)used, format, args);
	va_end(args);
	length = strlen(line);
	while (length > 0 && line[length - 1] == '\n')
		line[--length] = '\0';
	if (current && current->log)
		current->log(current->context, line);
}

void harness_bug(const char *file, int line)
{
	fprintf(stderr, "kernel BUG at %s:%d!\n", file, line);
	abort();
}

bool pfn_valid(u64 pfn)
{
	return pfn < (1ULL << 40);
}

unsigned int num_present_cpus(void)
{
	return current && current->num_present_cpus > 0 ? (unsigned int)current->num_present_cpus : 1;
}

/* UPM v10: index = gfn - base_gfn + restricted_offset, restrictedmem_get_page(), page_to_pfn();
 * the Swift side does the index arithmetic and the folio lookup. */
int kvm_restrictedmem_get_pfn(struct kvm_memory_slot *slot, gfn_t gfn, kvm_pfn_t *pfn, int *order)
{
	uint64_t found = 0;
	int found_order = 0;
	int rc;

	(void)slot;
	rc = current->get_pfn(current->context, gfn, &found, &found_order);
	if (rc)
		return rc;
	*pfn = found;
	if (order)
		*order = found_order;
	return 0;
}

void put_page(struct page *page)
{
	current->put_page(current->context, page_to_pfn(page));
}

/*
 * v8 12/56 "x86/sev: Add RMP entry lookup helpers" (research §1.5): -EINVAL for an invalid pfn,
 * else 1 if the pfn's own entry is assigned, 0 if not; *level is read from the 2M-aligned
 * entry's page size bit.
 */
int snp_lookup_rmpentry(u64 pfn, int *level)
{
	int rmp_level = PG_LEVEL_4K;
	int rc;

	if (!pfn_valid(pfn))
		return -EINVAL;
	rc = current->lookup(current->context, pfn, &rmp_level);
	if (rc >= 0)
		*level = rmp_level;
	return rc;
}

/*
 * v8 14/56 "x86/sev: Add helper functions for RMPUPDATE and PSMASH instruction" (research §1.6):
 * -EINVAL for an invalid pfn, else the raw PSMASH return code.
 */
int psmash(u64 pfn)
{
	pr_debug("%s: PFN: 0x%llx\n", __func__, pfn);
	if (!pfn_valid(pfn))
		return -EINVAL;
	return current->psmash(current->context, pfn);
}

/*
 * v8 14/56 (research §1.6): RMPUPDATE is attempted up to 4 * num_present_cpus() times in all,
 * retrying on ANY non-zero return (not only FAIL_OVERLAP); still failing, it logs and returns
 * -EFAULT. 0 on success.
 */
static int rmpupdate(u64 pfn, struct rmp_state *val)
{
	int max_attempts = 4 * (int)num_present_cpus();
	int attempts = 0;
	int ret;

	do {
		ret = current->rmpupdate(current->context, pfn, val->gpa, val->assigned, val->pagesize,
					 val->immutable, val->asid);
		attempts++;
		if (ret)
			pr_debug("RMPUPDATE retry needed, ASID: %u, ret: %d, pfn: %llx, assigned: %d, attempt %d of %d\n",
				 val->asid, ret, pfn, val->assigned, attempts, max_attempts);
	} while (ret && attempts < max_attempts);

	if (ret) {
		pr_err("RMPUPDATE failed after %d attempts, ret: %d, pfn: %llx, pagesize: %d\n",
		       attempts, ret, pfn, val->pagesize);
		return -EFAULT;
	}
	return 0;
}

/*
 * v8 14/56 (research §1.6): -EINVAL for an invalid pfn; else an assigned entry for asid at gpa,
 * page size X86_TO_RMP_PG_LEVEL(level) (1G becomes 2M), through rmpupdate().
 */
int rmp_make_private(u64 pfn, u64 gpa, enum pg_level level, int asid, bool immutable)
{
	struct rmp_state state;

	pr_debug("%s: GPA: 0x%llx, PFN: 0x%llx, level: %d, immutable: %d\n", __func__, gpa, pfn,
		 (int)level, immutable);
	if (!pfn_valid(pfn))
		return -EINVAL;
	memset(&state, 0, sizeof(state));
	state.assigned = 1;
	state.asid = (u32)asid;
	state.immutable = immutable;
	state.gpa = gpa;
	state.pagesize = X86_TO_RMP_PG_LEVEL(level);
	return rmpupdate(pfn, &state);
}

/* v8 14/56 (research §1.6): the all-zero (hypervisor-owned) state with the level's page size. */
int rmp_make_shared(u64 pfn, enum pg_level level)
{
	struct rmp_state state;

	pr_debug("%s: PFN: 0x%llx, level: %d\n", __func__, pfn, (int)level);
	if (!pfn_valid(pfn))
		return -EINVAL;
	memset(&state, 0, sizeof(state));
	state.pagesize = X86_TO_RMP_PG_LEVEL(level);
	return rmpupdate(pfn, &state);
}

/* arch/x86/kvm/svm/sev.c, the context of v8 48/56 (research §1.8): PSMASH of the 2M-aligned
 * pfn, no retry. */
int snp_rmptable_psmash(struct kvm *kvm, kvm_pfn_t pfn)
{
	(void)kvm;
	pfn = pfn & ~(KVM_PAGES_PER_HPAGE(PG_LEVEL_2M) - 1);
	return psmash(pfn);
}

int harness_update_mem_attr(const struct harness_env *env, unsigned int attr, uint64_t start,
			    uint64_t end)
{
	const struct harness_env *outer = current;
	struct kvm_svm svm;
	struct kvm_memory_slot slot;
	int rc;

	memset(&svm, 0, sizeof(svm));
	svm.sev_info.active = env->snp_guest != 0;
	svm.sev_info.es_active = env->snp_guest != 0;
	svm.sev_info.snp_active = env->snp_guest != 0;
	svm.sev_info.asid = (unsigned int)env->asid;

	memset(&slot, 0, sizeof(slot));
	slot.base_gfn = env->base_gfn;
	slot.npages = (unsigned long)env->npages;
	slot.flags = env->slot_can_be_private ? KVM_MEM_PRIVATE : 0;
	slot.id = (short)env->slot_id;
	slot.kvm = &svm.kvm;

	current = env;
	rc = sev_update_mem_attr(&slot, attr, start, end);
	current = outer;
	return rc;
}
