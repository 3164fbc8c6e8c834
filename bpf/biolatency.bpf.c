// biolatency: log2 histogram of block I/O latency, built in the kernel. Device latency runs
// from block_rq_issue to block_rq_complete; with -Q from the start of the I/O (block_io_start,
// or block_rq_insert on kernels without it) to completion.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "biolatency.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"

#define REQ_OP_MASK 0xff

const volatile bool per_disk = false;
const volatile bool per_flag = false;
const volatile bool in_ms = false;
const volatile bool queued = false;
const volatile bool filter_dev = false;
const volatile __u32 target_dev = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BIOLAT_MAX_ENTRIES);
	__type(key, __u64); /* struct request *: a u64 copy (6.1's verifier loses a spilled BTF pointer's type) */
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct biolat_key);
	__type(value, struct biolat_hist);
} hists SEC(".maps");

static struct biolat_hist zero_hist;

static __always_inline __u32 rq_dev(struct request *rq)
{
	/* tp_btf arguments are BTF pointers: direct loads, no helper calls */
	struct gendisk *disk = rq->q->disk;
	if (!disk)
		return 0;
	return ((__u32)disk->major << 20) | (__u32)disk->first_minor;
}

static __always_inline bool wanted(struct request *rq)
{
	return !filter_dev || rq_dev(rq) == target_dev;
}

static __always_inline void stamp(struct request *rq, bool only_if_new)
{
	if (!wanted(rq))
		return;
	/* I/O started or issued in bpfkit's own context is not timed (completion skips it) */
	if (is_self(bpf_get_current_pid_tgid()))
		return;
	/* -c/--container: I/O submitted (or issued) in the wanted cgroups' context */
	if (!cgroup_wanted())
		return;
	__u64 ts = bpf_ktime_get_ns();
	__u64 id = (__u64)rq;
	bpf_map_update_elem(&start, &id, &ts, only_if_new ? BPF_NOEXIST : BPF_ANY);
}

/* -Q: the I/O's start (new kernels), or its insertion into the queue (older ones). */
SEC("tp_btf/block_io_start")
int BPF_PROG(biolat_io_start, struct request *rq)
{
	stamp(rq, false);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(biolat_rq_insert, struct request *rq)
{
	stamp(rq, false);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biolat_rq_issue, struct request *rq)
{
	/* With -Q keep the earlier start; requests issued directly were never inserted. */
	stamp(rq, queued);
	return 0;
}

#define FLAG(name, bit) \
	if (f & (1ULL << bpf_core_enum_value(enum req_flag_bits, name))) out |= bit

static __always_inline __u32 norm_flags(__u64 f)
{
	__u32 out = f & REQ_OP_MASK;
	FLAG(__REQ_SYNC, BIOLAT_F_SYNC);
	FLAG(__REQ_META, BIOLAT_F_META);
	FLAG(__REQ_PRIO, BIOLAT_F_PRIO);
	FLAG(__REQ_NOMERGE, BIOLAT_F_NOMERGE);
	FLAG(__REQ_IDLE, BIOLAT_F_IDLE);
	FLAG(__REQ_FUA, BIOLAT_F_FUA);
	FLAG(__REQ_PREFLUSH, BIOLAT_F_PREFLUSH);
	FLAG(__REQ_RAHEAD, BIOLAT_F_RAHEAD);
	FLAG(__REQ_BACKGROUND, BIOLAT_F_BACKGROUND);
	FLAG(__REQ_NOWAIT, BIOLAT_F_NOWAIT);
	return out;
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

SEC("tp_btf/block_rq_complete")
int BPF_PROG(biolat_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	/* Only the final completion of a request counts (a request may complete in parts). */
	if (nr_bytes < rq->__data_len)
		return 0;
	__u64 id = (__u64)rq;
	__u64 *tsp = bpf_map_lookup_elem(&start, &id);
	if (!tsp)
		return 0;
	__u64 delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &id);
	if ((__s64)delta < 0)
		return 0;
	delta /= in_ms ? 1000000 : 1000;

	struct biolat_key key = {};
	if (per_disk)
		key.dev = rq_dev(rq);
	if (per_flag)
		key.flags = norm_flags(rq->cmd_flags);
	struct biolat_hist *h = bpf_map_lookup_elem(&hists, &key);
	if (!h) {
		bpf_map_update_elem(&hists, &key, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h)
			return 0;
	}
	__u32 slot = log2_slot(delta);
	if (slot >= BIOLAT_MAX_SLOTS)
		slot = BIOLAT_MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
