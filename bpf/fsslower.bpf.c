// fsslower (syscall mode): file system operations slower than a threshold, for one file system
// type. Works without kprobes/fentry: tp_btf sys_enter/sys_exit, filtered in the kernel to the
// read/write/open/fsync syscalls; the fd is resolved to its struct file through the task's fd
// table (CO-RE), the file system type compared with the target's name, and only operations
// over the threshold reach user space (ring buffer).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "fsslower.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"

const volatile __u32 filter_tgid = 0;
const volatile __u64 min_ns = 0;
const volatile char fs_name[FSSLOWER_FS_LEN] = {};
const volatile __u8 syscall_kind[FSSLOWER_MAX_SYSCALLS] = {};

/* Puts struct fsslower_event in the object's BTF (user space reads its layout from there). */
const struct fsslower_event *unused_event __attribute__((unused));

struct op_start {
	__u64 ts;
	__u64 offset;
	struct file *file;
	__u32 kind;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct op_start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

#include "lost.bpf.h"

static __always_inline __u32 kind_of(long nr)
{
	if (nr < 0 || nr >= FSSLOWER_MAX_SYSCALLS)
		return FSS_NONE;
	return syscall_kind[nr];
}

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	if (fd < 0)
		return 0;
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/*
 * s_type pointers already compared by name: the traced type's and the last few others. They
 * point to static file_system_type objects, so a pointer compare replaces the string compare
 * on all but the first operations of each type.
 */
#define FSS_SEEN 4
__u64 seen_match = 0;
__u64 seen_other[FSS_SEEN] = {};
__u32 seen_next = 0;

/* The file's file system type is the one traced (compares the names, at most 15 chars). */
static __always_inline bool fs_matches(struct file *f)
{
	struct file_system_type *t = BPF_CORE_READ(f, f_inode, i_sb, s_type);
	if (!t)
		return false;
	__u64 tp = (__u64)t;
	if (tp == seen_match)
		return true;
#pragma unroll
	for (int i = 0; i < FSS_SEEN; i++)
		if (tp == seen_other[i])
			return false;
	char name[FSSLOWER_FS_LEN] = {};
	const char *p = BPF_CORE_READ(t, name);
	if (!p || bpf_probe_read_kernel_str(name, sizeof(name), p) < 0)
		return false;
	bool same = true;
#pragma unroll
	for (int i = 0; i < FSSLOWER_FS_LEN; i++) {
		if (name[i] != fs_name[i]) {
			same = false;
			break;
		}
		if (!name[i])
			break;
	}
	if (same)
		seen_match = tp;
	else
		seen_other[seen_next++ % FSS_SEEN] = tp;
	return same;
}

static __always_inline void emit(__u32 kind, __u64 now, __u64 delta, long ret, __u64 offset, struct file *f)
{
	struct fsslower_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return;
	}
	__u64 id = bpf_get_current_pid_tgid();
	e->end_ns = now;
	e->delta_ns = delta;
	e->offset = offset;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	switch (kind) {
	case FSS_READ: case FSS_PREAD: e->type = 'R'; e->size = ret; break;
	case FSS_WRITE: case FSS_PWRITE: e->type = 'W'; e->size = ret; break;
	case FSS_OPEN: e->type = 'O'; e->size = 0; break;
	default: e->type = 'S'; e->size = 0; break;
	}
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	const unsigned char *name = BPF_CORE_READ(f, f_path.dentry, d_name.name);
	if (!name || bpf_probe_read_kernel_str(e->file, sizeof(e->file), name) < 0)
		e->file[0] = 0;
	bpf_ringbuf_submit(e, 0);
}

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#define ARG1(regs) ((regs)->di)
#define ARG4(regs) ((regs)->r10)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((regs)->syscallno)
#define ARG1(regs) ((regs)->orig_x0)
#define ARG4(regs) ((regs)->regs[3])
#endif

