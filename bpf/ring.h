/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The event ring every probe family reports through, and its loss counter. User space finds the
 * maps by these names (`events`, `lost`); a run whose `lost` is not zero is inconclusive.
 * Included by one .bpf.c per object, after the bpf helper headers.
 */
#ifndef KCC_RING_H
#define KCC_RING_H

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Events dropped because the ring buffer was full: one counter, key 0. Mmapable, so user space
 * reads it after every operation without a bpf() syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* `size` zeroed bytes in the ring buffer, or NULL when it is full (then counted in `lost`). */
static __always_inline void *ring_reserve_zeroed(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e) {
		__u32 key = 0;
		__u64 *count = bpf_map_lookup_elem(&lost, &key);
		if (count)
			__sync_fetch_and_add(count, 1);
		return NULL;
	}
	__builtin_memset(e, 0, size);
	return e;
}

#endif /* KCC_RING_H */
