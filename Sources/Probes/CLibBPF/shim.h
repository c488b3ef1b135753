/* The C side of the Probes module: #include lines only (STYLE.md §2).
 * The next issue adds bpf/events.h here, so the event structs are defined once. */
#ifndef CLIBBPF_SHIM_H
#define CLIBBPF_SHIM_H

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf_version.h>

#endif /* CLIBBPF_SHIM_H */
