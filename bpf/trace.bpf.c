// trace: strace-style syscall tracing at eBPF cost. sys_enter saves the arguments and the user
// memory that matters at entry (timeouts, paths, sockaddrs, written data) into per-thread
// storage; sys_exit adds what matters at exit (read data, revents, accepted addresses), the
// result and the duration, and sends one ring-buffer record. Filters run in the kernel; records
// the ring buffer cannot take are counted, never dropped silently.
// Which user memory to copy is data, not code: user space fills ops[] per syscall number.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "trace.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"
#include "btf_keep.bpf.h"

BTF_KEEP_ENUM(trace_copy_kind);
BTF_KEEP_ENUM(trace_op_when);
BTF_KEEP_ENUM(trace_flags);
BTF_KEEP_ENUM(trace_limits);
BTF_KEEP_ENUM(trace_counter);
BTF_KEEP_ENUM(trace_task_state);

/* libbpf 1.1 has no PT_REGS_PARM6_CORE_SYSCALL */
#if defined(__TARGET_ARCH_x86)
#define TRACE_NR(regs) BPF_CORE_READ(regs, orig_ax)
#define TRACE_NR_DIRECT(regs) ((regs)->orig_ax)
#define TRACE_PARM6(regs) BPF_CORE_READ(regs, r9)
#define TRACE_PARM6_DIRECT(regs) ((regs)->r9)
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs___trace_arm64 {
	int syscallno;
} __attribute__((preserve_access_index));
#define TRACE_NR(regs) BPF_CORE_READ((const struct pt_regs___trace_arm64 *)(regs), syscallno)
#define TRACE_NR_DIRECT(regs) (((const struct pt_regs___trace_arm64 *)(regs))->syscallno)
#define TRACE_PARM6(regs) BPF_CORE_READ((const struct user_pt_regs *)(regs), regs[5])
#define TRACE_PARM6_DIRECT(regs) (((const struct user_pt_regs *)(regs))->regs[5])
#else
#define TRACE_NR(regs) (-1)
#define TRACE_NR_DIRECT(regs) (-1)
#define TRACE_PARM6(regs) 0
#define TRACE_PARM6_DIRECT(regs) 0
#endif

const volatile __u32 filter_tgid = 0;
const volatile __u32 filter_tid = 0;
const volatile bool filter_comm = false;
const volatile char comm_name[TASK_COMM_LEN] = {};
const volatile bool failed_only = false;
const volatile __u64 min_dur_ns = 0;
const volatile bool filter_syscalls = false;
const volatile __u8 syscall_wanted[TRACE_MAX_SYSCALLS] = {};
const volatile __u8 syscall_noreturn[TRACE_MAX_SYSCALLS] = {};
const volatile struct trace_copy_op ops[TRACE_MAX_SYSCALLS][TRACE_MAX_OPS] = {};
const volatile __u8 op_count[TRACE_MAX_SYSCALLS] = {};   /* ops used per syscall */
/* -f / -- CMD: trace the tasks in trace_tasks (and what they fork) instead of filter_tgid */
const volatile bool use_task_map = false;
const volatile bool follow_forks = false;   /* -f: children too, not only new threads */
const volatile __s32 exec_nr = -1;          /* execve, execveat: end a TRACE_TASK_EXEC wait */
const volatile __s32 execveat_nr = -1;
const volatile bool count_stats = false;    /* -c / -C: per-syscall counts in trace_stats */
const volatile bool send_records = true;    /* false with -c alone: no record per syscall */
const volatile bool want_stack = false;     /* -k: the user stack at the end of each record */
/* Wake the reader only when unread data crosses this many bytes (0: on every record, as the
 * ring buffer does by default); user space also reads on a short timer. */
const volatile __u64 wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} trace_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TRACE_CNT_N);
	__type(key, __u32);
	__type(value, __u64);
} trace_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} trace_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TRACE_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, struct trace_stat);
} trace_stats SEC(".maps");

