/* Records shared by profile.bpf.c and src/tools/profile (layout read from BTF). */
#ifndef BPFKIT_PROFILE_H
#define BPFKIT_PROFILE_H

#define PROFILE_MAX_FILTER 64        /* -p / -L: at most this many PIDs or TIDs */
#define PROFILE_MAX_STACK_DEPTH 127  /* PERF_MAX_STACK_DEPTH */
#define PROFILE_TASK_COMM_LEN 16

/* One distinct (process, user stack, kernel stack) seen on CPU; the counts map holds its samples. */
struct profile_key {
	__u32 pid;             /* tgid */
	__s32 user_stack_id;   /* id in the stack map, or a negative errno (-EFAULT: no stack) */
	__s32 kernel_stack_id;
	char comm[PROFILE_TASK_COMM_LEN];
};

/* Sampling statistics, one per CPU (per-CPU array, index 0). */
struct profile_stats {
	__u64 samples;         /* samples that passed the filters */
	__u64 dropped;         /* counts map full: sample lost */
	__u64 user_missed;     /* user stack not stored (stack map full or hash collision) */
	__u64 kernel_missed;   /* kernel stack not stored */
};

/* Ring buffer record: a process seen for the first time (user space snapshots its maps). */
struct profile_new_pid {
	__u32 pid;
};

#endif
