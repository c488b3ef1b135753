/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The few KVM types snp.bpf.c reads, written by hand for CO-RE instead of a generated
 * vmlinux.h (like vsock_core.h). Each struct lists only the fields read; preserve_access_index
 * makes clang record every access as a relocation that libbpf resolves at load time against the
 * running kernel's BTF: these types live in the `kvm` module's BTF (CONFIG_KVM=m), so they are
 * found only when kvm is loaded. Every read is guarded by bpf_core_field_exists, so a kernel
 * without them still loads the programs (the read is dead code) and the event says NO_BTF.
 */
#ifndef KCC_SNP_KVM_H
#define KCC_SNP_KVM_H

#include <linux/types.h>

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* include/linux/kvm_host.h:597 (6.12), the same three fields in the v8 series' base tree:
 * gfn_t base_gfn; unsigned long npages; short id. */
struct kvm_memory_slot {
	__u64 base_gfn;
	unsigned long npages;
	short id;
};

/* include/linux/kvm_host.h:259 (6.12): union kvm_mmu_notifier_arg { unsigned long attributes; } */
union kvm_mmu_notifier_arg {
	unsigned long attributes;
};

/* include/linux/kvm_host.h:268 (6.12): slot, start, end, arg, attr_filter, may_block. */
struct kvm_gfn_range {
	struct kvm_memory_slot *slot;
	__u64 start;
	__u64 end;
	union kvm_mmu_notifier_arg arg;
};

#pragma clang attribute pop

#endif /* KCC_SNP_KVM_H */
