/* Records shared by syscount.bpf.c and src/tools/syscount (layout read from BTF). */
#ifndef BPFKIT_SYSCOUNT_H
#define BPFKIT_SYSCOUNT_H

#define SYSCOUNT_MAX_SYSCALLS 1024
#define SYSCOUNT_MAX_PROCS 10240
#define TASK_COMM_LEN 16

/* Per syscall number (per CPU): cumulative since attach; user space diffs per interval. */
struct syscount_value {
	__u64 count;
	__u64 total_ns;
};

/* Per process (per CPU) for -P. */
struct syscount_proc {
	__u64 count;
	__u64 total_ns;
	char comm[TASK_COMM_LEN];
};

#endif
