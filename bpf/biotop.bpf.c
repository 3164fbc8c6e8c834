// biotop: block I/O by process. The submitter is recorded when the I/O starts (block_io_start,
// or on older kernels block_bio_queue keyed by bio and moved to the request at issue); device
// time runs from block_rq_issue to block_rq_complete; totals are aggregated in the kernel.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "biotop.h"

#define REQ_OP_MASK 0xff
#define REQ_OP_WRITE 1

const volatile __u32 filter_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BIOTOP_MAX_ENTRIES);
	__type(key, __u64); /* struct request * */
	__type(value, struct biotop_who);
} who_by_rq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BIOTOP_MAX_ENTRIES);
	__type(key, __u64); /* struct bio * */
	__type(value, struct biotop_who);
} who_by_bio SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BIOTOP_MAX_ENTRIES);
	__type(key, __u64); /* struct request * */
	__type(value, __u64);
} issue_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BIOTOP_MAX_ENTRIES);
	__type(key, struct biotop_key);
	__type(value, struct biotop_value);
} counts SEC(".maps");

/* Map keys are the pointers' values copied to a u64: older verifiers (6.1) lose the type of
 * a BTF pointer spilled to the stack, and the program still needs to dereference it. */
static __always_inline int record_who(void *map, __u64 key)
{
	struct biotop_who who = {};
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (filter_tgid && tgid != filter_tgid)
		return 0;
	who.pid = tgid;
	bpf_get_current_comm(who.comm, sizeof(who.comm));
	bpf_map_update_elem(map, &key, &who, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_io_start")
int BPF_PROG(biotop_io_start, struct request *rq)
{
	return record_who(&who_by_rq, (__u64)rq);
}

/* Older kernels: remember the bio's submitter; the request takes it over at issue. */
SEC("tp_btf/block_bio_queue")
int BPF_PROG(biotop_bio_queue, struct bio *bio)
{
	return record_who(&who_by_bio, (__u64)bio);
}

static __always_inline void on_issue(struct request *rq)
{
	__u64 ts = bpf_ktime_get_ns();
	__u64 id = (__u64)rq;
	bpf_map_update_elem(&issue_ns, &id, &ts, BPF_ANY);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biotop_rq_issue, struct request *rq)
{
	on_issue(rq);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biotop_rq_issue_bio, struct request *rq)
{
	__u64 bio = (__u64)rq->bio;
	__u64 id = (__u64)rq;
	struct biotop_who *who = bpf_map_lookup_elem(&who_by_bio, &bio);
	if (who) {
		bpf_map_update_elem(&who_by_rq, &id, who, BPF_ANY);
		bpf_map_delete_elem(&who_by_bio, &bio);
	}
	on_issue(rq);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(biotop_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	__u64 id = (__u64)rq;
	__u64 *tsp = bpf_map_lookup_elem(&issue_ns, &id);
	if (!tsp)
		return 0; /* issued before we attached */
	__u64 delta = bpf_ktime_get_ns() - *tsp;
	/* A request may complete in parts; the last part completes all that is left. */
	bool final = nr_bytes >= rq->__data_len;

	struct biotop_key key = {};
	struct biotop_who *who = bpf_map_lookup_elem(&who_by_rq, &id);
	if (who) {
		key.pid = who->pid;
		__builtin_memcpy(key.comm, who->comm, sizeof(key.comm));
	} else if (filter_tgid) {
		goto out;
	}
	struct gendisk *disk = BPF_CORE_READ(rq, q, disk);
	if (disk) {
		key.major = BPF_CORE_READ(disk, major);
		key.minor = BPF_CORE_READ(disk, first_minor);
	}
	key.rwflag = (rq->cmd_flags & REQ_OP_MASK) == REQ_OP_WRITE;

	struct biotop_value *v = bpf_map_lookup_elem(&counts, &key);
	if (!v) {
		struct biotop_value zero = {};
		bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v)
			goto out;
	}
	__sync_fetch_and_add(&v->bytes, nr_bytes);
	if (final) {
		__sync_fetch_and_add(&v->ns, delta);
		__sync_fetch_and_add(&v->io, 1);
	}
out:
	if (final) {
		bpf_map_delete_elem(&issue_ns, &id);
		bpf_map_delete_elem(&who_by_rq, &id);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