/* Per-thread slot, preferred: freed with the task, no hashing. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct trace_rec);
} trace_task SEC(".maps");

/* Per-thread slot for kernels without task storage (raw_tp programs). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct trace_rec);
} trace_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct trace_rec);
} trace_zero SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&trace_counters, &idx);
	if (c)
		*c += 1;
}

/* In the traced set: active, or waiting for its execve (which it may be calling now). */
static __always_inline bool in_task_map(__u32 tid, long nr)
{
	__u8 *st = bpf_map_lookup_elem(&trace_tasks, &tid);
	if (!st)
		return false;
	if (*st == TRACE_TASK_EXEC) {
		if (nr != exec_nr && nr != execveat_nr)
			return false;
		*st = TRACE_TASK_ACTIVE;
	}
	return *st == TRACE_TASK_ACTIVE;
}

static __always_inline bool wanted_task(__u64 id)
{
	__u32 tgid = id >> 32;
	if (is_self_tgid(tgid))
		return false;
	if (filter_tgid && tgid != filter_tgid)
		return false;
	if (filter_tid && (__u32)id != filter_tid)
		return false;
	if (!cgroup_wanted())
		return false;
	return true;
}

static __always_inline bool comm_matches(const char *comm)
{
	if (!filter_comm)
		return true;
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != comm_name[i])
			return false;
		if (comm[i] == 0)
			break;
	}
	return true;
}

