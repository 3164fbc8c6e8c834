// exitsnoop: process (or, with --per-thread, thread) exits with age and exit code, at
// sched_process_exit (after do_exit stored the exit code).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "snoop.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"

SNOOP_LAYOUT(exit_event);

const volatile __u32 filter_tgid = 0;
const volatile bool per_thread = false;
const volatile bool failed_only = false;

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exitsnoop_exit, struct task_struct *task)
{
	__u32 tgid = task->tgid;
	__u32 tid = task->pid;
	if (!per_thread && tgid != tid)
		return 0;
	if (is_self_tgid(tgid))
		return 0;
	if (!cgroup_wanted())
		return 0;
	if (filter_tgid && tgid != filter_tgid)
		return 0;
	int code = task->exit_code;
	if (failed_only && code == 0)
		return 0;
	struct exit_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	__u64 start = per_thread ? task->start_time : BPF_CORE_READ(task, group_leader, start_time);
	e->ts_ns = now;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->age_ns = now - start;
	e->pid = tgid;
	e->tid = tid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exit_code = code;
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
