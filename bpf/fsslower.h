/* Records shared by fsslower.bpf.c and src/tools/fsslower (layout read from BTF). */
#ifndef BPFKIT_FSSLOWER_H
#define BPFKIT_FSSLOWER_H

#define FSSLOWER_MAX_SYSCALLS 1024
#define FSSLOWER_COMM_LEN 16
#define FSSLOWER_NAME_LEN 64
#define FSSLOWER_FS_LEN 16

/* What a syscall number means to fsslower (table set by user space from its syscall table). */
enum fsslower_kind {
	FSS_NONE = 0,
	FSS_READ,      /* read, readv: offset = file position */
	FSS_PREAD,     /* pread64, preadv, preadv2: offset = 4th argument */
	FSS_WRITE,     /* write, writev */
	FSS_PWRITE,    /* pwrite64, pwritev, pwritev2 */
	FSS_OPEN,      /* open, openat, openat2, creat: the file is known at exit (the new fd) */
	FSS_SYNC,      /* fsync, fdatasync */
};

/* One slow operation. type: 'R', 'W', 'O', 'S'. */
struct fsslower_event {
	__u64 end_ns;    /* CLOCK_MONOTONIC at completion */
	__u64 delta_ns;
	__s64 size;      /* bytes read/written (the return value); 0 for O and S */
	__u64 offset;
	__u32 pid;       /* tgid */
	__u32 tid;
	char type;
	char comm[FSSLOWER_COMM_LEN];
	char file[FSSLOWER_NAME_LEN];
};

#endif
