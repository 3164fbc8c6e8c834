/* Records shared by biolatency.bpf.c and src/tools/biolatency (layout read from BTF). */
#ifndef BPFKIT_BIOLATENCY_H
#define BPFKIT_BIOLATENCY_H

#define BIOLAT_MAX_SLOTS 64
#define BIOLAT_MAX_ENTRIES 10240

/* Normalized request flags (-F): the kernel's bit positions differ between versions. */
#define BIOLAT_F_SYNC       (1u << 8)
#define BIOLAT_F_META       (1u << 9)
#define BIOLAT_F_PRIO       (1u << 10)
#define BIOLAT_F_NOMERGE    (1u << 11)
#define BIOLAT_F_IDLE       (1u << 12)
#define BIOLAT_F_FUA        (1u << 13)
#define BIOLAT_F_PREFLUSH   (1u << 14)
#define BIOLAT_F_RAHEAD     (1u << 15)
#define BIOLAT_F_BACKGROUND (1u << 16)
#define BIOLAT_F_NOWAIT     (1u << 17)

/* One histogram per key: disk (-D) and/or flags (-F), else all zero. */
struct biolat_key {
	__u32 dev;   /* major << 20 | minor (the kernel's dev_t) */
	__u32 flags; /* op (low 8 bits) | BIOLAT_F_* */
};

/* slots[i]: latencies in [2^i, 2^(i+1)) units; slot 0 also holds 0. */
struct biolat_hist {
	__u64 slots[BIOLAT_MAX_SLOTS];
};

#endif
