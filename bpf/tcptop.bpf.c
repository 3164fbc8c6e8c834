// tcptop: TCP bytes sent and received, per process and connection, summed in the kernel.
//
// Hooks (user space picks one set by feature probe; the others are not loaded):
//   tp_btf   sock:sock_send_length / sock:sock_recv_length (Linux 6.3+): the socket layer's
//            result of every sendmsg/recvmsg, on the caller's task.
//   fentry   fexit on tcp_sendmsg / tcp_recvmsg (their return value: bytes moved).
//   kprobe   kprobe + kretprobe on tcp_sendmsg / tcp_recvmsg (arguments kept per thread).
//
// Counts go to one of two hash maps, chosen by a generation number that user space flips
// before it drains the other one; a per-CPU "in flight" counter per generation tells user space
// when no program still holds a pointer into the map it is about to drain, so no byte is lost
// between the lookup of an entry and its deletion.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcptop.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define MSG_PEEK 2
#define MSG_ERRQUEUE 0x2000
/* Receives that move no stream data: peeks (counted when really read) and error-queue reads
 * (timestamps, zerocopy completions). */
#define NOT_STREAM_DATA (MSG_PEEK | MSG_ERRQUEUE)

const volatile __u32 filter_tgid = 0;
const volatile __u16 filter_family = 0; /* 0 = both */

struct tcptop_maps {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPTOP_MAX_CONNS);
	__type(key, struct tcptop_key);
	__type(value, struct tcptop_value);
};
struct tcptop_maps conns0 SEC(".maps");
struct tcptop_maps conns1 SEC(".maps");

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

/* [0] = transfers not recorded because the connection table was full. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

/* kprobe mode: arguments of tcp_sendmsg/tcp_recvmsg per thread, for the kretprobe. */
struct pending_call {
	struct sock *sk;
	__u32 flags;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPTOP_MAX_CONNS);
	__type(key, __u32);
	__type(value, struct pending_call);
} pending_send SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPTOP_MAX_CONNS);
	__type(key, __u32);
	__type(value, struct pending_call);
} pending_recv SEC(".maps");

/* id: bpf_get_current_pid_tgid(), fetched once by the caller */
static __always_inline bool wanted_task(__u64 id)
{
	if (is_self(id))
		return false;
	if (filter_tgid && (id >> 32) != filter_tgid)
		return false;
	if (!cgroup_wanted())
		return false;
	return true;
}

static __always_inline void add_bytes(void *map, struct tcptop_key *key, __u64 bytes, bool sent)
{
	struct tcptop_value *v = bpf_map_lookup_elem(map, key);
	if (!v) {
		struct tcptop_value init = {};
		bpf_get_current_comm(init.comm, sizeof(init.comm));
		/* -EEXIST: another CPU created it first, fine; the table full: counted as dropped. */
		bpf_map_update_elem(map, key, &init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(map, key);
		if (!v) {
			__u32 zero = 0;
			__u64 *d = bpf_map_lookup_elem(&dropped, &zero);
			if (d)
				__sync_fetch_and_add(d, 1);
			return;
		}
	}
	if (sent)
		__sync_fetch_and_add(&v->sent, bytes);
	else
		__sync_fetch_and_add(&v->received, bytes);
}

/* Add to the current generation's map, announced in `inflight` (see the top comment). */
static __always_inline void account(struct tcptop_key *key, __u64 bytes, bool sent)
{
	__u32 zero = 0;
	__u32 *genp = bpf_map_lookup_elem(&generation, &zero);
	if (!genp)
		return;
	__u32 g = *(volatile __u32 *)genp & 1;
	__s64 *busy = bpf_map_lookup_elem(&inflight, &g);
	if (!busy)
		return;
	__sync_fetch_and_add(busy, 1); /* a full barrier: the re-read below sees a flip before it */
	__u32 now = *(volatile __u32 *)genp & 1;
	if (now != g) {
		/* User space flipped meanwhile: it may be draining g already; use the new one. */
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

/* BTF-typed socket (tp_btf, fentry/fexit): direct loads, relocated by CO-RE. */
static __always_inline int count_btf(struct sock *sk, long ret, bool sent)
{
	if (ret <= 0 || !sk)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (filter_family && family != filter_family)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (!wanted_task(id))
		return 0;

	struct tcptop_key key = {};
	key.pid = id >> 32;
	key.family = family;
	key.lport = sk->__sk_common.skc_num;
	key.dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (family == AF_INET) {
		__builtin_memcpy(key.saddr, &sk->__sk_common.skc_rcv_saddr, 4);
		__builtin_memcpy(key.daddr, &sk->__sk_common.skc_daddr, 4);
	} else {
		__builtin_memcpy(key.saddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
		__builtin_memcpy(key.daddr, &sk->__sk_common.skc_v6_daddr, 16);
	}
	account(&key, ret, sent);
	return 0;
}

/* Untyped socket pointer (kprobes): reads through bpf_probe_read_kernel, relocated by CO-RE. */
static __always_inline int count_probe(struct sock *sk, long ret, bool sent)
{
	if (ret <= 0 || !sk)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (filter_family && family != filter_family)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (!wanted_task(id))
		return 0;

	struct tcptop_key key = {};
	key.pid = id >> 32;
	key.family = family;
	key.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	key.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)key.saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)key.daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)key.saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)key.daddr, sk, __sk_common.skc_v6_daddr);
	}
	account(&key, ret, sent);
	return 0;
}

