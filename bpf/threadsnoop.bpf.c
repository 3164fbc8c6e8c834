// threadsnoop: thread creation (clone with CLONE_THREAD, seen at sched_process_fork) and thread
// exit (sched_process_exit) with the thread's lifetime, from task->start_time: no map needed.
// Runtimes name their threads after creating them (HotSpot, glibc's pthread_setname_np): a
// rename (task_rename) is an event of its own, so the names appear.
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

static __always_inline bool wanted(__u32 tgid, __u32 tid)
{
	return tgid != tid && !is_self_tgid(tgid) && cgroup_wanted() && (!filter_tgid || tgid == filter_tgid);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(threadsnoop_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 tgid = child->tgid;
	__u32 tid = child->pid;
	if (!wanted(tgid, tid))
		return 0; /* a new process, not a thread; ours; or filtered out */
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
	if (!wanted(tgid, tid))
		return 0; /* a thread group leader is a process (exitsnoop); ours; or filtered out */
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

SEC("tp_btf/task_rename")
int BPF_PROG(threadsnoop_rename, struct task_struct *task, const char *comm)
{
	__u32 tgid = task->tgid;
	__u32 tid = task->pid;
	if (!wanted(tgid, tid))
		return 0;
	struct thread_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->lifetime_ns = 0;
	e->kind = THREAD_RENAME;
	e->pid = tgid;
	e->tid = tid;
	e->ptid = (__u32)bpf_get_current_pid_tgid();
	e->exit_code = 0;
	e->pad = 0;
	/* The tracepoint fires before task->comm changes: the new name is the argument. */
	if (bpf_probe_read_kernel_str(&e->comm, sizeof(e->comm), comm) < 0)
		e->comm[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
