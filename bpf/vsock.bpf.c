// SPDX-License-Identifier: GPL-2.0
/*
 * vsock probes: which transport the vsock core picks, what the transports' datagram callbacks
 * return, and which module references a syscall drops.
 *
 * Kernel functions (user space chooses them at run time and gives each attachment a cookie, see
 * events.h; none is named in a SEC() here except module_put):
 *   - core syscall handlers, cookie flag ARG0_IS_SOCKET (arg0 is `struct socket *`; sock->sk
 *     becomes the thread's current socket until the handler returns):
 *     vsock_dgram_sendmsg, vsock_dgram_connect, vsock_connect, vsock_bind
 *   - vsock_assign_transport(vsk, psk), cookie flag REPORT_TRANSPORT_AFTER_RETURN: the return
 *     event names vsk->transport as assigned by the call
 *   - transport callbacks: vmci_transport_dgram_{bind,enqueue} (flag ARG0_IS_VSOCK_SOCK),
 *     vmci_transport_dgram_allow, the virtio_transport_* family, …
 *   - module_put(mod) (vmlinux): reported only while the thread is inside a core handler, which
 *     shows the per-packet transport reference of "af_vsock: support multi-transport datagrams"
 *
 * Mechanisms: the generic programs kcc_entry/kcc_return are attached as kprobe/kretprobe with a
 * BPF cookie, once per function. Not fentry/fexit: a trampoline on a *module* function takes a
 * reference on that module (bpf_trampoline_module_get), which would make every probed transport
 * unremovable and its /sys/module/<name>/refcnt off by one, the very counts the checker checks.
 * kprobes pin nothing. For module_put, which lives in vmlinux, fentry is tried first
 * (kcc_module_put_fentry, loaded in a second object that shares this one's maps) with the kprobe
 * kcc_module_put as fallback.
 *
 * Only the process whose tgid is in kcc_config (.rodata, set before load) is reported. A full
 * ring buffer drops the event and counts it in `lost`: a run that lost events is inconclusive.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "events.h"
#include "vsock_core.h"

char LICENSE[] SEC("license") = "GPL";

/* The only global in .rodata, so it sits at offset 0 (user space writes it before load). */
const volatile struct kcc_config kcc_config = {};

#include "ring.h"

/* tid → the `struct vsock_sock *` a core syscall handler is working on. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} current_socket SEC(".maps");

/* tid → the vsk argument of a REPORT_TRANSPORT_AFTER_RETURN function, from entry to return. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} saved_vsock_sock SEC(".maps");

#define FLAG(name) ((__u64)KCC_FLAG_##name << KCC_COOKIE_FLAG_SHIFT)

/* The thread id if this process is the target, else 0. */
static __always_inline __u32 target_tid(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 want = kcc_config.target_tgid;

	if (want && (__u32)(id >> 32) != want)
		return 0;
	return (__u32)id;
}

/* Copies mod->name into out (KCC_NAME_LEN bytes, already zeroed). */
static __always_inline void module_name(struct module *mod, char *out)
{
	if (mod)
		bpf_core_read_str(out, KCC_NAME_LEN, &mod->name);
}

/* Copies the name of vsk->transport->module into out; "" if any link is NULL, or if the
 * running kernel has no BTF for struct vsock_sock (the vsock module not loaded at load time):
 * then the relocations below are dead code the verifier never sees. */
static __always_inline void transport_module_name(struct vsock_sock *vsk, char *out)
{
	if (!bpf_core_type_exists(struct vsock_sock) || !vsk)
		return;
	struct vsock_transport *transport = BPF_CORE_READ(vsk, transport);
	if (!transport)
		return;
	module_name(BPF_CORE_READ(transport, module), out);
}

/* A zeroed event in the ring buffer, or NULL (counted in `lost`). */
static __always_inline struct kcc_event *reserve(__u32 type, __u64 cookie, __u32 tid)
{
	struct kcc_event *e = ring_reserve_zeroed(sizeof(*e));

	if (!e)
		return NULL;
	e->timestamp_ns = bpf_ktime_get_ns();
	e->cookie = cookie;
	e->tid = tid;
	e->type = type;
	return e;
}

static __always_inline struct vsock_sock *lookup_socket(void *map, __u32 *tid)
{
	__u64 *pointer = bpf_map_lookup_elem(map, tid);
	return pointer ? (struct vsock_sock *)*pointer : NULL;
}

SEC("kprobe")
int kcc_entry(struct pt_regs *ctx)
{
	__u32 tid = target_tid();
	if (!tid)
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 arg0 = PT_REGS_PARM1(ctx);
	struct vsock_sock *vsk;

	if (cookie & FLAG(ARG0_IS_SOCKET)) {
		struct socket *sock = (struct socket *)arg0;
		__u64 sk = (__u64)BPF_CORE_READ(sock, sk);
		bpf_map_update_elem(&current_socket, &tid, &sk, BPF_ANY);
		vsk = (struct vsock_sock *)sk;
	} else if (cookie & (FLAG(ARG0_IS_VSOCK_SOCK) | FLAG(REPORT_TRANSPORT_AFTER_RETURN))) {
		vsk = (struct vsock_sock *)arg0;
	} else {
		vsk = lookup_socket(&current_socket, &tid);
	}
	if (cookie & FLAG(REPORT_TRANSPORT_AFTER_RETURN))
		bpf_map_update_elem(&saved_vsock_sock, &tid, &arg0, BPF_ANY);

	struct kcc_event *e = reserve(KCC_CALL, cookie, tid);
	if (!e)
		return 0;
	e->args[0] = arg0;
	e->args[1] = PT_REGS_PARM2(ctx);
	e->args[2] = PT_REGS_PARM3(ctx);
	e->args[3] = PT_REGS_PARM4(ctx);
	transport_module_name(vsk, e->module);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kretprobe")
int kcc_return(struct pt_regs *ctx)
{
	__u32 tid = target_tid();
	if (!tid)
		return 0;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct vsock_sock *vsk;

	if (cookie & FLAG(REPORT_TRANSPORT_AFTER_RETURN)) {
		vsk = lookup_socket(&saved_vsock_sock, &tid);
		bpf_map_delete_elem(&saved_vsock_sock, &tid);
	} else {
		vsk = lookup_socket(&current_socket, &tid);
	}

	struct kcc_event *e = reserve(KCC_RETURN, cookie, tid);
	if (e) {
		e->ret = (__s64)PT_REGS_RC(ctx);
		transport_module_name(vsk, e->module);
		bpf_ringbuf_submit(e, 0);
	}
	if (cookie & FLAG(ARG0_IS_SOCKET))
		bpf_map_delete_elem(&current_socket, &tid);
	return 0;
}

/* module_put(mod) inside a core handler of the target process. */
static __always_inline int report_module_put(struct module *mod, __u64 cookie)
{
	__u32 tid = target_tid();
	if (!tid || !mod || !bpf_map_lookup_elem(&current_socket, &tid))
		return 0;
	struct kcc_event *e = reserve(KCC_MODULE_PUT, cookie, tid);
	if (!e)
		return 0;
	e->args[0] = (__u64)mod;
	module_name(mod, e->module);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("kprobe/module_put")
int BPF_KPROBE(kcc_module_put, struct module *mod)
{
	return report_module_put(mod, bpf_get_attach_cookie(ctx));
}

/* Not loaded with the object: user space loads it in a second object that reuses this one's
 * maps, and falls back to kcc_module_put when the kernel refuses it. */
SEC("fentry/module_put")
int BPF_PROG(kcc_module_put_fentry, struct module *mod)
{
	return report_module_put(mod, 0);
}
