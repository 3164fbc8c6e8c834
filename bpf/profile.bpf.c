// profile: sample on-CPU stacks from a perf event (cpu-clock or cycles) and count them in the
// kernel. Stacks are stored once in a hash keyed by a 64-bit hash of their addresses (unlike a
// BPF stack-trace map, whose buckets collide and lose stacks long before it is full); samples are
// counted in a hash keyed by {pid, user stack, kernel stack, comm}. Filters are read-only
// constants set before load.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "regs.bpf.h"
#include "profile.h"
#include "self.bpf.h"
#include "cgroup.bpf.h"
#include "stacks.bpf.h"

const volatile __u32 filter_npids = 0;
const volatile __u32 filter_pids[PROFILE_MAX_FILTER] = {};
const volatile __u32 filter_ntids = 0;
const volatile __u32 filter_tids[PROFILE_MAX_FILTER] = {};
const volatile bool include_idle = false;
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile bool notify_new_pids = false;
const volatile bool leaf_fixup = false;        /* user-mode samples (x86_64) */
const volatile bool leaf_fixup_kernel = false; /* kernel-mode samples: needs bpf_task_pt_regs (5.15) */

/* Preallocated: perf_event programs may run in NMI context (hardware events). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* --stack-storage-size */
	__type(key, __u64);
	__type(value, struct profile_stack);
} profile_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960);
	__type(key, struct profile_key);
	__type(value, __u64);
} profile_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct profile_stats);
} profile_stat SEC(".maps");

/* Per-CPU scratch space for one stack (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct profile_stack);
} profile_scratch SEC(".maps");

/* When each process was last announced to user space (announced again after 5 s, so user
 * space refreshes the maps of the processes that run, and only those). LRU: no limit on how
 * many processes a long profile sees. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} profile_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} profile_events SEC(".maps");

static __always_inline bool in_list(__u32 v, const volatile __u32 *list, __u32 n)
{
	for (int i = 0; i < PROFILE_MAX_FILTER; i++) {
		if (i >= n)
			break;
		if (list[i] == v)
			return true;
	}
	return false;
}

/* Walk one stack into scratch, store it under its hash; returns the hash or NONE/MISSED. */
static __always_inline __u64 store_stack(void *ctx, __u64 flags, __u64 *missed)
{
	__u32 zero = 0;
	struct profile_stack *buf = bpf_map_lookup_elem(&profile_scratch, &zero);
	if (!buf)
		return PROFILE_STACK_MISSED;
	/* Fills the rest of the buffer with zeros. */
	long n = bpf_get_stack(ctx, buf->ips, sizeof(buf->ips), flags);
	if (n < 0) {
		(*missed)++;
		return PROFILE_STACK_MISSED;
	}
	__u32 depth = n / sizeof(__u64);
	if (depth == 0)
		return PROFILE_STACK_NONE;
	__u64 h = stack_hash(buf->ips, depth, PROFILE_MAX_STACK_DEPTH, PROFILE_STACK_MISSED);
	if (bpf_map_lookup_elem(&profile_stacks, &h))
		return h;
	if (bpf_map_update_elem(&profile_stacks, &h, buf, BPF_NOEXIST) == 0 ||
	    bpf_map_lookup_elem(&profile_stacks, &h)) /* another CPU stored it meanwhile */
		return h;
	(*missed)++;
	return PROFILE_STACK_MISSED;
}

#if defined(__TARGET_ARCH_x86)
/* The caller a frame-pointer walk skipped (see is_call_return), from the word at the user stack
 * pointer; user space inserts it between the leaf and the rest of the stack. */
static __always_inline __u64 user_leaf_caller(struct bpf_perf_event_data *ctx, __u64 second)
{
	__u64 sp;
	/* User mode: the sampled IP is a user address (kernel addresses have the top bit set; only
	 * 8-byte reads of the context's registers are allowed, so no look at cs). */
	if ((__s64)ctx->regs.ip >= 0) {
		sp = ctx->regs.sp;
	} else {
		if (!leaf_fixup_kernel)
			return 0;
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
		if (!regs)
			return 0;
		sp = BPF_CORE_READ(regs, sp);
	}
	__u64 ret = 0;
	if (!sp || bpf_probe_read_user(&ret, sizeof(ret), (void *)sp) != 0)
		return 0;
	return is_call_return(ret, second);
}
#elif defined(__TARGET_ARCH_arm64)
/* The same from the link register x30: the sampled one in user mode, the saved user one in a
 * syscall or interrupt. */
static __always_inline __u64 user_leaf_caller(struct bpf_perf_event_data *ctx, __u64 second)
{
	if ((__s64)ctx->regs.pc >= 0)
		return is_call_return(ctx->regs.regs[30], second);
	if (!leaf_fixup_kernel)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (!regs)
		return 0;
	return is_call_return(USER_LR_CORE(regs), second);
}
#endif

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	__u32 zero = 0;

	if (!include_idle && tid == 0)
		return 0;
	if (is_self(id))
		return 0;
	if (filter_npids && !in_list(tgid, filter_pids, filter_npids))
		return 0;
	if (filter_ntids && !in_list(tid, filter_tids, filter_ntids))
		return 0;
	if (!cgroup_wanted())
		return 0;

	struct profile_stats *st = bpf_map_lookup_elem(&profile_stat, &zero);
	if (!st)
		return 0;
	st->samples++;

	struct profile_key key = { .pid = tgid };
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.user_stack = user_stacks ? store_stack(ctx, BPF_F_USER_STACK, &st->user_missed) : PROFILE_STACK_NONE;
	if (leaf_fixup && key.user_stack > PROFILE_STACK_MISSED) {
		/* The scratch buffer still holds the user stack just stored. */
		struct profile_stack *buf = bpf_map_lookup_elem(&profile_scratch, &zero);
		if (buf)
			key.user_caller = user_leaf_caller(ctx, buf->ips[1]);
	}
	key.kernel_stack = kernel_stacks ? store_stack(ctx, 0, &st->kernel_missed) : PROFILE_STACK_NONE;

	__u64 *count = bpf_map_lookup_elem(&profile_counts, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);
	} else {
		__u64 one = 1;
		/* Another CPU may insert the same key first: then add to its entry. */
		if (bpf_map_update_elem(&profile_counts, &key, &one, BPF_NOEXIST) != 0) {
			count = bpf_map_lookup_elem(&profile_counts, &key);
			if (count)
				__sync_fetch_and_add(count, 1);
			else
				st->dropped++;
		}
	}

	if (notify_new_pids && tgid != 0) {
		__u64 now = bpf_ktime_get_ns();
		__u64 *last = bpf_map_lookup_elem(&profile_seen, &tgid);
		if (!last || now - *last > PROFILE_REANNOUNCE_NS) {
			bpf_map_update_elem(&profile_seen, &tgid, &now, BPF_ANY);
			struct profile_new_pid *e = bpf_ringbuf_reserve(&profile_events, sizeof(*e), 0);
			if (e) {
				e->pid = tgid;
				bpf_ringbuf_submit(e, 0);
			}
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
