/* Events a ring buffer had no room for, counted per CPU so user space reports them: never a
 * silent drop. Include after vmlinux.h and bpf_helpers.h; read the map `lost` from user space. */
#ifndef BPFKIT_LOST_BPF_H
#define BPFKIT_LOST_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);
	if (n)
		(*n)++;
}

#endif
