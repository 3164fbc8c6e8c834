/* Records shared by diagnose.bpf.c and src/tools/diagnose (layout read from BTF). */
#ifndef BPFKIT_DIAGNOSE_H
#define BPFKIT_DIAGNOSE_H

#define DIAG_MAX_SYSCALLS 1024
#define DIAG_MAX_THREADS 32768
#define DIAG_MAX_FLOWS 16384
#define DIAG_MAX_EXITED 8192
#define DIAG_TASK_COMM_LEN 16

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

#endif
