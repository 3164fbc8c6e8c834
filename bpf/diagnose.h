/* Records shared by diagnose.bpf.c and src/tools/diagnose (layout read from BTF). */
#ifndef BPFKIT_DIAGNOSE_H
#define BPFKIT_DIAGNOSE_H

#define DIAG_MAX_SYSCALLS 1024
#define DIAG_MAX_THREADS 32768
#define DIAG_MAX_FLOWS 16384
#define DIAG_MAX_EXITED 8192
#define DIAG_TASK_COMM_LEN 16
#define DIAG_MAX_STACKS 8192		/* distinct user stacks stored (by hash) */
#define DIAG_MAX_STACK_KEYS 16384	/* distinct {tgid, kind, stack} weighted */
#define DIAG_MAX_FUTEXES 16384		/* distinct {tgid, tid, futex word} */
#define DIAG_STACK_DEPTH 64		/* user frames kept per stack, leaf first */

/* What a thread blocked in a syscall is waiting for. Indexes of diag_thread.wait_ns. User space
 * reads these from the object's BTF (kept by BTF_KEEP_ENUM in diagnose.bpf.c): DIAG_<KIND>. */
enum diag_wait {
	DIAG_OTHER = 0,		/* any other syscall */
	DIAG_INPUT = 1,		/* epoll/select/poll with fds, accept: waiting for input */
	DIAG_SLEEP = 2,		/* nanosleep, clock_nanosleep: a timed sleep */
	DIAG_SELECT_SLEEP = 3,	/* select/poll with no fds and a timeout: a timed sleep */
	DIAG_READ = 4,		/* read, recv*: reading a file or socket */
	DIAG_WRITE = 5,		/* write, send*: writing a file or socket */
	DIAG_SYNC = 6,		/* fsync, fdatasync, sync_file_range: waiting for the disk */
	DIAG_LOCK = 7,		/* futex: locks and condition variables */
	DIAG_WAIT_KINDS = 8,
	/* Only in the classification table, resolved at syscall entry from the arguments: */
	DIAG_SELECT_LIKE = 9,	/* select/pselect6: nfds is argument 0 */
	DIAG_POLL_LIKE = 10,	/* poll/ppoll: nfds is argument 1 */
	/* Only in diag_stack_key.kind: sampled on CPU. */
	DIAG_ON_CPU = 11,
};

/* Per thread, cumulative since attach. In the `exited` map: the sum of exited threads. */
struct diag_thread {
	__u32 tgid;
	__u32 ppid;		/* parent process (tgid) when first seen */
	__u64 oncpu_ns;
	__u64 runq_ns;
	__u64 syscalls;
	__u64 io_bytes;		/* block I/O issued by this thread */
	__u64 io_count;
	__u64 wait_ns[DIAG_WAIT_KINDS];
	__u64 wait_count[DIAG_WAIT_KINDS];
	char comm[DIAG_TASK_COMM_LEN];
};

/* One TCP connection end as seen by one process. Ports in host order. */
struct diag_flow_key {
	__u32 tgid;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

struct diag_flow {
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u64 tx_calls;
	__u64 rx_calls;
};

/* Stack ids in diag_stack_key: a 64-bit hash of the addresses (key of `stacks`), or: */
#define DIAG_STACK_NONE 0	/* no user stack (walk failed) */
#define DIAG_STACK_MISSED 1	/* a stack that could not be stored (stacks map full) */

/* A user stack, leaf first, zero-terminated when shorter than DIAG_STACK_DEPTH. */
struct diag_stack {
	__u64 ips[DIAG_STACK_DEPTH];
};

/* Where a process spent time in its code: off-CPU by the wait kind it blocked in, or on CPU. */
struct diag_stack_key {
	__u32 tgid;
	__u32 kind;		/* enum diag_wait (< DIAG_WAIT_KINDS) or DIAG_ON_CPU */
	__u64 stack;		/* hash of the user stack (key of `stacks`) or DIAG_STACK_* */
	/* x86_64: the return address at the user stack pointer when it follows a call and the
	 * frame-pointer walk skipped it (the caller of a frameless libc wrapper); 0: none. */
	__u64 caller;
};

struct diag_time {
	__u64 ns;		/* blocked ns (off-CPU) or sampled ns (on CPU: samples x period) */
	__u64 count;		/* blocks or samples */
};

/* Waits in futex wait/lock operations of one thread on one futex word. */
struct diag_futex_key {
	__u32 tgid;
	__u32 tid;
	__u64 uaddr;
};

/* Losses, one per CPU (per-CPU array, index 0). */
struct diag_stats {
	__u64 stack_missed;	/* stacks map full: stack not stored */
	__u64 stack_dropped;	/* stack weights map full: the time is not attributed */
	__u64 futex_dropped;	/* futex map full */
	__u64 samples;		/* on-CPU samples taken */
};

#endif
