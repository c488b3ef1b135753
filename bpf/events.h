/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The wire format of the probes: one event struct, written by the BPF programs into the ring
 * buffer and read by Sources/Probes (EventDecoding.swift). Included by bpf/vsock.bpf.c and, through
 * Sources/Probes/CLibBPF/shim.h, by Swift, so the layout is defined once.
 *
 * Fixed-width fields only, ordered largest first so there is no implicit padding; the size is
 * asserted below and by Tests/ProbesTests/EventLayoutTests.swift.
 */
#ifndef KCC_EVENTS_H
#define KCC_EVENTS_H

#include <linux/types.h>

/* The kernel's MODULE_NAME_LEN on 64-bit: 64 - sizeof(unsigned long). */
#define KCC_NAME_LEN 56

/* What happened; `struct kcc_event.type`. */
enum kcc_event_type {
	KCC_CALL = 1,       /* a probed function was entered */
	KCC_RETURN = 2,     /* a probed function returned */
	KCC_MODULE_PUT = 3, /* module_put() inside a core vsock syscall handler */
};

/*
 * The attach cookie of a probe (bpf_get_attach_cookie): the low 32 bits are the index of the
 * probe spec, assigned by user space; bits 32 and up are these flags, shifted by
 * KCC_COOKIE_FLAG_SHIFT.
 */
#define KCC_COOKIE_FLAG_SHIFT 32
enum kcc_cookie_flag {
	/* arg0 is a `struct vsock_sock *`: report its transport's module. */
	KCC_FLAG_ARG0_IS_VSOCK_SOCK = 1,
	/* arg0 is a `struct socket *` of a core syscall handler: sock->sk becomes the thread's
	 * current socket until the function returns. */
	KCC_FLAG_ARG0_IS_SOCKET = 2,
	/* arg0 is a `struct vsock_sock *` whose transport is reported on return (after the call). */
	KCC_FLAG_REPORT_TRANSPORT_AFTER_RETURN = 4,
};

struct kcc_event {
	__u64 timestamp_ns; /* bpf_ktime_get_ns() */
	__u64 cookie;       /* the attach cookie (spec index | flags << 32); 0 for KCC_MODULE_PUT */
	__s64 ret;          /* the return register (all 64 bits), KCC_RETURN only, else 0 */
	__u64 args[4];      /* the first four arguments, KCC_CALL only, else 0 */
	__u32 tid;          /* the thread (kernel pid) */
	__u32 type;         /* enum kcc_event_type */
	char module[KCC_NAME_LEN]; /* transport module name, NUL-terminated, "" if none */
};

#define KCC_EVENT_SIZE 120
_Static_assert(sizeof(struct kcc_event) == KCC_EVENT_SIZE, "struct kcc_event is 120 bytes");

/* Settings written by user space into .rodata before load. */
struct kcc_config {
	__u32 target_tgid; /* only this process is reported; 0 reports every process */
};

#endif /* KCC_EVENTS_H */
