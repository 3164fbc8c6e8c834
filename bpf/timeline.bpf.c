// timeline (diagnose --timeline): every context switch and TCP send/receive as a compact record
// in a ring buffer, each carrying the times user space needs to draw the slices around it
// (on CPU since, off CPU since, runnable since), kept per thread in task storage: a lost
// record loses its own slices only. Blocked time is classified like diagnose.bpf.c (enum
// diag_wait, the same syscall table filled by user space).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "regs.bpf.h"
#include <bpf/bpf_endian.h>
#include "diagnose.h"
#include "timeline.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"
#include "btf_keep.bpf.h"

BTF_KEEP_ENUM(diag_wait);
BTF_KEEP_ENUM(tl_type);
/* the record layouts, read from BTF */
struct tl_switch *const volatile btf_keep_tl_switch = 0;
struct tl_name *const volatile btf_keep_tl_name = 0;
struct tl_msg *const volatile btf_keep_tl_msg = 0;

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define MSG_PEEK 2
#define MSG_ERRQUEUE 0x2000
#define TASK_DEAD 0x80
#define PF_KTHREAD 0x00200000

/* Syscall number -> enum diag_wait (as diagnose.bpf.c). */
const volatile __u8 wait_kind[DIAG_MAX_SYSCALLS] = {};
/* bpf_task_pt_regs exists (5.15+): threads blocked since before the window get their kind. */
const volatile bool have_task_pt_regs = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* set by user space */
} events SEC(".maps");

#include "lost.bpf.h"

/*
 * Records are submitted without waking the reader (user space reads on a timer), unless this
 * many bytes wait: a reader woken per record would itself cause a context switch per record,
 * an endless loop of records about its own wake-ups on a busy CPU.
 */
const volatile __u32 wakeup_bytes = 4 << 20;

static __always_inline __u64 wakeup_flag(void)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	return avail >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void submit(void *e)
{
	bpf_ringbuf_submit(e, wakeup_flag());
}

struct tl_task {
	__u64 on;		/* came on CPU */
	__u64 off;		/* left the CPU */
	__u64 ready;		/* became runnable, 0: not runnable (or before the window) */
	__u64 sys_start;	/* the syscall in progress started */
	__u8 sys_kind;		/* its kind */
	__u8 in_sys;		/* in a syscall (valid when sys_known) */
	__u8 sys_known;		/* a sys_enter or sys_exit was seen */
	__u8 off_kind;		/* what it blocked in at `off` */
	__u8 seen_off;		/* `off` and `off_kind` are valid */
	__u8 named;		/* its TL_NAME record was sent (cleared on exec and rename) */
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tl_task);
} tl_tasks SEC(".maps");

static __always_inline bool ignored(struct task_struct *t)
{
	return t->pid == 0 || is_self_tgid(t->tgid) || !task_cgroup_wanted(t);
}

