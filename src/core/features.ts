// Feature probes, cached per process: which hooks this kernel offers. Tools pick the best
// available hook set and name what is missing when nothing fits.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { native } from './libbpf.js';
import { BpfkitError } from './errors.js';
import { kernelHasType } from './btf.js';
import { note } from './log.js';
import { probeProgram } from './probe.js';

const cache = new Map<string, boolean>();
function cached(key: string, fn: () => boolean): boolean {
  let v = cache.get(key);
  if (v === undefined) {
    v = fn();
    cache.set(key, v);
    note(`feature ${key}: ${v ? 'yes' : 'no'}`);
  }
  return v;
}

const BTF_KIND_TYPEDEF = 8;
const BTF_KIND_FUNC = 12;

/**
 * A raw tracepoint usable as tp_btf/raw_tp (the kernel's BTF has its btf_trace_ typedef).
 * Checked by finding the name in the raw BTF file: parsing all of vmlinux BTF here would cost
 * ~60 ms and 15 MB, and libbpf parses it again at load anyway.
 */
export const hasBtfTracepoint = (name: string): boolean =>
  cached(`tp_btf:${name}`, () => {
    try {
      return fileContains('/sys/kernel/btf/vmlinux', `\0btf_trace_${name}\0`);
    } catch {
      return kernelHasType(`btf_trace_${name}`, BTF_KIND_TYPEDEF);
    }
  });

/** A kernel function present in BTF (a candidate for fentry/kprobe). */
export const hasKernelFunc = (name: string): boolean =>
  cached(`func:${name}`, () => kernelHasType(name, BTF_KIND_FUNC));

/** A classic tracepoint (tracefs event); mounts tracefs if needed. */
export const hasTracepoint = (category: string, name: string): boolean =>
  cached(`tracepoint:${category}:${name}`, () => {
    try { ensureTracefs(); } catch { return false; }
    return existsSync(`${tracefsRoot()}/events/${category}/${name}/id`);
  });

export const hasRingbuf = (): boolean => cached('ringbuf', () => native.libbpf_probe_bpf_map_type(27, null) === 1);
export const hasTaskStorage = (): boolean => cached('task_storage', () => native.libbpf_probe_bpf_map_type(29, null) === 1);
/** tp_btf programs load (BTF-typed raw tracepoints, kernel >= 5.5). */
export const hasTpBtf = (): boolean => cached('tp_btf', () => probeProgram('probe_tp_btf', true));
/** fentry programs load and attach (fails with EPERM on some locked-down kernels). */
export const hasFentry = (): boolean => cached('fentry', () => probeProgram('probe_fentry', true));
/** kprobes attach (CONFIG_KPROBES). */
export const hasKprobes = (): boolean => cached('kprobe', () => probeProgram('probe_kprobe', true));

function tracefsRoot(): string {
  if (existsSync('/sys/kernel/tracing/events')) return '/sys/kernel/tracing';
  if (existsSync('/sys/kernel/debug/tracing/events')) return '/sys/kernel/debug/tracing';
  return '/sys/kernel/tracing';
}

/** Classic tracepoints need tracefs (libbpf reads event ids there); mount it when missing. */
export function ensureTracefs(): void {
  if (existsSync('/sys/kernel/tracing/events') || existsSync('/sys/kernel/debug/tracing/events')) return;
  const rc = native.mount('nodev', '/sys/kernel/tracing', 'tracefs', 0, null) as number;
  if (rc !== 0 || !existsSync('/sys/kernel/tracing/events')) {
    throw new BpfkitError('NOT_SUPPORTED', 'tracefs is not mounted and cannot be mounted at /sys/kernel/tracing (needed for classic tracepoints)');
  }
  note('mounted tracefs at /sys/kernel/tracing (classic tracepoints need it)');
}


/** Whether a file contains `text`, read in chunks (the BTF file is 5+ MB; keep peak memory low). */
function fileContains(path: string, text: string): boolean {
  const needle = Buffer.from(text);
  const buf = Buffer.alloc(256 * 1024);
  const fd = openSync(path, 'r');
  try {
    let carry = 0; // bytes kept from the previous chunk so a match across chunks is found
    for (;;) {
      const n = readSync(fd, buf, carry, buf.length - carry, null);
      if (n === 0) return false;
      const end = carry + n;
      if (buf.subarray(0, end).includes(needle)) return true;
      carry = Math.min(needle.length - 1, end);
      buf.copy(buf, 0, end - carry, end);
    }
  } finally {
    closeSync(fd);
  }
}
