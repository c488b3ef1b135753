// The sandbox the patch-logic harness's child process runs in (Sources/checker/Harness/Sandbox).
//
// A patch from a mailing list is code from a stranger, and kernel patches under review crash:
// the child that runs a patch's functions drops root, leaves the network, and may make only the
// system calls its request loop needs (a seccomp allowlist); a crash, an abort, an exit or a
// forbidden call during a call into the patch is written to stderr as one `harness-crash` line
// that the parent turns into a finding (HarnessCrashReport.swift parses it).
#ifndef CHECKER_SANDBOX_H
#define CHECKER_SANDBOX_H

#include <stdint.h>

/// Where the harness library was loaded: frames inside [start, end) are reported as offsets
/// from `base` (the library's link-time addresses, which addr2line reads). Call after dlopen.
/// Returns 0, or -1 when the library is not among the loaded objects.
int kcc_sandbox_note_library(const char *path);

/// Moves the request protocol off fds 0 and 1 (stray printf from a patch would corrupt it):
/// returns the new fds in *in and *out, points fd 0 at /dev/null and fd 1 at fd 2.
/// Returns 0 or -1 with errno.
int kcc_sandbox_protocol_fds(int *in, int *out);

/// Installs the crash handlers (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP on an
/// alternate stack; an atexit hook; SIGUSR2 prints where the process is and goes on, for a
/// hang) and warms up the unwinder. Returns 0 or -1 with errno.
int kcc_sandbox_install_handlers(void);

/// Enters the sandbox; what was applied is written to `report` (one line). Root: a new network
/// namespace, then uid/gid 65534 with no groups; not root: a new user and network namespace if
/// the kernel allows it. Always: no new privileges, no core dumps, an address-space limit of
/// `memory_limit` bytes (0: none), and the seccomp allowlist (anything else traps). Returns 0, or
/// -1 with errno when a step that must succeed (no_new_privs, seccomp) fails.
int kcc_sandbox_enter(uint64_t memory_limit, char *report, int report_size);

/// Brackets one call into the patch's code: `entry` names it in crash lines.
void kcc_sandbox_call_begin(const char *entry);
void kcc_sandbox_call_end(void);

/// pipe2(fds, O_CLOEXEC) (a GNU extension Swift's Glibc module does not show).
int kcc_sandbox_pipe(int fds[2]);

/// An anonymous file for a child's stderr (created in `folder` and unlinked at once, so nothing
/// is left behind however the checker ends), close-on-exec. Returns the fd or -1 with errno.
int kcc_sandbox_anonymous_file(const char *folder);

/// The parent's side: starts `argv` with `environment`, its fd 0 = `stdin_fd`, fd 1 =
/// `stdout_fd`, fd 2 = `stderr_fd`, and no other descriptor of the parent.
/// Returns the pid, or -1 with errno.
int kcc_sandbox_spawn(const char *path, char *const argv[], char *const environment[], int stdin_fd,
                      int stdout_fd, int stderr_fd);

#endif
