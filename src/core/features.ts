// Feature probes, cached per process: which hooks this kernel offers. Tools pick the best
// available hook set and name what is missing when nothing fits.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { native } from './libbpf.js';
import { kernelHasType } from './btf.js';
import { note } from './log.js';
import { probeProgram } from './probe.js';
import { ensureTracefs, tracefsRoot } from './tracefs.js';

export { ensureTracefs } from './tracefs.js';

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
      return btfTracepointNames().has(name);
    } catch {
      return kernelHasType(`btf_trace_${name}`, BTF_KIND_TYPEDEF);
    }
  });

let tracepointNames: Set<string> | undefined;
/** All `btf_trace_<name>` strings of the kernel's BTF, collected in one chunked pass. */
function btfTracepointNames(): Set<string> {
  if (tracepointNames) return tracepointNames;
  const names = new Set<string>();
  const prefix = Buffer.from('\0btf_trace_');
  const buf = Buffer.alloc(256 * 1024);
  const fd = openSync('/sys/kernel/btf/vmlinux', 'r');
  try {
    let carry = 0;
    for (;;) {
      const n = readSync(fd, buf, carry, buf.length - carry, null);
      const end = carry + n;
      let at = 0;
      let keepFrom = Math.max(0, end - 512); // an unfinished name may continue in the next chunk
      const data = buf.subarray(0, end); // sysfs hands out 4 KiB per read: search only what was read
      for (let i = data.indexOf(prefix, 0); i >= 0; i = data.indexOf(prefix, i + 1)) {
        const stop = data.indexOf(0, i + prefix.length);
        if (stop < 0) { keepFrom = Math.min(keepFrom, i); break; }
        names.add(data.toString('latin1', i + prefix.length, stop));
        at = stop;
      }
      if (n === 0) break;
      keepFrom = Math.max(keepFrom, at);
      carry = end - keepFrom;
      buf.copy(buf, 0, keepFrom, end);
    }
  } finally {
    closeSync(fd);
  }
  tracepointNames = names;
  return names;
}

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
