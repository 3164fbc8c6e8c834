// diagnose: where each thread's time goes (on CPU, run queue, blocked in syscalls by kind),
// TCP bytes per connection and process, block I/O per thread, the user stacks of blocked and
// running threads weighted by time, and futex waits per lock word; all aggregated in the kernel.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "regs.bpf.h"
#include <bpf/bpf_endian.h>
#include "diagnose.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"
#include "stacks.bpf.h"
#include "btf_keep.bpf.h"

BTF_KEEP_ENUM(diag_wait);

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* Syscall number -> enum diag_wait, filled by user space from the generated syscall table. */
const volatile __u8 wait_kind[DIAG_MAX_SYSCALLS] = {};
/* futex(2)'s number (-1: unknown): its wait operations are accounted per lock word. */
const volatile int futex_nr = -1;
/* Take user stacks of threads that block (off-CPU stacks). */
const volatile bool offcpu_stacks = true;
/* Recover the caller of a frameless function (x86_64: from the user stack pointer; arm64: from
 * the link register) and take block signatures; needs bpf_task_pt_regs (Linux 5.15). */
const volatile bool leaf_fixup = false;

#define PF_KTHREAD 0x00200000
#define FUTEX_CMD_MASK ~(128 | 256) /* ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) */

struct task_state {
	__u64 sys_start;
	__u64 switch_in;
	__u64 wakeup;
	__u32 kind;
	__u32 off_kind;		/* wait kind when it blocked */
	__u64 off_start;	/* when it blocked (0: not blocked, or no stack taken) */
	__u64 off_stack;	/* its user stack then */
	__u64 off_caller;
	__u64 futex;		/* the futex word of a wait in progress (0: none) */
	/* Where it blocked last (user ip, sp, fp, the words at sp and fp+8) and the stack found
	 * there: a thread that blocks again at the same place reuses it without a stack walk. */
	__u64 sig[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_state);
} task_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DIAG_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct diag_thread);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DIAG_MAX_FLOWS);
	__type(key, struct diag_flow_key);
	__type(value, struct diag_flow);
} flows SEC(".maps");

/*
 * Threads that exited, summed per process: a thread of a process that lives on is added to its
 * own process (key = its tgid); a process's main thread to its parent (key = parent's tgid), as
 * the kernel adds children to cutime. Their `threads` entries are removed, so short-lived
 * processes neither fill that map nor vanish from the accounting.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DIAG_MAX_EXITED);
	__type(key, __u32);
	__type(value, struct diag_thread);
} exited SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DIAG_MAX_STACKS);
	__type(key, __u64);
	__type(value, struct diag_stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DIAG_MAX_STACK_KEYS);
	__type(key, struct diag_stack_key);
	__type(value, struct diag_time);
} stack_times SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DIAG_MAX_FUTEXES);
	__type(key, struct diag_futex_key);
	__type(value, struct diag_time);
} futexes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct diag_stats);
} diag_stat SEC(".maps");

/* Per-CPU scratch space for one stack (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct diag_stack);
} stack_scratch SEC(".maps");

static __always_inline struct diag_stats *stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&diag_stat, &zero);
}

/*
 * The current task's user stack, stored once under a hash of its addresses (a stack-trace map's
 * buckets collide and lose stacks long before it is full). Returns the hash or DIAG_STACK_*;
 * *second is the stack's second address (for the caller fix-up).
 */
