// Syscalls Swift cannot reach through Glibc: `syscall(2)` is variadic, and the vsock address
// type lives in a UAPI header Glibc's module does not export. One thin function each.
#ifndef CHECKER_KERNEL_CALLS_H
#define CHECKER_KERNEL_CALLS_H

#include <linux/vm_sockets.h>
#include <sys/socket.h>

/// finit_module(2): loads the module in `fd`. Returns 0 or -1 with errno.
int kcc_finit_module(int fd, const char *params, int flags);
/// delete_module(2) with O_NONBLOCK, as rmmod does. Returns 0 or -1 with errno.
int kcc_delete_module(const char *name);
/// The calling thread's id (gettid(2)).
int kcc_gettid(void);


// KVM, for the memory-attributes live system. Each returns the ioctl's result (≥ 0) or -1 with
// errno. The layouts and numbers are the 6.12 UAPI's (checked at compile time in the .c file),
// defined there when the build machine's <linux/kvm.h> is older (bookworm's 6.1 has no
// KVM_SET_MEMORY_ATTRIBUTES).

/// open("/dev/kvm", O_RDWR | O_CLOEXEC).
int kcc_kvm_open(void);
/// KVM_CREATE_VM(type) on the /dev/kvm fd: a VM fd.
int kcc_kvm_create_vm(int kvm_fd, unsigned long type);
/// KVM_CHECK_EXTENSION(capability) on /dev/kvm or a VM fd.
int kcc_kvm_check_extension(int fd, long capability);
/// KVM_SET_USER_MEMORY_REGION with struct kvm_userspace_memory_region.
int kcc_kvm_set_user_memory_region(int vm_fd, unsigned int slot, unsigned int flags,
                                   unsigned long long guest_phys_addr, unsigned long long memory_size,
                                   unsigned long long userspace_addr);
/// KVM_SET_MEMORY_ATTRIBUTES with struct kvm_memory_attributes { address, size, attributes, flags }.
int kcc_kvm_set_memory_attributes(int vm_fd, unsigned long long address, unsigned long long size,
                                  unsigned long long attributes, unsigned long long flags);
/// The request numbers as compiled here, for checking against the model's.
unsigned long kcc_kvm_set_memory_attributes_number(void);
unsigned long kcc_kvm_set_user_memory_region_number(void);

#endif