static __always_inline struct trace_rec *slot(bool hash, bool create)
{
	if (!hash)
		return bpf_task_storage_get(&trace_task, bpf_get_current_task_btf(), 0,
					    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct trace_rec *e = bpf_map_lookup_elem(&trace_inflight, &tid);
	if (e || !create)
		return e;
	__u32 zero = 0;
	struct trace_rec *z = bpf_map_lookup_elem(&trace_zero, &zero);
	if (!z)
		return 0;
	bpf_map_update_elem(&trace_inflight, &tid, z, BPF_NOEXIST);
	return bpf_map_lookup_elem(&trace_inflight, &tid);
}

struct array_ctx {
	__u64 src;
	__u32 n;
};

static long count_ptr(__u32 k, struct array_ctx *c)
{
	__u64 p = 0;
	if (bpf_probe_read_user(&p, sizeof(p), (void *)(c->src + 8 * (__u64)k)) || !p)
		return 1;
	c->n++;
	return 0;
}

struct strings_ctx {
	struct trace_rec *e;
	__u64 src;
	__u32 pos;
	__u32 end;
	__u32 per;
	__u32 nstr;
	__u32 n;
};

static long copy_string(__u32 k, struct strings_ctx *c)
{
	if (k >= c->nstr || k >= c->n || c->pos + 2 > c->end)
		return 1;
	__u64 p = 0;
	if (bpf_probe_read_user(&p, sizeof(p), (void *)(c->src + 8 * (__u64)k)))
		return 1;
	__u32 room = c->end - c->pos;
	if (room > c->per)
		room = c->per;
	room &= TRACE_CHUNK_MASK;
	if (room == 0)
		return 1;
	struct trace_rec *e = c->e;
	long got = bpf_probe_read_user_str(&e->data[c->pos & TRACE_POS_MASK], room, (void *)p);
	if (got <= 0)
		return 1;
	c->pos += got;
	return 0;
}

/* execve's argv/envp: how many pointers until NULL, then the first nstr strings (bpf_loop
 * callbacks: verified once, whatever the count). */
__noinline long copy_strarray(struct trace_rec *e, __u64 src, __u32 max, __u32 nstr, __u32 per)
{
	if (!e)
		return 0;
	struct array_ctx c = { .src = src, .n = 0 };
	__u32 start = e->data_len & TRACE_CHUNK_MASK;
	bpf_loop(TRACE_ARRAY_MAX, count_ptr, &c, 0);
	__builtin_memcpy(&e->data[start], &c.n, 4);
	struct strings_ctx s = { .e = e, .src = src, .pos = start + 4, .end = start + (max & TRACE_CHUNK_MASK), .per = per, .nstr = nstr, .n = c.n };
	if (s.pos <= s.end)
		bpf_loop(32, copy_string, &s, 0);
	return s.pos - start;
}

struct dirent_ctx {
	__u64 src;
	__s64 len;
	__u64 off;
	__u32 n;
};

static long count_dirent(__u32 k, struct dirent_ctx *c)
{
	__u16 reclen = 0;
	if ((__s64)c->off >= c->len)
		return 1;
	if (bpf_probe_read_user(&reclen, sizeof(reclen), (void *)(c->src + c->off + 16)) || reclen == 0)
		return 1;
	c->off += reclen;
	c->n++;
	return 0;
}

/* Copy the user memory op i describes into e->data (at e->data_len). A global function: the
 * verifier checks it once, not at each of its calls. */
__noinline int do_op(struct trace_rec *e, __u32 nr, __u32 i, bool at_exit)
{
	if (!e)
		return 0;
	/* masks, not range checks: a global function's arguments are unknown to the verifier, and
	 * the compiler would drop a range check it can prove from the caller */
	nr &= TRACE_MAX_SYSCALLS - 1;
	i &= TRACE_MAX_OPS - 1;
	const volatile struct trace_copy_op *op = &ops[nr][i];
	__u8 kind = op->kind;
	__u8 when = op->at_exit;
	__u32 fault = 1u << (TRACE_F_FAULT_SHIFT + i);
	if (kind == TRACE_COPY_NONE)
		return 0;
	if (at_exit) {
		if (!(when & TRACE_OP_EXIT)) {
			if (!(when & TRACE_OP_RETRY) || !(e->flags & fault))
				return 0;
			e->flags &= ~fault;
		}
	} else if (when & TRACE_OP_EXIT) {
		return 0;
	}
	__u32 a = op->arg, la = op->len_arg;
	if (a > 5 || la > 5)
		return 0;
	__u64 src = e->args[a];
	__u64 n = op->max;
	if (src == 0)
		return 0;
	switch (kind) {
	case TRACE_COPY_ARGLEN: {
		__u64 v = e->args[la];
		if ((__s64)v < 0)
			v = 0;
		v = (v * op->mult + ((1u << op->shift) - 1)) >> op->shift;
		if (v < n)
			n = v;
		break;
	}
	case TRACE_COPY_RETLEN: {
		__s64 r = e->ret;
		__u64 v = r > 0 ? (__u64)r * op->mult : 0;
		if (v < n)
			n = v;
		break;
	}
	case TRACE_COPY_LENPTR: {
		__u32 v = 0;
		if (bpf_probe_read_user(&v, sizeof(v), (void *)e->args[la]))
			v = 0;
		if (v < n)
			n = v;
		break;
	}
	default:
		break;
	}
	__u32 off = e->data_len & TRACE_CHUNK_MASK;
	n &= TRACE_CHUNK_MASK;
	if (n == 0)
		return 0;
	long got;
	if (kind == TRACE_COPY_STRARRAY) {
		got = copy_strarray(e, src, n, op->mult, op->shift);
	} else if (kind == TRACE_COPY_DIRENTS) {
		struct dirent_ctx c = { .src = src, .len = e->ret, .off = 0, .n = 0 };
		if (e->ret <= 0)
			return 0;
		bpf_loop(TRACE_DIRENTS_MAX, count_dirent, &c, 0);
		__builtin_memcpy(&e->data[off], &c.n, 4);
		got = 4;
	} else if (kind == TRACE_COPY_STR) {
		got = bpf_probe_read_user_str(&e->data[off], n, (void *)src);
	} else {
		got = bpf_probe_read_user(&e->data[off], n, (void *)src);
		if (got == 0)
			got = n;
	}
	if (got <= 0) {
		e->flags |= fault;
		return 0;
	}
	e->lens[i] = got;
	e->offs[i] = off;
	e->data_len = off + got;
	return 0;
}

static __always_inline void add_stat(__u32 nr, long ret, __u64 dur)
{
	if (!count_stats)
		return;
	struct trace_stat *st = bpf_map_lookup_elem(&trace_stats, &nr);
	if (!st)
		return;
	st->calls++;
	st->ns += dur;
	if (ret < 0 && ret >= -4095)
		st->errors++;
}

static __always_inline void send(void *ctx, struct trace_rec *e)
{
	e->stack_len = 0;
	if (want_stack) {
		/* the user stack is the same at entry and at exit: taken once, here */
		__u32 at = (e->data_len + 7) & ~7u & TRACE_POS_MASK;
		long got = bpf_get_stack(ctx, &e->data[at], TRACE_STACK_DEPTH * 8, BPF_F_USER_STACK);
		if (got > 0) {
			e->stack_len = got;
			e->data_len = at + got;
		}
	}
	__u64 size = offsetof(struct trace_rec, data) + (e->data_len & (2 * TRACE_DATA - 1));
	if (size > sizeof(*e))
		size = sizeof(*e);
	__u64 flags = 0;
	if (wakeup_bytes) {
		/* one wakeup when the backlog crosses the threshold, none per record: a wakeup per
		 * record costs the traced thread more than the record itself */
		__u64 avail = bpf_ringbuf_query(&trace_events, BPF_RB_AVAIL_DATA);
		flags = (avail < wakeup_bytes && avail + size + 8 >= wakeup_bytes) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	}
	if (bpf_ringbuf_output(&trace_events, e, size, flags) == 0)
		count(TRACE_CNT_SENT);
	else
		count(TRACE_CNT_LOST_RINGBUF);
}

static __always_inline int on_enter(void *ctx, struct pt_regs *regs, long nr, bool hash)
{
	if (nr < 0 || nr >= TRACE_MAX_SYSCALLS)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	/* (before the syscall filter: a command waiting for its execve is traced from it even
	 * when -e leaves execve out) */
	if (use_task_map && !in_task_map((__u32)id, nr))
		return 0;
	if (filter_syscalls && !syscall_wanted[nr])
		return 0;
	if (!wanted_task(id))
		return 0;
	if (filter_comm) {
		char comm[TASK_COMM_LEN];
		bpf_get_current_comm(comm, sizeof(comm));
		if (!comm_matches(comm))
			return 0;
	}
	struct trace_rec *e = slot(hash, true);
	if (!e) {
		count(TRACE_CNT_LOST_SLOT);
		return 0;
	}
	if (!send_records) {
		/* -c alone: the exit needs only the number and the entry time (no record to fill) */
		e->nr = nr;
		e->ts_ns = bpf_ktime_get_ns();
		e->active = !syscall_noreturn[nr]; /* strace -c counts calls when they return */
		if (hash && !e->active) {
			__u32 tid = (__u32)id;
			bpf_map_delete_elem(&trace_inflight, &tid);
		}
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->dur_ns = 0;
	e->ret = 0;
	e->nr = nr;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->data_len = 0;
	e->flags = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__builtin_memset(e->lens, 0, sizeof(e->lens));
	__builtin_memset(e->offs, 0, sizeof(e->offs));
	if (hash) {
		/* raw_tp: regs is an untrusted pointer, read through bpf_probe_read_kernel */
		e->args[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
		e->args[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
		e->args[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
		e->args[3] = PT_REGS_PARM4_CORE_SYSCALL(regs);
		e->args[4] = PT_REGS_PARM5_CORE_SYSCALL(regs);
		e->args[5] = TRACE_PARM6(regs);
	} else {
		/* tp_btf: regs is a trusted BTF pointer, read directly (CO-RE relocated) */
		e->args[0] = PT_REGS_PARM1_SYSCALL(regs);
		e->args[1] = PT_REGS_PARM2_SYSCALL(regs);
		e->args[2] = PT_REGS_PARM3_SYSCALL(regs);
		e->args[3] = PT_REGS_PARM4_SYSCALL(regs);
		e->args[4] = PT_REGS_PARM5_SYSCALL(regs);
		e->args[5] = TRACE_PARM6_DIRECT(regs);
	}
	__u32 nops = op_count[nr];
	for (__u32 i = 0; i < TRACE_MAX_OPS; i++) {
		if (i >= nops)
			break;
		do_op(e, nr, i, false);
	}
	if (syscall_noreturn[nr]) {
		/* exit/exit_group never reach sys_exit: report them now. */
		e->active = 0;
		e->flags |= TRACE_F_NORETURN;
		/* (not in -c's counts: strace -c counts calls when they return) */
		if (!failed_only && !min_dur_ns)
			send(ctx, e);
		if (hash) {
			__u32 tid = (__u32)id;
			bpf_map_delete_elem(&trace_inflight, &tid);
		}
		return 0;
	}
	e->active = 1;
	return 0;
}

static __always_inline int on_exit(void *ctx, long ret, long nr_now, bool hash)
{
	/* unselected syscalls leave before any storage lookup (the slot would be inactive anyway) */
	if (filter_syscalls && nr_now >= 0 && nr_now < TRACE_MAX_SYSCALLS && !syscall_wanted[nr_now])
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (filter_tgid && (id >> 32) != filter_tgid)
		return 0;
	struct trace_rec *e = slot(hash, false);
	if (!e || !e->active)
		return 0;
	e->active = 0;
	if (hash) {
		__u32 tid = (__u32)id;
		/* the slot stays valid until the program ends (RCU); free it for the next thread */
		if (failed_only && !(ret < 0 && ret >= -4095)) {
			bpf_map_delete_elem(&trace_inflight, &tid);
			return 0;
		}
	}
	__u64 dur = bpf_ktime_get_ns() - e->ts_ns;
	add_stat(e->nr, ret, dur);
	if (!send_records)
		goto out;
	if (failed_only && !(ret < 0 && ret >= -4095))
		return 0;
	if (dur < min_dur_ns)
		goto out;
	e->ret = ret;
	e->dur_ns = dur;
	__u32 nr = e->nr;
	if (nr >= TRACE_MAX_SYSCALLS)
		goto out;
	__u32 nops = op_count[nr];
	for (__u32 i = 0; i < TRACE_MAX_OPS; i++) {
		if (i >= nops)
			break;
		do_op(e, nr, i, true);
	}
	send(ctx, e);
out:
	if (hash) {
		__u32 tid = (__u32)id;
		bpf_map_delete_elem(&trace_inflight, &tid);
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(trace_enter_btf, struct pt_regs *regs, long id)
{
	return on_enter(ctx, regs, id, false);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(trace_exit_btf, struct pt_regs *regs, long ret)
{
	return on_exit(ctx, ret, TRACE_NR_DIRECT(regs), false);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(trace_enter_raw, struct pt_regs *regs, long id)
{
	return on_enter(ctx, regs, id, true);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(trace_exit_raw, struct pt_regs *regs, long ret)
{
	return on_exit(ctx, ret, TRACE_NR(regs), true);
}

/* -f: a traced task's new thread (always) or child (with follow_forks) is traced from birth,
 * here in the kernel, before it runs: no short-lived child is missed. */
static __always_inline void on_fork(__u32 parent_tid, __u32 parent_tgid, __u32 child_tid, __u32 child_tgid)
{
	if (!use_task_map)
		return;
	__u8 *st = bpf_map_lookup_elem(&trace_tasks, &parent_tid);
	if (!st)
		return;
	if (*st == TRACE_TASK_ADOPT) {
		/* -- CMD: the child bpfkit forks to exec the command, traced from that execve */
		__u8 v = TRACE_TASK_EXEC;
		bpf_map_update_elem(&trace_tasks, &child_tid, &v, BPF_ANY);
		bpf_map_delete_elem(&trace_tasks, &parent_tid);
		return;
	}
	if (*st != TRACE_TASK_ACTIVE)
		return;
	if (!follow_forks && child_tgid != parent_tgid)
		return;
	__u8 v = TRACE_TASK_ACTIVE;
	bpf_map_update_elem(&trace_tasks, &child_tid, &v, BPF_ANY);
}

/* A task that exits inside a syscall (another thread called exit_group, a fatal signal) never
 * reaches sys_exit: its call is sent now, as strace's `= ?`. */
static __always_inline void on_task_exit(void *ctx, bool hash)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	if (use_task_map)
		bpf_map_delete_elem(&trace_tasks, &tid);
	struct trace_rec *e = slot(hash, false);
	if (!e || !e->active)
		return;
	e->active = 0;
	if (send_records && !failed_only && !min_dur_ns) {
		e->flags |= TRACE_F_NORETURN | TRACE_F_CUT;
		send(ctx, e);
	}
	if (hash)
		bpf_map_delete_elem(&trace_inflight, &tid);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(trace_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	on_fork(parent->pid, parent->tgid, child->pid, child->tgid);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(trace_fork_raw, struct task_struct *parent, struct task_struct *child)
{
	on_fork(BPF_CORE_READ(parent, pid), BPF_CORE_READ(parent, tgid), BPF_CORE_READ(child, pid), BPF_CORE_READ(child, tgid));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(trace_task_exit_btf, struct task_struct *p)
{
	on_task_exit(ctx, false);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(trace_task_exit_raw, struct task_struct *p)
{
	on_task_exit(ctx, true);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
