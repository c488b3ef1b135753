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
