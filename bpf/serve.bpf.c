// serve: the counters behind `bpfkit serve`'s /metrics, kept in maps for days.
//   syscalls  log2 latency histogram per syscall (and comm with --by-comm, process with
//             --per-process), per-CPU, entry times in task storage (freed with the task);
//   tcp       bytes per connection end and process (tp_btf sock_send_length/sock_recv_length,
//             or fexit on tcp_sendmsg/tcp_recvmsg), in two maps flipped by a generation number so
//             that user space drains one while the programs fill the other (as tcptop): closed
//             connections leave the maps at the next drain, and no byte is lost between the
//             read of an entry and its deletion;
//   block     log2 latency histogram (issue -> complete) and bytes per disk and operation.
// Counters are cumulative except tcp's; a full map is counted in `drops`, never silent.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "serve.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"
#include "regs.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define MSG_PEEK 2
#define MSG_ERRQUEUE 0x2000
#define REQ_OP_MASK 0xff

const volatile bool by_comm = false;
const volatile bool per_process = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SERVE_MAX_SYSCALL_KEYS);
	__type(key, struct serve_sc_key);
	__type(value, struct serve_hist);
} syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sc_start SEC(".maps");

struct conn_maps {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SERVE_MAX_CONNS);
	__type(key, struct serve_conn_key);
	__type(value, struct serve_conn);
};
struct conn_maps conns0 SEC(".maps");
struct conn_maps conns1 SEC(".maps");

/* [0] = current generation (0 or 1), written by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} generation SEC(".maps");

/* Programs currently updating generation g's map, per CPU (programs do not migrate). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __s64);
} inflight SEC(".maps");

/* struct request * (as a u64) -> issue time. LRU: a request that never completes ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} blk_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SERVE_MAX_BLOCK_KEYS);
	__type(key, struct serve_blk_key);
	__type(value, struct serve_blk);
} block SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SERVE_DROPS);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Keep the enum in BTF for user space. */
enum serve_drop serve_drop_kinds;

static struct serve_hist zero_hist;
static struct serve_blk zero_blk;

static __always_inline void count_drop(__u32 kind)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &kind);
	if (n)
		(*n)++;
}

static __always_inline bool wanted_task(__u64 id)
{
	if (is_self(id))
		return false;
	return cgroup_wanted(); /* -c / --container */
}

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

static __always_inline void hist_add(struct serve_hist *h, __u64 ns, bool atomic)
{
	__u32 slot = log2_slot(ns >> 10);
	if (slot >= SERVE_SLOTS)
		slot = SERVE_SLOTS - 1;
	if (atomic) {
		__sync_fetch_and_add(&h->slots[slot], 1);
		__sync_fetch_and_add(&h->count, 1);
		__sync_fetch_and_add(&h->sum_ns, ns);
	} else {
		h->slots[slot]++;
		h->count++;
		h->sum_ns += ns;
	}
}

/* ---- syscalls ---- */

