// tcplife: TCP connections from their start (SYN_SENT, SYN_RECV or ESTABLISHED) to CLOSE, with
// duration and bytes (tcp_sock's bytes_acked / bytes_received read at CLOSE), from
// tp_btf/inet_sock_set_state. The owning process is the one in whose context the connection
// was started (connect: SYN_SENT) or closed (close/shutdown: FIN_WAIT1 or LAST_ACK); SYN_RECV
// and the final CLOSE often run in softirq context where `current` is unrelated.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "snoop.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"

SNOOP_LAYOUT(tcplife_event);

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

const volatile __u32 filter_tgid = 0;
const volatile __u16 filter_family = 0;
const volatile __u32 n_lports = 0;
const volatile __u16 lports[TCPLIFE_MAX_PORTS] = {};
const volatile __u32 n_rports = 0;
const volatile __u16 rports[TCPLIFE_MAX_PORTS] = {};

#define SEEN_SYN_SENT 1    /* active open: the peer's ACK of our SYN counts in bytes_acked */
#define SEEN_ESTABLISHED 2
#define SEEN_FIN_SENT 4    /* FIN_WAIT1 or LAST_ACK: we sent a FIN (it counts once acked) */
#define SEEN_WANTED 8      /* its owner was seen in a cgroup of -c/--container */

struct birth {
	__u64 ts_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 seen;
	char comm[SNOOP_COMM_LEN];
};

/* Before Linux 6.x's struct sock reorganisation sk_flags was a field of struct sock. */
struct sock___old {
	unsigned long sk_flags;
} __attribute__((preserve_access_index));

static __always_inline unsigned long sk_flags_of(const struct sock *sk)
{
	if (bpf_core_field_exists(struct sock___old, sk_flags))
		return BPF_CORE_READ((struct sock___old *)sk, sk_flags);
	return BPF_CORE_READ(sk, __sk_common.skc_flags);
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct birth);
} births SEC(".maps");

static __always_inline bool port_in(__u16 port, const volatile __u16 *list, __u32 n)
{
	for (int i = 0; i < TCPLIFE_MAX_PORTS; i++) {
		if (i >= n)
			break;
		if (list[i] == port)
			return true;
	}
	return false;
}

static __always_inline void whoami(struct birth *b)
{
	b->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(b->comm, sizeof(b->comm));
	b->cgroup_id = bpf_get_current_cgroup_id();
	if (cgroup_wanted())
		b->seen |= SEEN_WANTED;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcplife_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (filter_family && family != filter_family)
		return 0;
	__u64 key = (__u64)sk;

	if (newstate == TCP_SYN_SENT || newstate == TCP_SYN_RECV || newstate == TCP_ESTABLISHED) {
		struct birth *b = bpf_map_lookup_elem(&births, &key);
		if (b) {
			if (newstate == TCP_ESTABLISHED)
				b->seen |= SEEN_ESTABLISHED;
			return 0;
		}
		struct birth nb = {};
		nb.seen = newstate == TCP_SYN_SENT ? SEEN_SYN_SENT : newstate == TCP_ESTABLISHED ? SEEN_ESTABLISHED : 0;
		nb.ts_ns = bpf_ktime_get_ns();
		if (newstate == TCP_SYN_SENT)
			whoami(&nb);
		bpf_map_update_elem(&births, &key, &nb, BPF_NOEXIST);
		return 0;
	}
	if (newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK) {
		struct birth *b = bpf_map_lookup_elem(&births, &key);
		if (b) {
			b->seen |= SEEN_FIN_SENT;
			if (b->pid == 0)
				whoami(b);
		}
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;

	struct birth *b = bpf_map_lookup_elem(&births, &key);
	if (!b)
		return 0; /* started before we attached */
	struct birth born = *b;
	bpf_map_delete_elem(&births, &key);
	if (filter_tgid && born.pid != filter_tgid)
		return 0;
	if (bpfkit_filter_cgroups && !(born.seen & SEEN_WANTED))
		return 0; /* owner unknown or in another cgroup */
	if (is_self_tgid(born.pid))
		return 0; /* bpfkit's own connections (e.g. a metrics scrape) */
	__u16 lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (n_lports && !port_in(lport, lports, n_lports))
		return 0;
	if (n_rports && !port_in(rport, rports, n_rports))
		return 0;

	struct tcplife_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	e->ts_ns = now;
	e->span_ns = now - born.ts_ns;
	e->cgroup_id = born.cgroup_id;
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	/* bytes_acked and bytes_received count sequence space: the SYN of an active open and a FIN
	 * each take one. Count data only: drop our SYN once acked, our FIN once acked (everything
	 * written is acked), and the peer's FIN once received (tcp_fin sets SOCK_DONE). */
	__u64 tx = BPF_CORE_READ(tp, bytes_acked);
	__u64 rx = BPF_CORE_READ(tp, bytes_received);
	if ((born.seen & (SEEN_SYN_SENT | SEEN_ESTABLISHED)) == (SEEN_SYN_SENT | SEEN_ESTABLISHED) && tx > 0)
		tx--;
	if ((born.seen & SEEN_FIN_SENT) && tx > 0 && BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		tx--;
	if ((sk_flags_of(sk) & (1UL << SOCK_DONE)) && rx > 0)
		rx--;
	e->tx_bytes = tx;
	e->rx_bytes = rx;
	e->pid = born.pid;
	e->family = family;
	e->lport = lport;
	e->rport = rport;
	e->pad = 0;
	e->pad2 = 0;
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)e->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)e->daddr, sk, __sk_common.skc_v6_daddr);
	}
	__builtin_memcpy(e->comm, born.comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
