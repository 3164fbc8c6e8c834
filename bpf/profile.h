/* Records shared by profile.bpf.c and src/tools/profile (layout read from BTF). */
#ifndef BPFKIT_PROFILE_H
#define BPFKIT_PROFILE_H

#define PROFILE_MAX_FILTER 64        /* -p / -L: at most this many PIDs or TIDs */
#define PROFILE_MAX_STACK_DEPTH 127  /* PERF_MAX_STACK_DEPTH */
#define PROFILE_TASK_COMM_LEN 16
#define PROFILE_REANNOUNCE_NS 5000000000ULL /* a running process is announced again after 5 s */

/* Stack ids in profile_key: a 64-bit hash of the stack's addresses (key of profile_stacks), or: */
#define PROFILE_STACK_NONE 0         /* no stack: not collected (-U/-K), kernel thread, user mode */
#define PROFILE_STACK_MISSED 1       /* there was a stack but it could not be stored (map full) */

/* One distinct (process, user stack, kernel stack) seen on CPU; the counts map holds its samples. */
struct profile_key {
	__u32 pid;             /* tgid */
	__u32 pad;
	__u64 user_stack;
	__u64 kernel_stack;
	/* x86_64: the return address at the user stack pointer when it follows a call instruction
	 * and the frame-pointer walk did not find it: the caller of a leaf function that has no
	 * frame (or of any function sampled at its first instruction). 0: none. */
	__u64 user_caller;
	char comm[PROFILE_TASK_COMM_LEN];
};

/* A stack, leaf first, zero-terminated when shorter than PROFILE_MAX_STACK_DEPTH. */
struct profile_stack {
	__u64 ips[PROFILE_MAX_STACK_DEPTH];
};

/* Sampling statistics, one per CPU (per-CPU array, index 0). */
struct profile_stats {
	__u64 samples;         /* samples that passed the filters */
	__u64 dropped;         /* counts map full: sample lost */
	__u64 user_missed;     /* user stack not stored (stacks map full, or unwinding failed) */
	__u64 kernel_missed;   /* kernel stack not stored */
};

/* Ring buffer record: a process seen for the first time, or again after 5 s (user space
 * snapshots its maps and JIT map). */
struct profile_new_pid {
	__u32 pid;
};

#endif