SEC("tp_btf/sys_enter")
int BPF_PROG(serve_sys_enter, struct pt_regs *regs, long nr)
{
	if (!wanted_task(bpf_get_current_pid_tgid()))
		return 0;
	__u64 *ts = bpf_task_storage_get(&sc_start, bpf_get_current_task_btf(), 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(serve_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!wanted_task(id))
		return 0;
	long nr = SYSCALL_NR(regs);
	if (nr < 0 || nr >= SERVE_MAX_SYSCALLS)
		return 0;
	__u64 *ts = bpf_task_storage_get(&sc_start, bpf_get_current_task_btf(), 0, 0);
	if (!ts || !*ts)
		return 0; /* entered before we attached */
	__u64 delta = bpf_ktime_get_ns() - *ts;
	*ts = 0;

	struct serve_sc_key key = { .nr = nr };
	if (per_process)
		key.tgid = id >> 32;
	if (by_comm)
		bpf_get_current_comm(key.comm, sizeof(key.comm));
	struct serve_hist *h = bpf_map_lookup_elem(&syscalls, &key);
	if (!h) {
		bpf_map_update_elem(&syscalls, &key, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&syscalls, &key);
		if (!h) {
			count_drop(SERVE_DROP_SYSCALL);
			return 0;
		}
	}
	hist_add(h, delta, false);
	return 0;
}

/* ---- TCP bytes ---- */

static __always_inline void add_bytes(void *map, struct serve_conn_key *key, __u64 bytes, bool sent)
{
	struct serve_conn *v = bpf_map_lookup_elem(map, key);
	if (!v) {
		struct serve_conn init = {};
		bpf_get_current_comm(init.comm, sizeof(init.comm));
		bpf_map_update_elem(map, key, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(map, key);
		if (!v) {
			count_drop(SERVE_DROP_TCP);
			return;
		}
	}
	if (sent)
		__sync_fetch_and_add(&v->sent, bytes);
	else
		__sync_fetch_and_add(&v->received, bytes);
}

/* Add to the current generation's map, announced in `inflight` (see tcptop.bpf.c). */
static __always_inline void account(struct serve_conn_key *key, __u64 bytes, bool sent)
{
	__u32 zero = 0;
	__u32 *genp = bpf_map_lookup_elem(&generation, &zero);
	if (!genp)
		return;
	__u32 g = *(volatile __u32 *)genp & 1;
	__s64 *busy = bpf_map_lookup_elem(&inflight, &g);
	if (!busy)
		return;
	__sync_fetch_and_add(busy, 1);
	__u32 now = *(volatile __u32 *)genp & 1;
	if (now != g) {
		__sync_fetch_and_add(busy, -1);
		g = now;
		busy = bpf_map_lookup_elem(&inflight, &g);
		if (!busy)
			return;
		__sync_fetch_and_add(busy, 1);
	}
	if (g)
		add_bytes(&conns1, key, bytes, sent);
	else
		add_bytes(&conns0, key, bytes, sent);
	__sync_fetch_and_add(busy, -1);
}

static __always_inline int count_tcp(struct sock *sk, long ret, bool sent)
{
	if (ret <= 0 || !sk)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (!wanted_task(id))
		return 0;
	struct serve_conn_key key = {};
	key.tgid = id >> 32;
	key.family = family;
	key.lport = sk->__sk_common.skc_num;
	key.rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (family == AF_INET) {
		__builtin_memcpy(key.laddr, &sk->__sk_common.skc_rcv_saddr, 4);
		__builtin_memcpy(key.raddr, &sk->__sk_common.skc_daddr, 4);
	} else {
		__builtin_memcpy(key.laddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(key.raddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
	account(&key, ret, sent);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(serve_send, struct sock *sk, int ret, int flags)
{
	return count_tcp(sk, ret, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(serve_recv, struct sock *sk, int ret, int flags)
{
	if (flags & (MSG_PEEK | MSG_ERRQUEUE))
		return 0;
	return count_tcp(sk, ret, false);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(serve_fx_send, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	return count_tcp(sk, ret, true);
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(serve_fx_recv, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	if (flags & (MSG_PEEK | MSG_ERRQUEUE))
		return 0;
	return count_tcp(sk, ret, false);
}

/* ---- block I/O ---- */

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct gendisk *disk = rq->q->disk;
	if (!disk)
		return 0;
	return ((__u32)disk->major << 20) | (__u32)disk->first_minor;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(serve_rq_issue, struct request *rq)
{
	if (is_self(bpf_get_current_pid_tgid()))
		return 0;
	__u64 ts = bpf_ktime_get_ns();
	__u64 id = (__u64)rq;
	bpf_map_update_elem(&blk_start, &id, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(serve_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	/* Only the final completion of a request counts (a request may complete in parts). */
	if (nr_bytes < rq->__data_len)
		return 0;
	__u64 id = (__u64)rq;
	__u64 *tsp = bpf_map_lookup_elem(&blk_start, &id);
	if (!tsp)
		return 0;
	__u64 delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&blk_start, &id);
	if ((__s64)delta < 0)
		return 0;
	struct serve_blk_key key = { .dev = rq_dev(rq), .op = rq->cmd_flags & REQ_OP_MASK };
	struct serve_blk *b = bpf_map_lookup_elem(&block, &key);
	if (!b) {
		bpf_map_update_elem(&block, &key, &zero_blk, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&block, &key);
		if (!b) {
			count_drop(SERVE_DROP_BLOCK);
			return 0;
		}
	}
	hist_add(&b->lat, delta, true);
	__sync_fetch_and_add(&b->bytes, nr_bytes);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
