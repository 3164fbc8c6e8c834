/* Records shared by biotop.bpf.c and src/tools/biotop (layout read from BTF). */
#ifndef BPFKIT_BIOTOP_H
#define BPFKIT_BIOTOP_H

#define BIOTOP_TASK_COMM_LEN 16
#define BIOTOP_MAX_ENTRIES 10240

/* Who submitted a request (recorded when the I/O starts, in the submitter's context). */
struct biotop_who {
	__u32 pid;
	char comm[BIOTOP_TASK_COMM_LEN];
};

/* Per request in flight: its submitter and, once issued, the issue time. */
struct biotop_start {
	__u64 issue_ns; /* 0 until block_rq_issue */
	struct biotop_who who;
};

/* Aggregation key: process, direction, device. */
struct biotop_key {
	__u32 pid;
	__u32 rwflag; /* 1 = write */
	__u32 major;
	__u32 minor;
	char comm[BIOTOP_TASK_COMM_LEN];
};

struct biotop_value {
	__u64 bytes;
	__u64 ns;  /* device time: issue -> completion */
	__u64 io;
};

#endif
