#!/usr/bin/env node
// Regenerate bpf/include/arm64/vmlinux.h from the BTF of the arm64 kernel that scripts/run-in-arm64
// boots (Debian 12's 6.1): the kernel Image carries its .BTF section as a raw blob; bpftool turns
// it into C. Usage (root): node scripts/gen-vmlinux-arm64.mjs  (boots nothing; runs
// run-in-arm64 once only to fill its cache). bpf/include/x86/vmlinux.h: bpftool btf dump file
// /sys/kernel/btf/vmlinux format c on an x86_64 host.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const boot = '/var/cache/run-in-arm64/kernel/boot';
if (!existsSync(boot)) execFileSync(`${repo}/scripts/run-in-arm64`, ['--', 'true'], { stdio: 'inherit' });
const image = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
if (!image) throw new Error(`no vmlinuz in ${boot}`);
const d = readFileSync(`${boot}/${image}`);
// struct btf_header: magic 0xeb9f, version 1, flags, hdr_len 24, then type/str offsets and lengths.
const magic = Buffer.from([0x9f, 0xeb, 0x01, 0x00, 0x18, 0x00, 0x00, 0x00]);
let best;
for (let i = d.indexOf(magic); i >= 0; i = d.indexOf(magic, i + 1)) {
  const [typeOff, typeLen, strOff, strLen] = [8, 12, 16, 20].map((o) => d.readUInt32LE(i + o));
  const size = 24 + Math.max(typeOff + typeLen, strOff + strLen);
  if (!best || size > best.size) best = { at: i, size };
}
if (!best || best.size < 1 << 20) throw new Error(`no kernel BTF found in ${image}`);
const btf = '/tmp/bpfkit-arm64.btf';
writeFileSync(btf, d.subarray(best.at, best.at + best.size));
const c = execFileSync('bpftool', ['btf', 'dump', 'file', btf, 'format', 'c'], { maxBuffer: 1 << 30 });
writeFileSync(`${repo}/bpf/include/arm64/vmlinux.h`, c);
console.log(`wrote bpf/include/arm64/vmlinux.h from ${image} (${best.size} bytes of BTF)`);
