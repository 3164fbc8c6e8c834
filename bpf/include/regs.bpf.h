/* A task's saved user registers (struct pt_regs) per architecture: the syscall number, the
 * first arguments and the user ip/sp/frame pointer. Plain forms for a tp_btf program's own
 * `regs` argument (a BTF pointer), _CORE forms for pointers from bpf_task_pt_regs().
 * SYSCALL_ARG1 holds at sys_enter and at sys_exit: arm64 overwrites x0 with the result and
 * keeps the first argument in orig_x0. */
#ifndef BPFKIT_REGS_BPF_H
#define BPFKIT_REGS_BPF_H

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(r) ((r)->orig_ax)
#define SYSCALL_ARG1(r) ((r)->di)
#define SYSCALL_ARG2(r) ((r)->si)
#define SYSCALL_ARG4(r) ((r)->r10)
#define SYSCALL_NR_CORE(r) BPF_CORE_READ(r, orig_ax)
#define SYSCALL_ARG1_CORE(r) BPF_CORE_READ(r, di)
#define SYSCALL_ARG2_CORE(r) BPF_CORE_READ(r, si)
#define USER_IP_CORE(r) BPF_CORE_READ(r, ip)
#define USER_SP_CORE(r) BPF_CORE_READ(r, sp)
#define USER_FP_CORE(r) BPF_CORE_READ(r, bp)
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(r) ((r)->syscallno)
#define SYSCALL_ARG1(r) ((r)->orig_x0)
#define SYSCALL_ARG2(r) ((r)->regs[1])
#define SYSCALL_ARG4(r) ((r)->regs[3])
#define SYSCALL_NR_CORE(r) BPF_CORE_READ(r, syscallno)
#define SYSCALL_ARG1_CORE(r) BPF_CORE_READ(r, orig_x0)
#define SYSCALL_ARG2_CORE(r) BPF_CORE_READ(r, regs[1])
#define USER_IP_CORE(r) BPF_CORE_READ(r, pc)
#define USER_SP_CORE(r) BPF_CORE_READ(r, sp)
#define USER_FP_CORE(r) BPF_CORE_READ(r, regs[29])
/* x30, the link register: the caller of a function that has not saved it in a frame record */
#define USER_LR_CORE(r) BPF_CORE_READ(r, regs[30])
#else
#error "bpfkit's BPF programs are built for x86 and arm64 (-D__TARGET_ARCH_x86 or _arm64)"
#endif

#endif
