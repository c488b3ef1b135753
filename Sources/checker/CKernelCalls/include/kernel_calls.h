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

#endif
