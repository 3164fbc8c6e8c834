/* Shared by the snoopers (execsnoop, threadsnoop, exitsnoop, opensnoop, tcplife): the event
 * ring buffer and the count of events the ring buffer had no room for (never dropped silently),
 * plus the event records (layouts read from BTF on the TypeScript side). */
#ifndef BPFKIT_SNOOP_H
#define BPFKIT_SNOOP_H

#define SNOOP_COMM_LEN 16
#define EXEC_ARGS_SIZE 4096   /* all of argv, NUL-separated */
/* execsnoop's limits, an enum so user space reads them from BTF (kept in execsnoop.bpf.c) */
enum exec_limits {
	EXEC_ARG_LEN = 256,   /* one argument, when read from the argv array (failed exec) */
	EXEC_MAX_ARGS = 64,   /* hard upper bound on --max-args */
};
#define OPEN_PATH_LEN 256
#define TCPLIFE_MAX_PORTS 8

struct exec_event {
	__u64 ts_ns;
	__u64 cgroup_id;   /* the task's cgroup2 id: its container, even once it has exited */
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__s32 ret;
	__u32 args_size;   /* bytes used in args */
	__u32 truncated;   /* 1: more arguments (or bytes) than were copied */
	__u32 from_mm;     /* 1: copied from the new image's arg area; 0: from the argv array */
	char comm[SNOOP_COMM_LEN];
	char args[EXEC_ARGS_SIZE];
};

/* thread_event.kind, an enum so user space reads it from BTF (kept in threadsnoop.bpf.c) */
enum thread_kind {
	THREAD_NEW = 1,
	THREAD_EXIT = 2,
	THREAD_RENAME = 3, /* prctl(PR_SET_NAME), pthread_setname_np, /proc/.../comm: comm is the new name */
};
struct thread_event {
	__u64 ts_ns;
	__u64 lifetime_ns; /* EXIT only */
	__u64 cgroup_id;   /* the task's cgroup2 id: its container, even once it has exited */
	__u32 kind;
	__u32 pid;         /* tgid */
	__u32 tid;
	__u32 ptid;        /* NEW: the creating thread; RENAME: the renaming thread */
	__s32 exit_code;   /* EXIT: task->exit_code */
	__u32 pad;
	char comm[SNOOP_COMM_LEN];
};

struct exit_event {
	__u64 ts_ns;
	__u64 age_ns;
	__u64 cgroup_id;   /* the task's cgroup2 id: its container, even once it has exited */
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__s32 exit_code;   /* task->exit_code: (status << 8) | core << 7 | signal */
	char comm[SNOOP_COMM_LEN];
};

#define OPEN_KIND_OPEN 0
#define OPEN_KIND_OPENAT 1
#define OPEN_KIND_OPENAT2 2
struct open_event {
	__u64 ts_ns;
	__u64 flags;
	__u64 cgroup_id;   /* the task's cgroup2 id: its container, even once it has exited */
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;
	__s32 dirfd;
	__u32 kind;
	__u32 mode;
	__u32 pad;
	char comm[SNOOP_COMM_LEN];
	char path[OPEN_PATH_LEN];
};

struct tcplife_event {
	__u64 ts_ns;
	__u64 span_ns;
	__u64 tx_bytes;    /* tcp_sock.bytes_acked */
	__u64 rx_bytes;    /* tcp_sock.bytes_received */
	__u64 cgroup_id;   /* the task's cgroup2 id: its container, even once it has exited */
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u32 pad2;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[SNOOP_COMM_LEN];
};

#ifdef __BPF__
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* user space sizes it before load */
} events SEC(".maps");

#include "lost.bpf.h"

/* Puts a record's struct in the object's BTF (user space reads its layout from there). */
#define SNOOP_LAYOUT(T) struct T *const volatile layout_##T = 0
#endif

#endif
