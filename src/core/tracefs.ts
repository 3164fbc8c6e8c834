// tracefs: where classic tracepoints live. Its own module so that bpf.ts (which mounts it before
// attaching a `tracepoint/` program) does not import the feature probes (which load programs
// through bpf.ts): that was an import loop.
import { existsSync } from 'node:fs';
import { native } from './libbpf.js';
import { BpfkitError } from './errors.js';
import { note } from './log.js';

/** The mounted tracefs root (or where it will be mounted). */
export function tracefsRoot(): string {
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
