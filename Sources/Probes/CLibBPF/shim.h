/* The C side of the Probes module: #include lines only (STYLE.md §2).
 * bpf/events.h is the probes' wire format, shared with bpf/vsock.bpf.c, so `struct kcc_event`
 * is defined once; bpf/snp_events.h is the SNP probes' (bpf/snp.bpf.c). The paths are relative
 * to this file: Sources/Probes/CLibBPF → package root. */
#ifndef CLIBBPF_SHIM_H
#define CLIBBPF_SHIM_H

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf_version.h>

#include "../../../bpf/events.h"
#include "../../../bpf/snp_events.h"

#endif /* CLIBBPF_SHIM_H */