/* ---- tp_btf: sock_send_length / sock_recv_length (struct sock *sk, int ret, int flags) ---- */

SEC("tp_btf/sock_send_length")
int BPF_PROG(tcptop_send, struct sock *sk, int ret, int flags)
{
	return count_btf(sk, ret, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tcptop_recv, struct sock *sk, int ret, int flags)
{
	if (flags & NOT_STREAM_DATA)
		return 0;
	return count_btf(sk, ret, false);
}

/* ---- fexit: tcp_sendmsg(sk, msg, size) / tcp_recvmsg(sk, msg, len, flags, addr_len) ---- */

SEC("fexit/tcp_sendmsg")
int BPF_PROG(tcptop_fx_send, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	return count_btf(sk, ret, true);
}

SEC("fexit/tcp_recvmsg")
int BPF_PROG(tcptop_fx_recv, struct sock *sk, struct msghdr *msg, size_t len, int flags,
	     int *addr_len, int ret)
{
	if (flags & NOT_STREAM_DATA)
		return 0;
	return count_btf(sk, ret, false);
}

/* ---- kprobe + kretprobe: the same functions, arguments kept per thread ---- */

static __always_inline int remember(void *map, struct sock *sk, __u32 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!wanted_task(id))
		return 0;
	__u32 tid = (__u32)id;
	struct pending_call call = { .sk = sk, .flags = flags };
	bpf_map_update_elem(map, &tid, &call, BPF_ANY);
	return 0;
}

static __always_inline int finish(void *map, long ret, bool sent)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending_call *call = bpf_map_lookup_elem(map, &tid);
	if (!call)
		return 0;
	struct sock *sk = call->sk;
	__u32 flags = call->flags;
	bpf_map_delete_elem(map, &tid);
	if (!sent && (flags & NOT_STREAM_DATA))
		return 0;
	return count_probe(sk, ret, sent);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcptop_kp_send, struct sock *sk)
{
	return remember(&pending_send, sk, 0);
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(tcptop_kr_send, int ret)
{
	return finish(&pending_send, ret, true);
}

SEC("kprobe/tcp_recvmsg")
int BPF_KPROBE(tcptop_kp_recv, struct sock *sk, struct msghdr *msg, size_t len, int flags)
{
	return remember(&pending_recv, sk, flags);
}

SEC("kretprobe/tcp_recvmsg")
int BPF_KRETPROBE(tcptop_kr_recv, int ret)
{
	return finish(&pending_recv, ret, false);
}

char LICENSE[] SEC("license") = "GPL";
