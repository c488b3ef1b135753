#define _GNU_SOURCE
#include "kernel_calls.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

int kcc_finit_module(int fd, const char *params, int flags)
{
	return (int)syscall(SYS_finit_module, fd, params, flags);
}

int kcc_delete_module(const char *name)
{
	return (int)syscall(SYS_delete_module, name, O_NONBLOCK);
}

int kcc_gettid(void)
{
	return (int)syscall(SYS_gettid);
}

/* KVM: the memory-attributes live system. */
#include <linux/kvm.h>
#include <stddef.h>
#include <sys/ioctl.h>

#ifndef KVM_SET_MEMORY_ATTRIBUTES
/* include/uapi/linux/kvm.h of 6.12 (lines 1557-1566). */
struct kvm_memory_attributes {
	__u64 address;
	__u64 size;
	__u64 attributes;
	__u64 flags;
};
#define KVM_SET_MEMORY_ATTRIBUTES _IOW(KVMIO, 0xd2, struct kvm_memory_attributes)
#endif

_Static_assert(sizeof(struct kvm_memory_attributes) == 32, "struct kvm_memory_attributes is 32 bytes");
_Static_assert(offsetof(struct kvm_memory_attributes, size) == 8, "size at 8");
_Static_assert(offsetof(struct kvm_memory_attributes, attributes) == 16, "attributes at 16");
_Static_assert(offsetof(struct kvm_memory_attributes, flags) == 24, "flags at 24");
_Static_assert(KVM_SET_MEMORY_ATTRIBUTES == 0x4020aed2UL, "_IOW(KVMIO, 0xd2, 32 bytes)");
_Static_assert(sizeof(struct kvm_userspace_memory_region) == 32, "struct kvm_userspace_memory_region is 32 bytes");

int kcc_kvm_open(void)
{
	return open("/dev/kvm", O_RDWR | O_CLOEXEC);
}

int kcc_kvm_create_vm(int kvm_fd, unsigned long type)
{
	return ioctl(kvm_fd, KVM_CREATE_VM, type);
}

int kcc_kvm_check_extension(int fd, long capability)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, capability);
}

int kcc_kvm_set_user_memory_region(int vm_fd, unsigned int slot, unsigned int flags,
                                   unsigned long long guest_phys_addr, unsigned long long memory_size,
                                   unsigned long long userspace_addr)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = guest_phys_addr,
		.memory_size = memory_size,
		.userspace_addr = userspace_addr,
	};
	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

int kcc_kvm_set_memory_attributes(int vm_fd, unsigned long long address, unsigned long long size,
                                  unsigned long long attributes, unsigned long long flags)
{
	struct kvm_memory_attributes attrs = {
		.address = address,
		.size = size,
		.attributes = attributes,
		.flags = flags,
	};
	return ioctl(vm_fd, KVM_SET_MEMORY_ATTRIBUTES, &attrs);
}

unsigned long kcc_kvm_set_memory_attributes_number(void)
{
	return KVM_SET_MEMORY_ATTRIBUTES;
}

unsigned long kcc_kvm_set_user_memory_region_number(void)
{
	return KVM_SET_USER_MEMORY_REGION;
}
