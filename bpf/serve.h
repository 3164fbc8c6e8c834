/* Records shared by serve.bpf.c and src/tools/serve (layout read from BTF). */
#ifndef BPFKIT_SERVE_H
#define BPFKIT_SERVE_H

/* log2 slots of latency in units of 1024 ns: slot i holds [2^i, 2^(i+1)) units (0 also in slot 0);
 * the last slot holds everything above (2^31 units = 37 min). */
#define SERVE_SLOTS 32
#define SERVE_COMM_LEN 16
#define SERVE_MAX_SYSCALL_KEYS 16384
#define SERVE_MAX_CONNS 10240
#define SERVE_MAX_BLOCK_KEYS 1024
#define SERVE_MAX_SYSCALLS 1024

/* Syscall latency per syscall; comm with --by-comm, tgid with --per-process (else zero). */
struct serve_sc_key {
	__u32 nr;
	__u32 tgid;
	char comm[SERVE_COMM_LEN];
};

struct serve_hist {
	__u64 slots[SERVE_SLOTS];
	__u64 count;
	__u64 sum_ns;
};

/* One TCP connection end as one process sees it. Ports in host order; addresses in network order
 * (IPv4 in the first 4 bytes). */
struct serve_conn_key {
	__u32 tgid;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* Bytes since the map was last drained. */
struct serve_conn {
	__u64 sent;
	__u64 received;
	char comm[SERVE_COMM_LEN];
};

/* Block I/O per disk (the kernel's dev_t) and operation (REQ_OP_*, low 8 bits). */
struct serve_blk_key {
	__u32 dev;
	__u32 op;
};

struct serve_blk {
	struct serve_hist lat;
	__u64 bytes;
};

/* Indexes of the per-CPU `drops` counters: what a full map could not record. */
enum serve_drop {
	SERVE_DROP_SYSCALL = 0,
	SERVE_DROP_TCP = 1,
	SERVE_DROP_BLOCK = 2,
	SERVE_DROPS = 3,
};

#endif
