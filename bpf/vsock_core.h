/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The few kernel types vsock.bpf.c reads, written by hand for CO-RE instead of a generated
 * vmlinux.h. Each struct lists only the fields read; preserve_access_index makes clang record
 * every access as a relocation that libbpf resolves at load time against the running kernel's
 * BTF (vmlinux for `struct module`, the vsock module's BTF for the vsock types), so the real
 * offsets and sizes do not matter here.
 */
#ifndef KCC_VSOCK_CORE_H
#define KCC_VSOCK_CORE_H

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* include/linux/module.h: name is char[MODULE_NAME_LEN]. */
struct module {
	char name[56];
};

/* include/net/af_vsock.h */
struct vsock_transport {
	struct module *module;
};

struct sock;

/* include/net/af_vsock.h: starts with `struct sock sk`, so a `struct sock *` of a vsock socket
 * and its `struct vsock_sock *` are the same pointer. */
struct vsock_sock {
	struct vsock_transport *transport;
};

/* include/linux/net.h */
struct socket {
	struct sock *sk;
};

#pragma clang attribute pop

#endif /* KCC_VSOCK_CORE_H */