static __always_inline struct tl_task *task_of(struct task_struct *t)
{
	return bpf_task_storage_get(&tl_tasks, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
}

static __always_inline __u8 classify(long nr, unsigned long arg0, unsigned long arg1)
{
	if (nr < 0 || nr >= DIAG_MAX_SYSCALLS)
		return DIAG_OTHER;
	__u8 kind = wait_kind[nr];
	if (kind == DIAG_SELECT_LIKE)
		return arg0 == 0 ? DIAG_SELECT_SLEEP : DIAG_INPUT;
	if (kind == DIAG_POLL_LIKE)
		return arg1 == 0 ? DIAG_SELECT_SLEEP : DIAG_INPUT;
	return kind;
}

/* The kind of a thread that blocked before the programs saw its syscall begin: from its saved
 * user registers (a thread blocked in a page fault has an error code there: rare, documented). */
static __always_inline __u8 regs_kind(struct task_struct *t)
{
	if (!have_task_pt_regs || (t->flags & PF_KTHREAD))
		return DIAG_OTHER;
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(t);
	if (!r)
		return DIAG_OTHER;
	return classify(SYSCALL_NR_CORE(r), SYSCALL_ARG1_CORE(r), SYSCALL_ARG2_CORE(r));
}

static __always_inline void send_name(struct task_struct *t, struct tl_task *s)
{
	struct tl_name *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = TL_NAME;
	e->tid = t->pid;
	e->tgid = t->tgid;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	BPF_CORE_READ_STR_INTO(&e->pcomm, t, group_leader, comm);
	submit(e);
	s->named = 1;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(tl_sys_enter, struct pt_regs *regs, long nr)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (ignored(t))
		return 0;
	struct tl_task *s = task_of(t);
	if (!s)
		return 0;
	s->sys_kind = classify(nr, SYSCALL_ARG1(regs), SYSCALL_ARG2(regs));
	s->sys_start = bpf_ktime_get_ns();
	s->in_sys = 1;
	s->sys_known = 1;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(tl_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (ignored(t))
		return 0;
	struct tl_task *s = bpf_task_storage_get(&tl_tasks, t, 0, 0);
	if (!s)
		return 0;
	s->in_sys = 0;
	s->sys_known = 1;
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tl_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	__u64 now = bpf_ktime_get_ns();
	bool rec_prev = !ignored(prev);
	bool rec_next = !ignored(next);
	if (!rec_prev && !rec_next)
		return 0;
	/* Built on the stack and copied (48 bytes): no reservation held across the name records,
	 * which the verifier of older kernels (6.1) cannot follow. */
	struct tl_switch e = {};
	e.type = TL_SWITCH;
	e.ts = now;
	struct tl_task *s = rec_prev ? task_of(prev) : 0;
	if (s) {
		if (!s->named)
			send_name(prev, s);
		/* Preempted (even while going to sleep) it stays on the run queue. */
		__u8 blocked = !preempt && prev_state != 0;
		__u8 kind = DIAG_OTHER;
		if (blocked && (prev_state & TASK_DEAD))
			blocked = 2;
		else if (blocked)
			kind = s->sys_known ? (s->in_sys ? s->sys_kind : DIAG_OTHER) : regs_kind(prev);
		e.prev_tid = prev->pid;
		e.prev_on = s->on;
		e.prev_blocked = blocked;
		e.prev_kind = kind;
		s->on = 0;
		s->off = now;
		s->off_kind = kind;
		s->seen_off = 1;
		s->ready = blocked ? 0 : now;
	}
	s = rec_next ? task_of(next) : 0;
	if (s) {
		if (!s->named)
			send_name(next, s);
		e.next_tid = next->pid;
		e.next_off = s->seen_off ? s->off : 0;
		e.next_kind = s->seen_off ? s->off_kind : regs_kind(next);
		e.next_ready = s->ready;
		s->on = now;
		s->ready = 0;
	}
	if (bpf_ringbuf_output(&events, &e, sizeof(e), wakeup_flag()))
		count_lost(); /* the task states were updated all the same */
	return 0;
}

static __always_inline void woken(struct task_struct *p)
{
	if (ignored(p))
		return;
	struct tl_task *s = task_of(p);
	if (s && !s->ready)
		s->ready = bpf_ktime_get_ns();
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(tl_wakeup, struct task_struct *p) { woken(p); return 0; }

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(tl_wakeup_new, struct task_struct *p) { woken(p); return 0; }

/* A new program image or a new name: say the thread's name again at its next switch. */
static __always_inline void renamed(struct task_struct *t)
{
	if (ignored(t))
		return;
	struct tl_task *s = bpf_task_storage_get(&tl_tasks, t, 0, 0);
	if (s)
		s->named = 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tl_exec, struct task_struct *p) { renamed(p); return 0; }

SEC("tp_btf/task_rename")
int BPF_PROG(tl_rename, struct task_struct *t) { renamed(t); return 0; }

static __always_inline void tcp_msg(struct sock *sk, int ret, int flags, __u8 type)
{
	if (ret <= 0 || sk->sk_protocol != IPPROTO_TCP)
		return;
	if (type == TL_RECV && (flags & (MSG_PEEK | MSG_ERRQUEUE))) /* peeked bytes are read again later */
		return;
	struct task_struct *t = bpf_get_current_task_btf();
	if (ignored(t))
		return;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return;
	struct tl_task *s = bpf_task_storage_get(&tl_tasks, t, 0, 0);
	struct tl_msg *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->family = family;
	e->tid = t->pid;
	e->bytes = ret;
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	e->seq = type == TL_SEND ? BPF_CORE_READ(tp, write_seq) : BPF_CORE_READ(tp, copied_seq);
	e->ts = bpf_ktime_get_ns();
	__u64 start = 0;
	if (s) {
		start = s->on;
		if (s->sys_known && s->in_sys && s->sys_start > start)
			start = s->sys_start;
	}
	e->start = start;
	e->lport = sk->__sk_common.skc_num;
	e->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (family == AF_INET) {
		__builtin_memcpy(e->laddr, &sk->__sk_common.skc_rcv_saddr, 4);
		__builtin_memcpy(e->raddr, &sk->__sk_common.skc_daddr, 4);
	} else {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	submit(e);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tl_send, struct sock *sk, int ret, int flags) { tcp_msg(sk, ret, flags, TL_SEND); return 0; }

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tl_recv, struct sock *sk, int ret, int flags) { tcp_msg(sk, ret, flags, TL_RECV); return 0; }

char LICENSE[] SEC("license") = "GPL";
