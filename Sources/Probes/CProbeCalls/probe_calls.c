#define _GNU_SOURCE
#include "probe_calls.h"

#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int kcc_open_trace_event(unsigned long long id)
{
	struct perf_event_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.config = id;
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	return (int)syscall(SYS_perf_event_open, &attr, -1 /* any process */, 0 /* CPU 0 */, -1, PERF_FLAG_FD_CLOEXEC);
}
