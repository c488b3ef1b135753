// The harness child's sandbox and crash reporting (see include/sandbox.h). Everything the
// handlers do is async-signal-safe except backtrace(), which is warmed up first (its first call
// loads libgcc_s) and is what crash reporters commonly do in a process that is about to die.
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <grp.h>
#include <link.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <spawn.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SANDBOX_IP(uc) ((uintptr_t)(uc)->uc_mcontext.gregs[REG_RIP])
#elif defined(__aarch64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#define SANDBOX_IP(uc) ((uintptr_t)(uc)->uc_mcontext.pc)
#else
#error "the harness sandbox knows x86_64 and aarch64"
#endif

/* The harness library's load range and load bias (ELF address = runtime address - bias). */
static uintptr_t library_start, library_end, library_bias;
/* Non-NULL while the patch's code runs: the entry function called. */
static const char *volatile current_entry;
static char alternate_stack[128 * 1024];

struct library_search {
	const char *path;
	int found;
};

static int find_library(struct dl_phdr_info *info, size_t size, void *data)
{
	struct library_search *search = data;
	uintptr_t low = UINTPTR_MAX, high = 0;

	(void)size;
	if (!info->dlpi_name || strcmp(info->dlpi_name, search->path) != 0)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *header = &info->dlpi_phdr[i];
		uintptr_t start, end;

		if (header->p_type != PT_LOAD)
			continue;
		start = info->dlpi_addr + header->p_vaddr;
		end = start + header->p_memsz;
		if (start < low)
			low = start;
		if (end > high)
			high = end;
	}
	library_bias = info->dlpi_addr;
	library_start = low;
	library_end = high;
	search->found = 1;
	return 1;
}

int kcc_sandbox_note_library(const char *path)
{
	struct library_search search = { path, 0 };

	dl_iterate_phdr(find_library, &search);
	return search.found ? 0 : -1;
}

int kcc_sandbox_protocol_fds(int *in, int *out)
{
	int null_fd;

	*in = fcntl(0, F_DUPFD_CLOEXEC, 10);
	*out = fcntl(1, F_DUPFD_CLOEXEC, 10);
	if (*in < 0 || *out < 0)
		return -1;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(2, 1) < 0)
		return -1;
	close(null_fd);
	return 0;
}

/* --- one line, built without malloc or stdio --- */

struct line {
	char text[4096];
	size_t used;
};

static void put(struct line *line, const char *text)
{
	while (*text && line->used < sizeof(line->text) - 2)
		line->text[line->used++] = *text++;
}

static void put_number(struct line *line, uint64_t value, unsigned base)
{
	char digits[24];
	int count = 0;

	if (base == 16)
		put(line, "0x");
	do {
		digits[count++] = "0123456789abcdef"[value % base];
		value /= base;
	} while (value && count < (int)sizeof(digits));
	while (count > 0 && line->used < sizeof(line->text) - 2)
		line->text[line->used++] = digits[--count];
}

/* Frames inside the harness library, as ELF addresses: "ip:" the exact instruction, "ra:"
 * return addresses (the call is the byte before). */
static void put_frames(struct line *line, uintptr_t exact_ip)
{
	void *frames[48];
	int count = backtrace(frames, 48);
	int written = 0;

	put(line, " frames=");
	if (exact_ip >= library_start && exact_ip < library_end) {
		put(line, "ip:");
		put_number(line, exact_ip - library_bias, 16);
		written++;
	}
	for (int i = 0; i < count; i++) {
		uintptr_t address = (uintptr_t)frames[i];

		if (address < library_start || address >= library_end || address == exact_ip)
			continue;
		if (written++)
			put(line, ",");
		put(line, "ra:");
		put_number(line, address - library_bias, 16);
	}
	if (!written)
		put(line, "-");
}

static void report(const char *kind, int signal_number, const siginfo_t *info, const ucontext_t *context)
{
	struct line line = { .used = 0 };
	uintptr_t ip = context ? SANDBOX_IP(context) : 0;

	put(&line, "harness-crash kind=");
	put(&line, kind);
	put(&line, " signal=");
	put_number(&line, (uint64_t)signal_number, 10);
	if (info) {
		put(&line, " code=");
		put_number(&line, (uint64_t)(int64_t)info->si_code, 10);
		put(&line, " addr=");
		put_number(&line, (uint64_t)(uintptr_t)info->si_addr, 16);
		if (signal_number == SIGSYS) {
			put(&line, " syscall=");
			put_number(&line, (uint64_t)info->si_syscall, 10);
		}
	}
	put(&line, " in-call=");
	put(&line, current_entry ? current_entry : "-");
	put_frames(&line, ip);
	line.text[line.used++] = '\n';
	(void)!write(2, line.text, line.used);
}

static void on_fatal_signal(int signal_number, siginfo_t *info, void *context)
{
	/* SA_RESETHAND has restored the default action: returning re-raises the fault (or, for a
	 * trapped system call, delivers the pending signal), and the process dies of it. */
	report(signal_number == SIGSYS ? "forbidden-call" : signal_number == SIGABRT ? "abort" : "signal",
	       signal_number, info, context);
	if (signal_number == SIGABRT || signal_number == SIGSYS)
		raise(signal_number);
}

