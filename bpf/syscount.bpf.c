// syscount: count syscalls (and their latency) in the kernel, filtered in the kernel.
// Counts live in a per-CPU array indexed by syscall number (no hashing, no locks) or, for -P,
// a per-CPU hash keyed by process. Entry timestamps for -L live in task-local storage.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "regs.bpf.h"
#include "syscount.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"

const volatile __u32 filter_tgid = 0;
const volatile __u32 filter_tid = 0;
const volatile bool failures_only = false;
const volatile __s32 filter_errno = 0;      /* positive errno, 0 = any */
const volatile bool by_process = false;
const volatile bool measure_latency = false;
const volatile bool filter_syscalls = false;
const volatile __u8 syscall_allowed[SYSCOUNT_MAX_SYSCALLS] = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYSCOUNT_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct syscount_value);
} by_syscall SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SYSCOUNT_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct syscount_proc);
} by_proc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} start_ns SEC(".maps");

/* id: bpf_get_current_pid_tgid(), fetched once per event */
static __always_inline bool wanted_task(__u64 id)
{
	if (is_self(id))
		return false;
	if (filter_tgid && (id >> 32) != filter_tgid)
		return false;
	if (filter_tid && (__u32)id != filter_tid)
		return false;
	if (!cgroup_wanted())
		return false;
	return true;
}

static __always_inline bool wanted_syscall(long nr)
{
	if (nr < 0 || nr >= SYSCOUNT_MAX_SYSCALLS)
		return false;
	if (filter_syscalls && !syscall_allowed[nr])
		return false;
	return true;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(syscount_enter, struct pt_regs *regs, long nr)
{
	if (!wanted_task(bpf_get_current_pid_tgid()) || !wanted_syscall(nr))
		return 0;
	__u64 *ts = bpf_task_storage_get(&start_ns, bpf_get_current_task_btf(), 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(syscount_exit, struct pt_regs *regs, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!wanted_task(id))
		return 0;
	long nr = SYSCALL_NR(regs);
	if (!wanted_syscall(nr))
		return 0;
	if (failures_only && !(ret < 0 && ret >= -4095))
		return 0;
	if (filter_errno && ret != -filter_errno)
		return 0;

	__u64 delta = 0;
	if (measure_latency) {
		__u64 *ts = bpf_task_storage_get(&start_ns, bpf_get_current_task_btf(), 0, 0);
		if (!ts || !*ts)
			return 0; /* entered before we attached */
		delta = bpf_ktime_get_ns() - *ts;
		*ts = 0;
	}

	if (by_process) {
		__u32 tgid = id >> 32;
		struct syscount_proc *p = bpf_map_lookup_elem(&by_proc, &tgid);
		if (!p) {
			struct syscount_proc init = {};
			bpf_get_current_comm(init.comm, sizeof(init.comm));
			bpf_map_update_elem(&by_proc, &tgid, &init, BPF_NOEXIST);
			p = bpf_map_lookup_elem(&by_proc, &tgid);
			if (!p)
				return 0;
		}
		p->count++;
		p->total_ns += delta;
	} else {
		__u32 key = nr;
		struct syscount_value *v = bpf_map_lookup_elem(&by_syscall, &key);
		if (v) {
			v->count++;
			v->total_ns += delta;
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
