#!/usr/bin/env bash
# Rebuild the committed BPF objects from source: bash bpf/build.sh [name...]
# Needs clang and llvm-strip (Debian: clang llvm) and libbpf's headers (libbpf-dev).
# -fdebug-prefix-map keeps the build path out of .BTF.ext so builds are byte-identical anywhere.
set -euo pipefail
cd "$(dirname "$0")"
ARCH=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
names=("$@")
if [ ${#names[@]} -eq 0 ]; then for f in *.bpf.c; do names+=("${f%.bpf.c}"); done; fi
for n in "${names[@]}"; do
  clang -O2 -g -target bpf -D__TARGET_ARCH_"$ARCH" -I include -I . -fdebug-prefix-map="$PWD"=. \
    -Wall -Wno-unused-function -c "$n.bpf.c" -o "$n.bpf.o.tmp"
  llvm-strip -g "$n.bpf.o.tmp"
  mv "$n.bpf.o.tmp" "$n.bpf.o"
done