SEC("tp_btf/sys_enter")
int BPF_PROG(fsslower_sys_enter, struct pt_regs *regs, long nr)
{
	__u32 kind = kind_of(nr);
	if (kind == FSS_NONE)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0; /* never bpfkit's own reads/writes (its output may go to the traced fs) */
	if (filter_tgid && (id >> 32) != filter_tgid)
		return 0;
	if (!cgroup_wanted())
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *f = 0;
	__u64 offset = 0;
	if (kind != FSS_OPEN) {
		f = fd_file(task, ARG1(regs));
		if (!f || !fs_matches(f))
			return 0;
		if (kind == FSS_PREAD || kind == FSS_PWRITE) {
			long pos = ARG4(regs);
			/* preadv2/pwritev2 with offset -1 use the file position */
			offset = pos == -1 ? BPF_CORE_READ(f, f_pos) : pos;
		} else if (kind != FSS_SYNC) {
			offset = BPF_CORE_READ(f, f_pos);
		}
	}
	struct op_start *s = bpf_task_storage_get(&starts, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return 0;
	s->kind = kind;
	s->file = f;
	s->offset = offset;
	s->ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fsslower_sys_exit, struct pt_regs *regs, long ret)
{
	if (kind_of(SYSCALL_NR(regs)) == FSS_NONE)
		return 0;
	if (filter_tgid && (bpf_get_current_pid_tgid() >> 32) != filter_tgid)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct op_start *s = bpf_task_storage_get(&starts, task, 0, 0);
	if (!s || !s->ts)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 delta = now - s->ts;
	s->ts = 0;
	__u32 kind = s->kind;
	struct file *f = s->file;
	if (kind == FSS_OPEN) {
		if (ret < 0)
			return 0;
		f = fd_file(task, ret);
		if (!f || !fs_matches(f))
			return 0;
	}
	if (delta < min_ns)
		return 0;

	emit(kind, now, delta, ret, s->offset, f);
	return 0;
}

/*
 * Kprobe mode (kernels with kprobes): the file system's own functions (ext4_file_read_iter,
 * ext4_file_write_iter, ext4_file_open, ext4_sync_file or their xfs/btrfs/... equivalents,
 * attached by name from user space); the latency is that of the file system function.
 * Entries by thread in a hash (task storage is not available to kprobes everywhere).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct op_start);
} kp_starts SEC(".maps");

static __always_inline int kp_enter(__u32 kind, struct file *f, __u64 offset)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (is_self(id))
		return 0;
	if (filter_tgid && (id >> 32) != filter_tgid)
		return 0;
	if (!cgroup_wanted())
		return 0;
	__u32 tid = (__u32)id;
	struct op_start s = { .ts = bpf_ktime_get_ns(), .offset = offset, .file = f, .kind = kind };
	bpf_map_update_elem(&kp_starts, &tid, &s, BPF_ANY);
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(fsslower_kp_read, struct kiocb *iocb)
{
	return kp_enter(FSS_READ, BPF_CORE_READ(iocb, ki_filp), BPF_CORE_READ(iocb, ki_pos));
}

SEC("kprobe")
int BPF_KPROBE(fsslower_kp_write, struct kiocb *iocb)
{
	return kp_enter(FSS_WRITE, BPF_CORE_READ(iocb, ki_filp), BPF_CORE_READ(iocb, ki_pos));
}

SEC("kprobe")
int BPF_KPROBE(fsslower_kp_open, struct inode *inode, struct file *file)
{
	return kp_enter(FSS_OPEN, file, 0);
}

SEC("kprobe")
int BPF_KPROBE(fsslower_kp_sync, struct file *file)
{
	return kp_enter(FSS_SYNC, file, 0);
}

SEC("kretprobe")
int BPF_KRETPROBE(fsslower_kp_exit, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct op_start *s = bpf_map_lookup_elem(&kp_starts, &tid);
	if (!s)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 delta = now - s->ts;
	struct op_start copy = *s;
	bpf_map_delete_elem(&kp_starts, &tid);
	if (copy.kind == FSS_OPEN && ret < 0)
		return 0;
	if (delta < min_ns)
		return 0;
	emit(copy.kind, now, delta, ret, copy.offset, copy.file);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
