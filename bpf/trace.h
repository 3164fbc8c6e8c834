/* Records shared by trace.bpf.c and src/tools/trace (layouts read from BTF). */
#ifndef BPFKIT_TRACE_H
#define BPFKIT_TRACE_H

#define TRACE_MAX_OPS 8          /* user-memory copies per syscall (entry + exit) */
#define TRACE_DATA 2048          /* bytes of copied user memory sent per event (at most) */
#define TRACE_CHUNK_MASK 1023    /* an op's offset and length are below 1024 */
#define TRACE_POS_MASK 2047      /* a STRARRAY's string position */
#define TRACE_STACK_DEPTH 32     /* -k: user stack frames per syscall */
#define TASK_COMM_LEN 16

/* How an op finds its length. */
enum trace_copy_kind {
	TRACE_COPY_NONE = 0,
	TRACE_COPY_FIXED = 1,    /* max bytes */
	TRACE_COPY_STR = 2,      /* NUL-terminated string, up to max bytes */
	TRACE_COPY_ARGLEN = 3,   /* (args[len_arg] * mult + 2^shift - 1) >> shift bytes, up to max */
	TRACE_COPY_RETLEN = 4,   /* (ret * mult) bytes when ret > 0, up to max (exit only) */
	TRACE_COPY_LENPTR = 5,   /* *(u32 *)args[len_arg] bytes, up to max (a socklen_t pointer) */
	TRACE_COPY_STRARRAY = 6, /* NULL-terminated array of string pointers (execve's argv, envp): u32
	                          * count (up to TRACE_ARRAY_MAX), then the first `mult` strings,
	                          * NUL-terminated, each up to `shift` bytes, all within max */
	TRACE_COPY_DIRENTS = 7,  /* exit: u32 count of the linux_dirent64 records in the ret bytes */
};

/* One copy of user memory: from args[arg], at entry or at exit. Set per syscall in .rodata. */
struct trace_copy_op {
	__u8 kind;
	__u8 at_exit;            /* TRACE_OP_EXIT, TRACE_OP_RETRY */
	__u8 arg;
	__u8 len_arg;
	__u16 max;
	__u8 mult;
	__u8 shift;
};

/*
 * Constants user space reads from the object's BTF (enums, kept by BTF_KEEP_ENUM in
 * trace.bpf.c), so they are written down once, here.
 */

/* trace_copy_op.at_exit bits */
enum trace_op_when {
	TRACE_OP_EXIT = 1,       /* copy at exit (results) instead of at entry */
	TRACE_OP_RETRY = 2,      /* input: if the entry copy faulted (page not present), copy again at
	                          * exit, when the syscall itself has faulted the page in */
};

/* event flags */
enum trace_flags {
	TRACE_F_NORETURN = 1,    /* exit/exit_group: emitted at entry, no return value */
	TRACE_F_FAULT_SHIFT = 8, /* bit 8+i: op i could not read user memory */
	TRACE_F_CUT = 2,         /* the thread exited inside the call (strace's `= ?`) */
};

enum trace_limits {
	TRACE_MAX_SYSCALLS = 1024,  /* syscall numbers the per-syscall tables cover */
	TRACE_DATA_USED = 1024,  /* user space keeps the sum of an op list's max sizes below this */
	TRACE_ARRAY_MAX = 4096,  /* STRARRAY: pointers counted */
	TRACE_DIRENTS_MAX = 1024,/* DIRENTS: records counted */
};

/* Value of a task in the traced set (-f, -- CMD): the map filters instead of filter_tgid. */
enum trace_task_state {
	TRACE_TASK_ACTIVE = 1,
	TRACE_TASK_EXEC = 2,     /* started by trace: traced from its next execve on */
	TRACE_TASK_ADOPT = 3,    /* bpfkit's own thread about to start the command: its next child
	                          * becomes TRACE_TASK_EXEC (the entry is removed then) */
};

/* -c: per syscall number, in a per-CPU array. */
struct trace_stat {
	__u64 calls;
	__u64 errors;
	__u64 ns;
};

/*
 * One syscall. Built in per-thread storage at entry (args, entry-time copies), completed at
 * exit (result, duration, exit-time copies) and sent as HDR + data_len bytes.
 */
struct trace_rec {
	__u64 ts_ns;             /* entry, CLOCK_MONOTONIC */
	__u64 dur_ns;
	__s64 ret;
	__u64 args[6];
	__u32 tgid;
	__u32 tid;
	__s32 nr;
	__u16 data_len;
	__u16 active;            /* entry seen, exit pending (not sent) */
	__u32 flags;
	__u16 lens[TRACE_MAX_OPS];  /* bytes copied by op i */
	__u16 offs[TRACE_MAX_OPS];  /* where in data op i's bytes are */
	__u16 stack_len;         /* -k: bytes of user stack addresses at the end of data (8-aligned) */
	__u16 pad;
	char comm[TASK_COMM_LEN];
	__u8 data[TRACE_DATA + TRACE_CHUNK_MASK + 1]; /* (room past TRACE_DATA for the verifier's bounds) */
};

/* Counters (per CPU): index into the counters array. */
enum trace_counter {
	TRACE_CNT_SENT = 0,
	TRACE_CNT_LOST_RINGBUF = 1,  /* ring buffer full */
	TRACE_CNT_LOST_SLOT = 2,     /* no per-thread slot at entry (storage full) */
	TRACE_CNT_N = 4,
};

#endif