static void on_hang_probe(int signal_number, siginfo_t *info, void *context)
{
	(void)info;
	report("hang", signal_number, NULL, context);
}

static void on_exit_hook(void)
{
	if (current_entry)
		report("exit", 0, NULL, NULL);
}

int kcc_sandbox_install_handlers(void)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP };
	stack_t stack = { .ss_sp = alternate_stack, .ss_size = sizeof(alternate_stack), .ss_flags = 0 };
	struct sigaction action;
	void *warm[2];

	backtrace(warm, 2);
	if (sigaltstack(&stack, NULL) < 0)
		return -1;
	memset(&action, 0, sizeof(action));
	action.sa_sigaction = on_fatal_signal;
	action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
	sigemptyset(&action.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		if (sigaction(fatal[i], &action, NULL) < 0)
			return -1;
	action.sa_sigaction = on_hang_probe;
	action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	if (sigaction(SIGUSR2, &action, NULL) < 0)
		return -1;
	return atexit(on_exit_hook) == 0 ? 0 : -1;
}

void kcc_sandbox_call_begin(const char *entry)
{
	current_entry = entry;
}

void kcc_sandbox_call_end(void)
{
	current_entry = NULL;
}

/* --- the sandbox --- */

#define ALLOW(number) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (number), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static int install_seccomp(void)
{
	/* What the request loop, malloc, the Swift runtime's locks and the crash handlers need.
	 * Everything else — open, socket, execve, clone, kill of another process, ioctl … — traps
	 * (SIGSYS), and the handler names the call. tgkill is allowed on this process only (raise). */
	uint32_t pid = (uint32_t)getpid();
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		ALLOW(SYS_read), ALLOW(SYS_write), ALLOW(SYS_readv), ALLOW(SYS_writev),
		ALLOW(SYS_mmap), ALLOW(SYS_munmap), ALLOW(SYS_mremap), ALLOW(SYS_mprotect),
		ALLOW(SYS_madvise), ALLOW(SYS_brk), ALLOW(SYS_futex),
		ALLOW(SYS_rt_sigprocmask), ALLOW(SYS_rt_sigreturn), ALLOW(SYS_getpid), ALLOW(SYS_gettid),
		ALLOW(SYS_exit), ALLOW(SYS_exit_group), ALLOW(SYS_restart_syscall),
		ALLOW(SYS_clock_gettime), ALLOW(SYS_clock_nanosleep), ALLOW(SYS_nanosleep),
		ALLOW(SYS_gettimeofday), ALLOW(SYS_sched_yield), ALLOW(SYS_getrandom),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tgkill, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	struct sock_fprog program = { .len = (unsigned short)(sizeof(filter) / sizeof(filter[0])), .filter = filter };

	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program);
}

static void append(char *report, int size, const char *text)
{
	size_t used = strlen(report);

	if (used + 1 < (size_t)size)
		snprintf(report + used, (size_t)size - used, "%s%s", used ? "; " : "", text);
}

int kcc_sandbox_enter(uint64_t memory_limit, char *report, int report_size)
{
	struct rlimit none = { 0, 0 };
	struct rlimit output = { 64 << 20, 64 << 20 };

	report[0] = '\0';
	if (geteuid() == 0) {
		if (unshare(CLONE_NEWNET) == 0)
			append(report, report_size, "own network namespace");
		else
			append(report, report_size, "network namespace refused");
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			return -1;
		append(report, report_size, "uid/gid 65534 (nobody)");
	} else if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
		append(report, report_size, "own user and network namespace");
	} else {
		append(report, report_size, "unprivileged; no namespaces (the kernel refused them)");
	}
	setrlimit(RLIMIT_CORE, &none);
	setrlimit(RLIMIT_FSIZE, &output);
	if (memory_limit) {
		struct rlimit memory = { memory_limit, memory_limit };
		setrlimit(RLIMIT_AS, &memory);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (install_seccomp() < 0)
		return -1;
	append(report, report_size, "seccomp: read/write on its pipes, memory, time; any other system call traps");
	return 0;
}

/* --- the parent's side --- */

int kcc_sandbox_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	/* A reply carries a whole RMP and a call list (often 100-300 KB): a 1 MiB pipe takes it in
	 * one write instead of a wake-up every 64 KB. Best effort (pipe-max-size may be lower). */
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	return 0;
}

int kcc_sandbox_anonymous_file(const char *folder)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/checker-harness-XXXXXX", folder) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

int kcc_sandbox_spawn(const char *path, char *const argv[], char *const environment[], int stdin_fd,
		      int stdout_fd, int stderr_fd)
{
	posix_spawn_file_actions_t actions;
	pid_t pid;
	int rc;

	if (posix_spawn_file_actions_init(&actions) != 0)
		return -1;
	rc = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
	/* No other descriptor of the checker (results files, VM consoles) reaches the child. */
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
	if (!rc)
		rc = posix_spawn(&pid, path, &actions, NULL, argv, environment);
	posix_spawn_file_actions_destroy(&actions);
	if (rc) {
		errno = rc;
		return -1;
	}
	return pid;
}
