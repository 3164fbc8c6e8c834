#!/usr/bin/env bash
# Install what bpfkit needs on a fresh Debian/Ubuntu machine (as root), then build it.
# Runtime: libbpf1. Tests and benchmarks: compilers and workloads (gcc, clang, bpftool,
# strace, libbpf-tools, PostgreSQL and Redis for the pipeline lab, e2fsprogs for ext4 images,
# OpenJDK 17 for the lab's Java loader and the JVM tests, perf as profile's reference,
# Prometheus and Chromium for serve's tests: a real scraper and a headless browser, Podman for the container
# tests, which run it inside the 6.1 VM).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
PKGS=(libbpf1 libbpf-dev clang llvm bpftool gcc libc6-dev linux-libc-dev strace libbpf-tools
      e2fsprogs util-linux iproute2 procps python3 python3-psycopg2 python3-redis
      postgresql redis-server openjdk-17-jdk-headless linux-perf prometheus chromium
      podman crun containernetworking-plugins
      git sqlite3  # programs of trace's side-by-side comparison with strace
      qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts the system's PostgreSQL and Redis on install; the lab runs its own instances.
npm ci --no-audit --no-fund --loglevel=error
# npm ci runs the "prepare" script, which compiles the TypeScript to dist/
