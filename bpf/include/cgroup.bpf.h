/* -c CGROUP_PATH and --container: only tasks in the wanted cgroups are observed, checked in the
 * kernel so that no event of another container leaves it. The loader (BpfObject.load) sets
 * bpfkit_filter_cgroups and fills bpfkit_cgroups with the cgroup2 ids (directory inodes) of the
 * wanted cgroups and of every cgroup below them (or, up to 8 of them, bpfkit_cgroup_ids), for
 * any object that includes this header.
 * Without a filter the check is a constant the verifier removes: no cost.
 * Include after vmlinux.h and bpf_core_read.h. */
#ifndef BPFKIT_CGROUP_BPF_H
#define BPFKIT_CGROUP_BPF_H

#define BPFKIT_MAX_CGROUPS 4096
#define BPFKIT_INLINE_CGROUPS 8

const volatile bool bpfkit_filter_cgroups = false;
/* Up to BPFKIT_INLINE_CGROUPS ids are compared inline (cheaper than a map lookup); more go
 * to the map. The count is a constant, so the verifier keeps only the path in use. */
const volatile __u32 bpfkit_ncgroups = 0;
const volatile __u64 bpfkit_cgroup_ids[BPFKIT_INLINE_CGROUPS] = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFKIT_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, __u8);
} bpfkit_cgroups SEC(".maps");

static __always_inline bool cgroup_id_wanted(__u64 id)
{
	if (bpfkit_ncgroups > BPFKIT_INLINE_CGROUPS)
		return bpf_map_lookup_elem(&bpfkit_cgroups, &id) != NULL;
#pragma unroll
	for (int i = 0; i < BPFKIT_INLINE_CGROUPS; i++)
		if (i < bpfkit_ncgroups && bpfkit_cgroup_ids[i] == id)
			return true;
	return false;
}

/* The current task is in a wanted cgroup (always true without a filter). */
static __always_inline bool cgroup_wanted(void)
{
	if (!bpfkit_filter_cgroups)
		return true;
	return cgroup_id_wanted(bpf_get_current_cgroup_id());
}

/* The same for another task (the one switched in, woken, or exiting). */
static __always_inline bool task_cgroup_wanted(struct task_struct *t)
{
	if (!bpfkit_filter_cgroups)
		return true;
	return cgroup_id_wanted(BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id));
}

#endif
