// diagnose: where each thread's time goes (on CPU, run queue, blocked in syscalls by kind),
// TCP bytes per connection and process, block I/O per thread; all aggregated in the kernel.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "diagnose.h"
#include "self.bpf.h"
#include "btf_keep.bpf.h"

BTF_KEEP_ENUM(diag_wait);

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* Syscall number -> enum diag_wait, filled by user space from the generated syscall table. */
const volatile __u8 wait_kind[DIAG_MAX_SYSCALLS] = {};

struct task_state {
	__u64 sys_start;
	__u64 switch_in;
	__u64 wakeup;
	__u32 kind;
	__u32 pad;
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
	return t->pid == 0 || is_self_tgid(t->tgid);
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
		kind = regs->di == 0 ? DIAG_SELECT_SLEEP : DIAG_INPUT;
	else if (kind == DIAG_POLL_LIKE)
		kind = regs->si == 0 ? DIAG_SELECT_SLEEP : DIAG_INPUT;
	st->kind = kind;
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
		}
	}
	if (!ignored(next)) {
		struct task_state *ns = bpf_task_storage_get(&task_states, next, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (ns) {
			ns->switch_in = now;
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
