/* bpfkit never observes itself: its own process is left out in the kernel, so that its reads,
 * writes, opens and threads never show up in what it reports, and its output cannot feed back
 * into what it measures (ext4slower writing to ext4). The loader (BpfObject.load) sets
 * bpfkit_self_tgid to its own pid whenever an object has it; 0 (not set) excludes nothing,
 * which also keeps the idle task (tgid 0) visible to the profiler.
 * Include after vmlinux.h. Callers pass the pid_tgid (or tgid) they already have: no extra
 * helper call on the hot path. */
#ifndef BPFKIT_SELF_BPF_H
#define BPFKIT_SELF_BPF_H

const volatile __u32 bpfkit_self_tgid = 0;

/* A tgid (e.g. task->tgid, or pid_tgid >> 32) is bpfkit's own process. */
static __always_inline bool is_self_tgid(__u32 tgid)
{
	return bpfkit_self_tgid && tgid == bpfkit_self_tgid;
}

/* The value of bpf_get_current_pid_tgid() belongs to bpfkit's own process. */
static __always_inline bool is_self(__u64 pid_tgid)
{
	return is_self_tgid(pid_tgid >> 32);
}

#endif
