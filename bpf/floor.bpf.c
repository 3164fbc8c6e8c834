// Benchmark floor: empty programs on raw_syscalls sys_enter/sys_exit. Their cost is what no
// syscall tracer can avoid; bench/syscount.ts compares syscount against it.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_enter, struct pt_regs *regs, long id) { return 0; }

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_exit, struct pt_regs *regs, long ret) { return 0; }

char LICENSE[] SEC("license") = "GPL";
