#!/usr/bin/env bash
# Rebuild the committed BPF objects from source: bash bpf/build.sh [name...]
# Two sets, whatever machine builds them: bpf/NAME.bpf.o for x86_64 and bpf/arm64/NAME.bpf.o for
# arm64, each against its architecture's vmlinux.h (include/x86, include/arm64) and
# -D__TARGET_ARCH_<arch> (pt_regs layout: bpf/include/regs.bpf.h).
# Needs clang and llvm-strip (Debian: clang llvm) and libbpf's headers (libbpf-dev).
# -fdebug-prefix-map keeps the build path out of .BTF.ext so builds are byte-identical anywhere.
set -euo pipefail
cd "$(dirname "$0")"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then for f in *.bpf.c; do names+=("${f%.bpf.c}"); done; fi
for arch in x86 arm64; do
  out=.; [ "$arch" = x86 ] || out=$arch
  mkdir -p "$out"
  for n in "${names[@]}"; do
    clang -O2 -g -target bpf -D__TARGET_ARCH_"$arch" -I include/"$arch" -I include -I . -fdebug-prefix-map="$PWD"=. \
      -Wall -Wno-unused-function -c "$n.bpf.c" -o "$out/$n.bpf.o.tmp"
    llvm-strip -g "$out/$n.bpf.o.tmp"
    mv "$out/$n.bpf.o.tmp" "$out/$n.bpf.o"
  done
done
