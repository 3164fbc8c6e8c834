/* Keeps a C enum in the object's BTF, where user space reads its constants (src/core/btf.ts
 * enumValues): clang drops an enum from BTF unless a kept variable or struct field has its type,
 * and enumerators used only in expressions do not count. One const pointer in .rodata per enum. */
#ifndef BPFKIT_BTF_KEEP_BPF_H
#define BPFKIT_BTF_KEEP_BPF_H

#define BTF_KEEP_ENUM(E) enum E *const volatile btf_keep_##E = 0

#endif
