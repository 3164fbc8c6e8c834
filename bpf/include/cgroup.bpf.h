/* -c CGROUP_PATH and --container: only tasks in the wanted cgroups are observed, checked in the
 * kernel so that no event of another container leaves it. The loader (BpfObject.load) sets
 * bpfkit_filter_cgroups and fills bpfkit_cgroups with the cgroup2 ids (directory inodes) of the
 * wanted cgroups and of every cgroup below them, for any object that includes this header.
 * Without a filter the check is a constant the verifier removes: no cost.
 * Include after vmlinux.h and bpf_core_read.h. */
#ifndef BPFKIT_CGROUP_BPF_H
#define BPFKIT_CGROUP_BPF_H

#define BPFKIT_MAX_CGROUPS 4096

const volatile bool bpfkit_filter_cgroups = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFKIT_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, __u8);
} bpfkit_cgroups SEC(".maps");

/* The current task is in a wanted cgroup (always true without a filter). */
static __always_inline bool cgroup_wanted(void)
{
	if (!bpfkit_filter_cgroups)
		return true;
	__u64 id = bpf_get_current_cgroup_id();
	return bpf_map_lookup_elem(&bpfkit_cgroups, &id) != NULL;
}

/* The same for another task (the one switched in, woken, or exiting). */
static __always_inline bool task_cgroup_wanted(struct task_struct *t)
{
	if (!bpfkit_filter_cgroups)
		return true;
	__u64 id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	return bpf_map_lookup_elem(&bpfkit_cgroups, &id) != NULL;
}

#endif
