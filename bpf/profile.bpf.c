// profile: sample on-CPU stacks from a perf event (cpu-clock or cycles) and count them in the
// kernel: stacks go to a stack-trace map (deduplicated by the kernel), samples to a hash keyed by
// {pid, user stack id, kernel stack id, comm}. Filters are read-only constants set before load.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "profile.h"

#define EFAULT 14

const volatile __u32 filter_npids = 0;
const volatile __u32 filter_pids[PROFILE_MAX_FILTER] = {};
const volatile __u32 filter_ntids = 0;
const volatile __u32 filter_tids[PROFILE_MAX_FILTER] = {};
const volatile bool include_idle = false;
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile bool notify_new_pids = false;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384); /* --stack-storage-size */
	__type(key, __u32);
	__uint(value_size, PROFILE_MAX_STACK_DEPTH * sizeof(__u64));
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

/* Processes already announced to user space (so each is announced once). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
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

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	__u32 zero = 0;

	if (!include_idle && tid == 0)
		return 0;
	if (filter_npids && !in_list(tgid, filter_pids, filter_npids))
		return 0;
	if (filter_ntids && !in_list(tid, filter_tids, filter_ntids))
		return 0;

	struct profile_stats *st = bpf_map_lookup_elem(&profile_stat, &zero);
	if (!st)
		return 0;
	st->samples++;

	struct profile_key key = { .pid = tgid };
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.user_stack_id = user_stacks ? bpf_get_stackid(ctx, &profile_stacks, BPF_F_USER_STACK) : -EFAULT;
	key.kernel_stack_id = kernel_stacks ? bpf_get_stackid(ctx, &profile_stacks, 0) : -EFAULT;
	if (key.user_stack_id < 0 && key.user_stack_id != -EFAULT)
		st->user_missed++;
	if (key.kernel_stack_id < 0 && key.kernel_stack_id != -EFAULT)
		st->kernel_missed++;

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
		__u8 yes = 1;
		if (bpf_map_update_elem(&profile_seen, &tgid, &yes, BPF_NOEXIST) == 0) {
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
