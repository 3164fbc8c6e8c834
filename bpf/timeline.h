/* Records of bpf/timeline.bpf.c, read by src/tools/diagnose/timeline.ts (layouts from BTF). */
#ifndef BPFKIT_TIMELINE_H
#define BPFKIT_TIMELINE_H

#define TL_COMM_LEN 16

/* tl_switch.type etc.: the first byte of every record. Read from BTF as TL_<NAME>. */
enum tl_type {
	TL_SWITCH = 1,	/* a context switch: prev leaves the CPU, next comes on */
	TL_NAME = 2,	/* a thread's name and process, once per thread (and after exec) */
	TL_SEND = 3,	/* a TCP sendmsg that queued bytes */
	TL_RECV = 4,	/* a TCP recvmsg that copied bytes */
};

/*
 * One context switch. Times are bpf_ktime_get_ns(); 0 means "before the programs were attached"
 * (user space clamps it to the window start). A tid of 0 is a side not recorded (idle, bpfkit).
 * The slices follow from it without any other record: prev was on CPU [prev_on, ts]; next was
 * off CPU (blocked in next_kind) [next_off, next_ready] and runnable [next_ready, ts].
 */
struct tl_switch {
	__u8 type;
	__u8 prev_blocked;	/* 0: prev stays runnable (preempted, yielded); 1: it blocks */
	__u8 prev_kind;		/* enum diag_wait (diagnose.h) prev blocks in */
	__u8 next_kind;		/* enum diag_wait next was blocked in */
	__u32 prev_tid;
	__u32 next_tid;
	__u32 pad;
	__u64 ts;
	__u64 prev_on;		/* prev came on this CPU */
	__u64 next_off;		/* next left a CPU (0: before the window) */
	__u64 next_ready;	/* next became runnable (woken or preempted; 0: before the window) */
};

struct tl_name {
	__u8 type;
	__u8 pad[3];
	__u32 tid;
	__u32 tgid;
	__u32 pad2;
	char comm[TL_COMM_LEN];		/* the thread's */
	char pcomm[TL_COMM_LEN];	/* its process's (the group leader's) */
};

/*
 * One TCP send or receive. The bytes were [seq - bytes, seq) of the connection's stream in the
 * direction of the transfer (tcp write_seq after a send, copied_seq after a receive): the same
 * sequence space on both ends, so a send is matched with the receive that read its last byte.
 */
struct tl_msg {
	__u8 type;
	__u8 pad;
	__u16 family;
	__u32 tid;
	__u32 bytes;
	__u32 seq;
	__u64 ts;		/* the call returned */
	__u64 start;		/* the call started, or the thread came on CPU if later */
	__u16 lport;		/* ports in host order */
	__u16 rport;
	__u32 pad2;
	__u8 laddr[16];
	__u8 raddr[16];
};

#endif
