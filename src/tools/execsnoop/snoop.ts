// Shared by the snoopers (execsnoop, threadsnoop, exitsnoop, opensnoop, tcplife): open one BPF
// object with its filters, attach, stream the ring buffer's records to a callback, and count what
// was lost (the kernel counts failed ring-buffer reservations in the per-CPU `lost` array).
import { BpfObject, bpfObjectPath } from '../../core/bpf.js';
import { BpfkitError } from '../../core/errors.js';
import { hasBtfTracepoint, hasRingbuf } from '../../core/features.js';
import { note } from '../../core/log.js';
import { sumPercpuU64, type BpfMap } from '../../core/maps.js';
import { RingBufferReader } from '../../core/ringbuf.js';
import type { StructView } from '../../core/btf.js';
import { sleepOrAbort } from '../../cli/runtime.js';
import { parsePositive, parseIntArg } from '../../cli/args.js';

export interface SnoopSpec {
  /** Object name: bpf/<object>.bpf.o. */
  object: string;
  /** Programs to load, with the raw tracepoints (tp_btf) each needs. */
  programs: Array<{ name: string; tracepoint: string }>;
  constants: Record<string, number | bigint | boolean | Buffer>;
  /** The record's struct name in the object's BTF. */
  struct: string;
  /** Ring buffer size in bytes (power of two, >= page size). */
  ringbufBytes: number;
}

export const DEFAULT_RINGBUF_MB = 8;

/** --ringbuf MB: a power of two between 1 and 1024. */
export function parseRingbufMb(text: string | undefined): number {
  if (text === undefined) return DEFAULT_RINGBUF_MB;
  const n = parseIntArg(text, '--ringbuf MB', 1, 1024);
  if ((n & (n - 1)) !== 0) throw new BpfkitError('BAD_ARGS', `--ringbuf: ${n} is not a power of two (1, 2, 4, ... 1024)`);
  return n;
}

export function parseDuration(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parsePositive(text, '-d DURATION');
}

export class SnoopSession {
  private reader: RingBufferReader | undefined;
  /** Records handed to the callback so far. */
  delivered = 0;
  private finished = false;
  private constructor(private obj: BpfObject, private lostMap: BpfMap, readonly view: StructView) {}

  static open(spec: SnoopSpec): SnoopSession {
    if (!hasRingbuf()) throw new BpfkitError('NOT_SUPPORTED', `${spec.object} needs the BPF ring buffer (Linux 5.8+)`);
    for (const p of spec.programs) {
      if (!hasBtfTracepoint(p.tracepoint)) {
        throw new BpfkitError('NOT_SUPPORTED', `${spec.object} needs the BTF-typed tracepoint ${p.tracepoint} (tp_btf: Linux 5.5+ with CONFIG_DEBUG_INFO_BTF)`);
      }
    }
    const obj = BpfObject.openFile(bpfObjectPath(spec.object));
    try {
      obj.setConstants(spec.constants);
      obj.selectPrograms(spec.programs.map((p) => p.name));
      obj.map('events').setMaxEntries(spec.ringbufBytes);
      obj.load();
      obj.attachAll();
      note(`${spec.object}: attached ${spec.programs.map((p) => `tp_btf/${p.tracepoint} (${p.name})`).join(', ')}; ring buffer ${spec.ringbufBytes / 1048576} MiB, lost events counted in the kernel`);
      return new SnoopSession(obj, obj.map('lost'), obj.struct(spec.struct));
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /** Start delivering records (a buffer is valid only during the call: decode, do not keep). */
  start(onRecord: (data: Buffer) => void): void {
    this.reader = new RingBufferReader(this.obj.map('events'), (data) => {
      this.delivered++;
      onRecord(data);
    });
  }

  /** Deliver what the ring buffer holds now, in a bounded slice (the producers keep going). */
  drain(): void {
    this.reader?.consume();
  }

  /**
   * Stop the producers (links destroyed, maps kept), then deliver what they had committed:
   * bounded by the ring's contents at detach time, however fast they were producing. Idempotent.
   */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.obj.detach();
    this.reader?.drain();
  }

  /** Events the kernel could not put in the ring buffer (full), since attach. */
  lost(): number {
    const v = this.lostMap.lookup(Buffer.alloc(4));
    return v ? Number(sumPercpuU64(this.lostMap, v, 0)) : 0;
  }

  /** finish() (if not done yet), then release everything. */
  close(): void {
    try {
      this.finish();
    } finally {
      this.reader?.close();
      this.reader = undefined;
      this.obj.close();
    }
  }
}

/** Batches output lines written from ring-buffer callbacks into one write per drain. */
export class LineBatcher {
  private buf: string[] = [];
  private scheduled = false;
  constructor(private write: (text: string) => void, private maxLines = 256) {}
  push(line: string): void {
    this.buf.push(line);
    // Small batches: one drain can deliver a whole ring buffer (millions of records); holding
    // their lines until it ends would push them all into the old generation (GC-bound).
    if (this.buf.length >= this.maxLines) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }
  flush(): void {
    if (this.buf.length === 0) return;
    const text = this.buf.join('');
    this.buf = [];
    this.write(text);
  }
}

export interface StreamOptions {
  durationS?: number;
  json: boolean;
}

/**
 * Run until Ctrl-C / SIGTERM or -d elapses. Lost events are reported as they happen (checked
 * every second) and in the closing summary: text `Lost N events ...` lines; JSON `{"lost": ...}`
 * records and a final `{"summary": {"events": N, "lost": M}}`.
 */
export async function streamUntilDone(session: SnoopSession, out: LineBatcher, opts: StreamOptions, signal: AbortSignal): Promise<void> {
  const deadline = opts.durationS !== undefined ? Date.now() + opts.durationS * 1000 : Infinity;
  let reportedLost = 0;
  const reportLost = () => {
    const lost = session.lost();
    if (lost > reportedLost) {
      const delta = lost - reportedLost;
      reportedLost = lost;
      out.push(opts.json
        ? JSON.stringify({ lost: delta, lost_total: lost }) + '\n'
        : `Lost ${delta} events (ring buffer full; ${lost} in total; try a bigger --ringbuf)\n`);
    }
  };
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const full = await sleepOrAbort(Math.min(1000, left), signal);
    session.drain();
    reportLost();
    out.flush();
    if (!full) break;
  }
  session.finish();
  reportLost();
  if (opts.json) out.push(JSON.stringify({ summary: { events: session.delivered, lost: reportedLost } }) + '\n');
  out.flush();
}

/** Nanoseconds of CLOCK_MONOTONIC (bpf_ktime_get_ns) to wall-clock Date. */
let wallMinusMonoMs: number | undefined;
export function monoToDate(ns: bigint): Date {
  // process.hrtime is CLOCK_MONOTONIC on Linux, the clock of bpf_ktime_get_ns; offset taken once.
  wallMinusMonoMs ??= Date.now() - Number(process.hrtime.bigint()) / 1e6;
  return new Date(wallMinusMonoMs + Number(ns) / 1e6);
}

/** "HH:MM:SS" of a Date (local time, as BCC prints). */
export function hms(d: Date): string {
  return d.toTimeString().slice(0, 8);
}