static __always_inline __u64 store_stack(void *ctx, __u64 *second)
{
	__u32 zero = 0;
	struct diag_stack *buf = bpf_map_lookup_elem(&stack_scratch, &zero);
	if (!buf)
		return DIAG_STACK_MISSED;
	long n = bpf_get_stack(ctx, buf->ips, sizeof(buf->ips), BPF_F_USER_STACK);
	if (n <= 0)
		return DIAG_STACK_NONE;
	__u32 depth = n / sizeof(__u64);
	*second = depth > 1 ? buf->ips[1] : 0;
	__u64 h = stack_hash(buf->ips, depth, DIAG_STACK_DEPTH, DIAG_STACK_MISSED);
	if (bpf_map_lookup_elem(&stacks, &h))
		return h;
	if (bpf_map_update_elem(&stacks, &h, buf, BPF_NOEXIST) == 0 || bpf_map_lookup_elem(&stacks, &h))
		return h;
	struct diag_stats *s = stats();
	if (s)
		s->stack_missed++;
	return DIAG_STACK_MISSED;
}

/* The caller a frame-pointer walk skipped (see is_call_return; 0: unknown): x86_64 the word at
 * the task's user stack pointer, arm64 its user link register. */
static __always_inline __u64 leaf_caller(struct task_struct *t, __u64 second)
{
	if (!leaf_fixup)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	if (!regs)
		return 0;
#if defined(__TARGET_ARCH_arm64)
	return is_call_return(USER_LR_CORE(regs), second);
#else
	__u64 sp = USER_SP_CORE(regs);
	__u64 ret = 0;
	if (!sp || bpf_probe_read_user(&ret, sizeof(ret), (void *)sp) != 0)
		return 0;
	return is_call_return(ret, second);
#endif
}

/*
 * Where a blocking thread is in its code, cheaply: its user ip, sp and frame pointer, the
 * return address of a frameless function (x86_64: the word at sp; arm64: the link register)
 * and the word at fp+8 (the current frame's return address on both). Equal signatures: the same
 * place, reached the same way (a loop around read or epoll_wait). False when unknown (no
 * bpf_task_pt_regs).
 */
static __always_inline bool block_signature(struct task_struct *t, __u64 *sig)
{
	if (!leaf_fixup)
		return false;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	if (!regs)
		return false;
	sig[0] = USER_IP_CORE(regs);
	sig[1] = USER_SP_CORE(regs);
	sig[2] = USER_FP_CORE(regs);
	sig[3] = 0;
	sig[4] = 0;
#if defined(__TARGET_ARCH_arm64)
	sig[3] = USER_LR_CORE(regs);
#else
	if (sig[1])
		bpf_probe_read_user(&sig[3], sizeof(sig[3]), (void *)sig[1]);
#endif
	/* A frame pointer points into the stack above sp; code built without frame pointers uses
	 * the frame register as a general register (a counter, a heap pointer): then it says nothing
	 * about where the thread is and would only defeat the reuse. */
	if (sig[2] >= sig[1] && sig[2] - sig[1] < (8 << 20))
		bpf_probe_read_user(&sig[4], sizeof(sig[4]), (void *)(sig[2] + 8));
	else
		sig[2] = 0;
	return true;
}

static __always_inline void add_stack_time(__u32 tgid, __u32 kind, __u64 stack, __u64 caller, __u64 ns)
{
	struct diag_stack_key key = { .tgid = tgid, .kind = kind, .stack = stack, .caller = caller };
	struct diag_time *v = bpf_map_lookup_elem(&stack_times, &key);
	if (!v) {
		struct diag_time init = {};
		bpf_map_update_elem(&stack_times, &key, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&stack_times, &key);
		if (!v) {
			struct diag_stats *s = stats();
			if (s)
				s->stack_dropped++;
			return;
		}
	}
	__sync_fetch_and_add(&v->ns, ns);
	__sync_fetch_and_add(&v->count, 1);
}

static __always_inline struct diag_thread *thread_of(struct task_struct *t)
{
	__u32 tid = t->pid;
	struct diag_thread *th = bpf_map_lookup_elem(&threads, &tid);
	if (th)
		return th;
	struct diag_thread init = {};
	init.tgid = t->tgid;
	init.ppid = BPF_CORE_READ(t, real_parent, tgid);
	bpf_probe_read_kernel_str(init.comm, sizeof(init.comm), t->comm);
	bpf_map_update_elem(&threads, &tid, &init, BPF_NOEXIST);
	return bpf_map_lookup_elem(&threads, &tid);
}

