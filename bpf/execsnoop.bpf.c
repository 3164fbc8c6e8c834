// execsnoop: one event per execve/execveat, emitted at syscall exit (tp_btf/sys_exit) so the
// result is known. A successful exec's argv is copied from the new image's argument area
// (mm->arg_start..arg_end, already in memory); a failed exec's from the caller's argv array,
// which is still mapped. No state is kept between entry and exit.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "regs.bpf.h"
#include "snoop.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"
#include "btf_keep.bpf.h"

BTF_KEEP_ENUM(exec_limits);

SNOOP_LAYOUT(exec_event);

const volatile __s32 nr_execve = -1;
const volatile __s32 nr_execveat = -1;
const volatile bool failed_only = false;
const volatile __u32 filter_ppid = 0;
const volatile __u32 filter_uid = (__u32)-1;
const volatile __u32 max_args = 20;

SEC("tp_btf/sys_exit")
int BPF_PROG(execsnoop_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);
	if (nr != nr_execve && nr != nr_execveat)
		return 0;
	if (failed_only && ret >= 0)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	if (!cgroup_wanted())
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	if (filter_ppid && ppid != filter_ppid)
		return 0;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	if (filter_uid != (__u32)-1 && uid != filter_uid)
		return 0;

	struct exec_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->ppid = ppid;
	e->uid = uid;
	e->ret = ret;
	e->truncated = 0;
	e->args_size = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	if (ret == 0) {
		e->from_mm = 1;
		unsigned long start = BPF_CORE_READ(task, mm, arg_start);
		unsigned long end = BPF_CORE_READ(task, mm, arg_end);
		__u64 size = end > start ? end - start : 0;
		if (size > EXEC_ARGS_SIZE) {
			size = EXEC_ARGS_SIZE;
			e->truncated = 1;
		}
		if (bpf_probe_read_user(e->args, size & (EXEC_ARGS_SIZE * 2 - 1) & 0x1fff, (void *)start) == 0)
			e->args_size = size;
	} else {
		e->from_mm = 0;
		const char *const *argv = (const char *const *)(nr == nr_execve ? PT_REGS_PARM2_CORE_SYSCALL(regs)
										  : PT_REGS_PARM3_CORE_SYSCALL(regs));
		__u32 off = 0;
		for (int i = 0; i < EXEC_MAX_ARGS; i++) {
			const char *arg = NULL;
			if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
				break;
			if (i >= max_args || off > EXEC_ARGS_SIZE - EXEC_ARG_LEN) {
				e->truncated = 1;
				break;
			}
			long n = bpf_probe_read_user_str(&e->args[off], EXEC_ARG_LEN, arg);
			if (n <= 0)
				break;
			off += n;
		}
		e->args_size = off;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
