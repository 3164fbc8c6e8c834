/* Pieces shared by the programs that store user stacks (profile, diagnose). */
#ifndef BPFKIT_STACKS_BPF_H
#define BPFKIT_STACKS_BPF_H

/* FNV-1a over the first `depth` addresses (at most max_depth, a constant), folded so that it
 * never collides with the two reserved ids below `reserved`. */
static __always_inline __u64 stack_hash(const __u64 *ips, __u32 depth, const int max_depth, __u64 reserved)
{
	__u64 h = 0xcbf29ce484222325ULL;
	for (int i = 0; i < max_depth; i++) {
		if (i >= depth)
			break;
		h ^= ips[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	if (h <= reserved)
		h += 2;
	return h;
}

/*
 * Frame-pointer walks skip the caller of a function that has no frame of its own (leaf
 * functions built with -fomit-frame-pointer, libc's syscall wrappers such as read or
 * __lll_lock_wait): the walk goes from that function straight to its caller's caller.
 * x86_64: the missing caller's return address is the word at the user stack pointer;
 * arm64: it is in the link register x30 (a function saves x30 in its frame record {x29, x30}
 * only when it builds one). `ret` is that candidate: it is the missing caller when it is an
 * address right after a call instruction and not already the stack's second address.
 * Returns it, or 0. (On arm64 x30 also points right after a call inside a function with a
 * frame that called something: user space drops a caller in the leaf's own function.)
 */
static __always_inline __u64 is_call_return(__u64 ret, __u64 second)
{
#if defined(__TARGET_ARCH_x86)
	if (ret == second || ret < 4096)
		return 0;
	__u8 b[8];
	if (bpf_probe_read_user(b, sizeof(b), (void *)(ret - 8)) != 0)
		return 0;
	if (b[3] == 0xe8)                                          /* call rel32 */
		return ret;
	if (b[2] == 0xff && (b[3] == 0x15 || (b[3] & 0xf8) == 0x90)) /* call *disp32(%rip|reg) */
		return ret;
	if (b[5] == 0xff && (b[6] & 0xf8) == 0x50)                 /* call *disp8(reg) */
		return ret;
	if (b[6] == 0xff && (b[7] & 0xf8) == 0xd0)                 /* call *reg */
		return ret;
#elif defined(__TARGET_ARCH_arm64)
	ret &= 0xffffffffffffULL; /* a pointer authentication code in the top bits (48-bit user VAs) */
	if (ret == second || ret < 4096 || (ret & 3))
		return 0;
	__u32 insn;
	if (bpf_probe_read_user(&insn, sizeof(insn), (void *)(ret - 4)) != 0)
		return 0;
	if ((insn & 0xfc000000) == 0x94000000)                     /* bl imm26 */
		return ret;
	if ((insn & 0xfffffc1f) == 0xd63f0000)                     /* blr xN */
		return ret;
	if ((insn & 0xfefff800) == 0xd63f0800)                     /* blraa, blrab, blraaz, blrabz */
		return ret;
#endif
	return 0;
}

#endif
