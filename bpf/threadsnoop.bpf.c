// threadsnoop: thread creation (clone with CLONE_THREAD, seen at sched_process_fork) and thread
// exit (sched_process_exit) with the thread's lifetime, from task->start_time: no map needed.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "snoop.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"
#include "btf_keep.bpf.h"

BTF_KEEP_ENUM(thread_kind);
SNOOP_LAYOUT(thread_event);

const volatile __u32 filter_tgid = 0;
const volatile bool trace_exits = true;

SEC("tp_btf/sched_process_fork")
int BPF_PROG(threadsnoop_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = child->tgid;
	__u32 tid = child->pid;
	if (tgid == tid)
		return 0; /* a new process, not a thread */
	if (is_self_tgid(tgid))
		return 0;
	if (!cgroup_wanted())
		return 0;
	if (filter_tgid && tgid != filter_tgid)
		return 0;
	struct thread_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = bpf_get_current_cgroup_id(); /* the parent's: the child starts in it */
	e->lifetime_ns = 0;
	e->kind = THREAD_NEW;
	e->pid = tgid;
	e->tid = tid;
	e->ptid = parent->pid;
	e->exit_code = 0;
	e->pad = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, parent, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(threadsnoop_exit, struct task_struct *task)
{
	if (!trace_exits)
		return 0;
	__u32 tgid = task->tgid;
	__u32 tid = task->pid;
	if (tgid == tid)
		return 0; /* a thread group leader: a process (exitsnoop) */
	if (is_self_tgid(tgid))
		return 0;
	if (!cgroup_wanted())
		return 0;
	if (filter_tgid && tgid != filter_tgid)
		return 0;
	struct thread_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	e->ts_ns = now;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->lifetime_ns = now - task->start_time;
	e->kind = THREAD_EXIT;
	e->pid = tgid;
	e->tid = tid;
	e->ptid = 0;
	e->exit_code = task->exit_code;
	e->pad = 0;
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
