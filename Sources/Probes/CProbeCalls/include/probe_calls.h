// Syscalls the Probes module needs that Swift cannot reach through Glibc (`syscall(2)` is
// variadic). One thin function each.
#ifndef KCC_PROBE_CALLS_H
#define KCC_PROBE_CALLS_H

/// perf_event_open(2) of a trace event (PERF_TYPE_TRACEPOINT) by its id, for any process, on CPU 0,
/// close-on-exec. A BPF program attached to it runs on every CPU: BPF programs hang on the trace
/// event itself, not on the perf event. Returns the fd or -1 with errno.
int kcc_open_trace_event(unsigned long long id);

#endif /* KCC_PROBE_CALLS_H */
