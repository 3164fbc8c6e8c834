/* Records shared by tcptop.bpf.c and src/tools/tcptop (layout read from BTF). */
#ifndef BPFKIT_TCPTOP_H
#define BPFKIT_TCPTOP_H

#define TCPTOP_MAX_CONNS 10240
#define TCPTOP_COMM_LEN 16

/* One connection as seen by one process. Ports in host order; addresses in network order
 * (IPv4 in the first 4 bytes). */
struct tcptop_key {
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 dport;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Bytes since the map was last drained (user space reads and deletes per interval). */
struct tcptop_value {
	__u64 sent;
	__u64 received;
	char comm[TCPTOP_COMM_LEN];
};

#endif