static __always_inline bool ignored(struct task_struct *t)
{
	return t->pid == 0 || is_self_tgid(t->tgid) || !task_cgroup_wanted(t);
}

/* The last time an exited thread leaves a CPU: fold its counters into `exited`. */
static __always_inline void retire(struct task_struct *t, __u64 oncpu)
{
	struct task_struct *parent = BPF_CORE_READ(t, real_parent);
	__u32 key = t->pid == t->tgid ? BPF_CORE_READ(parent, tgid) : t->tgid;
	struct diag_thread *e = bpf_map_lookup_elem(&exited, &key);
	if (!e) {
		struct diag_thread init = {};
		init.tgid = key;
		init.ppid = t->pid == t->tgid ? BPF_CORE_READ(parent, real_parent, tgid) : BPF_CORE_READ(parent, tgid);
		bpf_probe_read_kernel_str(init.comm, sizeof(init.comm), t->comm);
		bpf_map_update_elem(&exited, &key, &init, BPF_NOEXIST);
		e = bpf_map_lookup_elem(&exited, &key);
		if (!e)
			return;
	}
	__sync_fetch_and_add(&e->oncpu_ns, oncpu);
	__u32 tid = t->pid;
	struct diag_thread *th = bpf_map_lookup_elem(&threads, &tid);
	if (!th)
		return;
	__sync_fetch_and_add(&e->oncpu_ns, th->oncpu_ns);
	__sync_fetch_and_add(&e->runq_ns, th->runq_ns);
	__sync_fetch_and_add(&e->syscalls, th->syscalls);
	__sync_fetch_and_add(&e->io_bytes, th->io_bytes);
	__sync_fetch_and_add(&e->io_count, th->io_count);
	for (int i = 0; i < DIAG_WAIT_KINDS; i++) {
		__sync_fetch_and_add(&e->wait_ns[i], th->wait_ns[i]);
		__sync_fetch_and_add(&e->wait_count[i], th->wait_count[i]);
	}
	bpf_map_delete_elem(&threads, &tid);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(diagnose_sys_enter, struct pt_regs *regs, long nr)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (ignored(t) || nr < 0 || nr >= DIAG_MAX_SYSCALLS)
		return 0;
	struct task_state *st = bpf_task_storage_get(&task_states, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return 0;
	__u32 kind = wait_kind[nr];
	if (kind == DIAG_SELECT_LIKE)
		kind = SYSCALL_ARG1(regs) == 0 ? DIAG_SELECT_SLEEP : DIAG_INPUT;
	else if (kind == DIAG_POLL_LIKE)
		kind = SYSCALL_ARG2(regs) == 0 ? DIAG_SELECT_SLEEP : DIAG_INPUT;
	st->kind = kind;
	st->futex = 0;
	if (nr == futex_nr) {
		int op = SYSCALL_ARG2(regs) & FUTEX_CMD_MASK;
		/* FUTEX_WAIT or FUTEX_WAIT_BITSET with a timeout (argument 3): a timed sleep, not a lock.
		 * That is how a JVM sleeps (Thread.sleep, parkNanos: pthread_cond_timedwait). */
		if ((op == 0 || op == 9) && SYSCALL_ARG4(regs))
			st->kind = DIAG_SLEEP;
		/* FUTEX_WAIT, FUTEX_LOCK_PI, FUTEX_WAIT_BITSET, FUTEX_WAIT_REQUEUE_PI, FUTEX_LOCK_PI2 */
		else if (op == 0 || op == 6 || op == 9 || op == 11 || op == 13)
			st->futex = SYSCALL_ARG1(regs);
	}
	st->sys_start = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(diagnose_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (ignored(t))
		return 0;
	struct task_state *st = bpf_task_storage_get(&task_states, t, 0, 0);
	if (!st || !st->sys_start)
		return 0;
	__u64 delta = bpf_ktime_get_ns() - st->sys_start;
	__u32 kind = st->kind;
	st->sys_start = 0;
	if (st->futex) {
		struct diag_futex_key fk = { .tgid = t->tgid, .tid = t->pid, .uaddr = st->futex };
		st->futex = 0;
		struct diag_time *f = bpf_map_lookup_elem(&futexes, &fk);
		if (!f) {
			struct diag_time init = {};
			bpf_map_update_elem(&futexes, &fk, &init, BPF_NOEXIST);
			f = bpf_map_lookup_elem(&futexes, &fk);
		}
		if (f) {
			__sync_fetch_and_add(&f->ns, delta);
			__sync_fetch_and_add(&f->count, 1);
		} else {
			struct diag_stats *s = stats();
			if (s)
				s->futex_dropped++;
		}
	}
	struct diag_thread *th = thread_of(t);
	if (!th || kind >= DIAG_WAIT_KINDS)
		return 0;
	__sync_fetch_and_add(&th->wait_ns[kind], delta);
	__sync_fetch_and_add(&th->wait_count[kind], 1);
	__sync_fetch_and_add(&th->syscalls, 1);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(diagnose_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	if (!ignored(prev)) {
		struct task_state *ps = bpf_task_storage_get(&task_states, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (ps) {
			if (ps->switch_in && prev->exit_state) {
				retire(prev, now - ps->switch_in);
			} else if (ps->switch_in) {
				struct diag_thread *th = thread_of(prev);
				if (th)
					__sync_fetch_and_add(&th->oncpu_ns, now - ps->switch_in);
			}
			ps->switch_in = 0;
			/* Preempted while runnable: it waits in the run queue from now on. */
			ps->wakeup = (prev_state == 0) ? now : 0;
			ps->off_start = 0;
			/* Blocked: remember where in its code (user stack) and in which wait. The stack is
			 * walked only when it blocks somewhere else than last time, never for kernel threads. */
			if (offcpu_stacks && prev_state != 0 && !prev->exit_state && !(prev->flags & PF_KTHREAD)) {
				__u64 sig[5];
				bool known = block_signature(prev, sig);
				if (!known || !ps->off_stack || sig[0] != ps->sig[0] || sig[1] != ps->sig[1] ||
				    sig[2] != ps->sig[2] || sig[3] != ps->sig[3] || sig[4] != ps->sig[4]) {
					/* Somewhere else than last time: walk the stack. */
					__u64 second = 0;
					__u64 stack = store_stack(ctx, &second);
					ps->off_stack = stack;
					ps->off_caller = 0;
					if (stack > DIAG_STACK_MISSED && known && leaf_fixup)
						ps->off_caller = is_call_return(sig[3], second);
					for (int i = 0; i < 5; i++)
						ps->sig[i] = known ? sig[i] : 0;
				}
				if (ps->off_stack != DIAG_STACK_NONE) {
					ps->off_kind = ps->sys_start ? ps->kind : DIAG_OTHER;
					ps->off_start = now;
				}
			}
		}
	}
	if (!ignored(next)) {
		struct task_state *ns = bpf_task_storage_get(&task_states, next, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (ns) {
			ns->switch_in = now;
			if (ns->off_start) {
				/* Blocked until woken (then it waited in the run queue, counted apart). */
				__u64 end = ns->wakeup > ns->off_start ? ns->wakeup : now;
				add_stack_time(next->tgid, ns->off_kind, ns->off_stack, ns->off_caller, end - ns->off_start);
				ns->off_start = 0;
			}
			if (ns->wakeup) {
				struct diag_thread *th = thread_of(next);
				if (th)
					__sync_fetch_and_add(&th->runq_ns, now - ns->wakeup);
				ns->wakeup = 0;
			}
		}
	}
	return 0;
}

static __always_inline void woken(struct task_struct *p)
{
	if (ignored(p))
		return;
	struct task_state *s = bpf_task_storage_get(&task_states, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (s)
		s->wakeup = bpf_ktime_get_ns();
}

/* On-CPU user stacks, sampled by a cpu-clock perf event on every CPU. */
SEC("perf_event")
int diagnose_sample(struct bpf_perf_event_data *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (ignored(t) || (t->flags & PF_KTHREAD))
		return 0;
	struct diag_stats *s = stats();
	if (s)
		s->samples++;
	__u64 second = 0;
	__u64 stack = store_stack(ctx, &second);
	__u64 caller = stack > DIAG_STACK_MISSED ? leaf_caller(t, second) : 0;
	add_stack_time(t->tgid, DIAG_ON_CPU, stack, caller, ctx->sample_period);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(diagnose_wakeup, struct task_struct *p) { woken(p); return 0; }

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(diagnose_wakeup_new, struct task_struct *p) { woken(p); return 0; }

static __always_inline void count_tcp(struct sock *sk, int ret, bool tx)
{
	if (ret <= 0 || sk->sk_protocol != IPPROTO_TCP)
		return;
	struct task_struct *t = bpf_get_current_task_btf();
	if (ignored(t))
		return;
	struct diag_flow_key key = {};
	key.tgid = t->tgid;
	key.family = sk->__sk_common.skc_family;
	key.lport = sk->__sk_common.skc_num;
	key.rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (key.family == AF_INET) {
		__builtin_memcpy(key.laddr, &sk->__sk_common.skc_rcv_saddr, 4);
		__builtin_memcpy(key.raddr, &sk->__sk_common.skc_daddr, 4);
	} else if (key.family == AF_INET6) {
		BPF_CORE_READ_INTO(&key.laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&key.raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return;
	}
	struct diag_flow *f = bpf_map_lookup_elem(&flows, &key);
	if (!f) {
		struct diag_flow init = {};
		bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST);
		f = bpf_map_lookup_elem(&flows, &key);
		if (!f)
			return;
	}
	if (tx) {
		__sync_fetch_and_add(&f->tx_bytes, ret);
		__sync_fetch_and_add(&f->tx_calls, 1);
	} else {
		__sync_fetch_and_add(&f->rx_bytes, ret);
		__sync_fetch_and_add(&f->rx_calls, 1);
	}
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(diagnose_send, struct sock *sk, int ret, int flags) { count_tcp(sk, ret, true); return 0; }

SEC("tp_btf/sock_recv_length")
int BPF_PROG(diagnose_recv, struct sock *sk, int ret, int flags) { count_tcp(sk, ret, false); return 0; }

/* Kernels without the sock_*_length tracepoints (before 6.x): the TCP functions themselves. */
#define MSG_PEEK 2
#define MSG_ERRQUEUE 0x2000

SEC("fexit/tcp_sendmsg")
int BPF_PROG(diagnose_fx_send, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	count_tcp(sk, ret, true);
	return 0;
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(diagnose_fx_recv, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	if (!(flags & (MSG_PEEK | MSG_ERRQUEUE))) /* peeked bytes are read again later */
		count_tcp(sk, ret, false);
	return 0;
}

/* A thread renamed after it was first seen (HotSpot names its GC and compiler threads right after
 * creating them): its record takes the new name, which diagnose uses to tell the JVM's threads apart. */
SEC("tp_btf/task_rename")
int BPF_PROG(diagnose_rename, struct task_struct *task, const char *comm)
{
	__u32 tid = task->pid;
	struct diag_thread *th = bpf_map_lookup_elem(&threads, &tid);
	if (th)
		bpf_probe_read_kernel_str(th->comm, sizeof(th->comm), comm);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(diagnose_block, struct request *rq)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (ignored(t))
		return 0;
	struct diag_thread *th = thread_of(t);
	if (!th)
		return 0;
	__sync_fetch_and_add(&th->io_bytes, rq->__data_len);
	__sync_fetch_and_add(&th->io_count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
