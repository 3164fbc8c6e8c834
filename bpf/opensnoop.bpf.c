// opensnoop: open/openat/openat2, one event at syscall exit (tp_btf/sys_exit). The arguments are
// still in the saved user registers and the path string was just read by the kernel (so it is
// in memory): no entry program and no map between entry and exit.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "regs.bpf.h"
#include "snoop.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"

SNOOP_LAYOUT(open_event);

const volatile __s32 nr_open = -1;
const volatile __s32 nr_openat = -1;
const volatile __s32 nr_openat2 = -1;
const volatile __u32 filter_tgid = 0;
const volatile __u32 filter_tid = 0;
const volatile __u32 filter_uid = (__u32)-1;
const volatile bool failed_only = false;

SEC("tp_btf/sys_exit")
int BPF_PROG(opensnoop_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);
	__u32 kind;
	if (nr == nr_openat)
		kind = OPEN_KIND_OPENAT;
	else if (nr == nr_open)
		kind = OPEN_KIND_OPEN;
	else if (nr == nr_openat2)
		kind = OPEN_KIND_OPENAT2;
	else
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	if (!cgroup_wanted())
		return 0;
	if (filter_tgid && (id >> 32) != filter_tgid)
		return 0;
	if (filter_tid && (__u32)id != filter_tid)
		return 0;
	if (failed_only && ret >= 0)
		return 0;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	if (filter_uid != (__u32)-1 && uid != filter_uid)
		return 0;

	struct open_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	const char *path;
	e->mode = 0;
	if (kind == OPEN_KIND_OPEN) {
		e->dirfd = -100; /* AT_FDCWD */
		path = (const char *)PT_REGS_PARM1_CORE_SYSCALL(regs);
		e->flags = (__u32)PT_REGS_PARM2_CORE_SYSCALL(regs);
		e->mode = (__u32)PT_REGS_PARM3_CORE_SYSCALL(regs);
	} else {
		e->dirfd = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);
		path = (const char *)PT_REGS_PARM2_CORE_SYSCALL(regs);
		if (kind == OPEN_KIND_OPENAT) {
			e->flags = (__u32)PT_REGS_PARM3_CORE_SYSCALL(regs);
			e->mode = (__u32)PT_REGS_PARM4_CORE_SYSCALL(regs);
		} else {
			struct open_how *how = (struct open_how *)PT_REGS_PARM3_CORE_SYSCALL(regs);
			__u64 v[2] = {};
			bpf_probe_read_user(v, sizeof(v), how); /* flags, mode */
			e->flags = v[0];
			e->mode = (__u32)v[1];
		}
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = uid;
	e->ret = ret;
	e->kind = kind;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), path) < 0)
		e->path[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
