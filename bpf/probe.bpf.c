// Tiny programs used only to probe which hook types this kernel supports.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sched_process_fork")
int BPF_PROG(probe_tp_btf) { return 0; }

SEC("fentry/do_nanosleep")
int BPF_PROG(probe_fentry) { return 0; }

SEC("kprobe/do_nanosleep")
int BPF_KPROBE(probe_kprobe) { return 0; }

char LICENSE[] SEC("license") = "GPL";
