// biotop: block I/O by process. The submitter is recorded when the I/O starts (block_io_start,
// or on older kernels block_bio_queue keyed by bio and moved to the request at issue); device
// time runs from block_rq_issue to block_rq_complete; totals are aggregated in the kernel.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "biotop.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"

#define REQ_OP_MASK 0xff
#define REQ_OP_WRITE 1

const volatile __u32 filter_tgid = 0;

/* Requests in flight (one entry: submitter + issue time, so one lookup per event). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BIOTOP_MAX_ENTRIES);
	__type(key, __u64); /* struct request *, as a u64: older verifiers (6.1) lose the type of a
			       BTF pointer spilled to the stack, and the program still dereferences it */
	__type(value, struct biotop_start);
} starts SEC(".maps");

/* Fallback: bios queued, by submitter, until their request is issued. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BIOTOP_MAX_ENTRIES);
	__type(key, __u64); /* struct bio * */
	__type(value, struct biotop_who);
} who_by_bio SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BIOTOP_MAX_ENTRIES);
	__type(key, struct biotop_key);
	__type(value, struct biotop_value);
} counts SEC(".maps");

static __always_inline bool fill_who(struct biotop_who *who)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (filter_tgid && tgid != filter_tgid)
		return false;
	if (!cgroup_wanted())
		return false;
	who->pid = tgid;
	bpf_get_current_comm(who->comm, sizeof(who->comm));
	return true;
}

SEC("tp_btf/block_io_start")
int BPF_PROG(biotop_io_start, struct request *rq)
{
	struct biotop_start s = {};
	__u64 id = (__u64)rq;
	if (fill_who(&s.who))
		bpf_map_update_elem(&starts, &id, &s, BPF_ANY);
	return 0;
}

/* Older kernels: remember the bio's submitter; the request takes it over at issue. */
SEC("tp_btf/block_bio_queue")
int BPF_PROG(biotop_bio_queue, struct bio *bio)
{
	struct biotop_who who = {};
	__u64 id = (__u64)bio;
	if (fill_who(&who))
		bpf_map_update_elem(&who_by_bio, &id, &who, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biotop_rq_issue, struct request *rq)
{
	__u64 id = (__u64)rq;
	__u64 now = bpf_ktime_get_ns();
	struct biotop_start *s = bpf_map_lookup_elem(&starts, &id);
	if (s) {
		s->issue_ns = now;
	} else {
		/* submitter not seen (started before we attached, or the block layer's own) */
		struct biotop_start n = { .issue_ns = now };
		bpf_map_update_elem(&starts, &id, &n, BPF_ANY);
	}
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biotop_rq_issue_bio, struct request *rq)
{
	__u64 id = (__u64)rq;
	__u64 bio = (__u64)rq->bio;
	struct biotop_start n = { .issue_ns = bpf_ktime_get_ns() };
	struct biotop_who *who = bpf_map_lookup_elem(&who_by_bio, &bio);
	if (who) {
		n.who = *who;
		bpf_map_delete_elem(&who_by_bio, &bio);
	}
	bpf_map_update_elem(&starts, &id, &n, BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(biotop_rq_complete, struct request *rq, blk_status_t error, unsigned int nr_bytes)
{
	__u64 id = (__u64)rq;
	struct biotop_start *s = bpf_map_lookup_elem(&starts, &id);
	if (!s || !s->issue_ns)
		return 0; /* issued before we attached */
	__u64 delta = bpf_ktime_get_ns() - s->issue_ns;
	/* A request may complete in parts; the last part completes all that is left. */
	bool final = nr_bytes >= rq->__data_len;

	struct biotop_key key = {};
	key.pid = s->who.pid;
	if ((filter_tgid || bpfkit_filter_cgroups) && !key.pid)
		goto out;
	if (is_self_tgid(key.pid))
		goto out; /* I/O submitted by bpfkit itself (recorded at start, left out here) */
	__builtin_memcpy(key.comm, s->who.comm, sizeof(key.comm));
	/* tp_btf arguments are BTF pointers: direct loads, no helper calls */
	struct gendisk *disk = rq->q->disk;
	if (disk) {
		key.major = disk->major;
		key.minor = disk->first_minor;
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
	if (final)
		bpf_map_delete_elem(&starts, &id);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
