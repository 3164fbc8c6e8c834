// One event stream for every streaming tool: records from a BPF ring buffer, rendered and
// written in batches; lost events (ring buffer full in the kernel, or output too slow here)
// reported as they happen and in one summary record of the same shape for every tool.
// It never keeps the event loop busy for long: the reader delivers bounded slices, and the
// final drain after Ctrl-C is bounded too, so signals are served within a second at any rate.
import { readdirSync, readFileSync } from 'node:fs';
import { BpfObject, bpfObjectPath } from '../core/bpf.js';
import { BpfkitError } from '../core/errors.js';
import { hasBtfTracepoint, hasRingbuf } from '../core/features.js';
import { native } from '../core/libbpf.js';
import { note } from '../core/log.js';
import { sumPercpuU64, type BpfMap } from '../core/maps.js';
import { RingBufferReader, SLICE_RECORDS, type RecordAt } from '../core/ringbuf.js';
import type { StructView } from '../core/btf.js';
import { safeLine } from '../render/text.js';
import type { Runtime } from './runner.js';

/** Bytes per write (at most, but for a longer line; a timer flushes a partial chunk within 100 ms). */
const CHUNK_BYTES = 256 << 10;
/** How often (in records) the output's congestion is looked at while streaming. */
const CONGESTION_EVERY = 64;
/**
 * Time the final drain may take after the producers stopped. With SIGINT served within a slice
 * and the exit after it, a process starved of CPU by a fork or thread flood still leaves within
 * a second (its other stop phases took up to ~400 ms there).
 */
const FINAL_DRAIN_MS = 400;

/** A source of records: a ring buffer fed by attached programs. */
export interface EventSource {
  /** Start delivering raw records (valid only during the call: decode, do not keep). */
  start(onRecord: (data: Buffer) => void): void;
  /**
   * Optional, instead of start(): deliver each record as (data, offset, length), the record
   * being data[offset, offset + length) of a Buffer shared by all records (no Buffer per record).
   */
  startAt?(onRecord: RecordAt): void;
  /** Deliver at most `limit` pending records now; returns how many. */
  consume(limit: number): number;
  /** Records are waiting. */
  pending(): boolean;
  /** Records the kernel dropped because the ring buffer was full, since attach. */
  lostInKernel(): number;
  /** Stop the producers (detach the programs), keeping the buffer readable. */
  detach(): void;
  /** Skip what is left in the buffer (after detach), returning how many records that was. */
  discard(): number;
  close(): void;
}

export interface StreamSummary {
  type: 'summary';
  /** Records received from the kernel and not dropped here. */
  events: number;
  /** lost_kernel + lost_output. */
  lost: number;
  lost_kernel: number;
  lost_output: number;
  duration_s: number;
  /** bpfkit's own programs, from the kernel's BPF statistics (null where unavailable). */
  bpf_run_time_ms: number | null;
  bpf_runs: number | null;
  /** bpfkit's own CPU time (user + system). */
  cpu_s: number;
}

export interface StreamRender<E> {
  decode(data: Buffer): E;
  /** One line (text ends in a newline), or undefined to skip the event (a user-space filter). */
  text(e: E): string | undefined;
  json(e: E): string | undefined;
  /**
   * Optional fast paths, used when the source has startAt: render the record at data[offset,
   * offset + length) straight to its line, without a Buffer or an object per record. They must
   * return exactly what text(decode(...)) / json(decode(...)) would.
   */
  textAt?(data: Buffer, offset: number, length: number): string | undefined;
  jsonAt?(data: Buffer, offset: number, length: number): string | undefined;
  /** The event's process: its container goes first in text (a column) and JSON (a field). */
  pid?(e: E): number;
  /** The cgroup2 id the kernel recorded with the event, if it did (the container of a process gone since). */
  cgroupId?(e: E): number | undefined;
  /** text() may return several lines (trace -k: a call and its stack): each is escaped on its own. */
  multiline?: boolean;
}

/**
 * Stream `source` to the output until the run stops. Text lines are escaped (a traced process
 * cannot forge or colour a line); JSON is escaped by JSON.stringify. Returns the summary, which
 * is also printed: a JSON record, or one line on stderr.
 */
export async function streamEvents<E>(rt: Runtime, source: EventSource, render: StreamRender<E>): Promise<StreamSummary> {
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const stats = BpfStats.start();
  let received = 0;
  let droppedHere = 0;
  // Lines are encoded (UTF-8) into one chunk of bytes, written as a whole: no string of the
  // whole batch, no per-batch encoding pass, the chunk handed to the output as it is.
  let chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  let pos = 0;
  let lines = 0;
  let dropping = false;
  const flush = () => {
    if (lines === 0) return;
    rt.out.write(chunk.subarray(0, pos));
    chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    pos = 0;
    lines = 0;
    dropping = rt.out.congested;
  };
  const append = (line: string) => {
    if (pos + 3 * line.length > CHUNK_BYTES) {
      flush();
      if (3 * line.length > CHUNK_BYTES) { rt.write(line); return; }
    }
    pos += chunk.write(line, pos);
    lines++;
  };
  const json = rt.json;
  // Once every CONGESTION_EVERY records (and after every write), whether the output takes more:
  // every record is either rendered or counted as dropped here.
  const accept = (): boolean => {
    if (received++ % CONGESTION_EVERY === 0) dropping = rt.out.congested;
    if (dropping) {
      droppedHere++;
      return false;
    }
    return true;
  };
  const add = (line: string | undefined) => {
    if (line === undefined) return;
    append(json ? line : render.multiline ? line.split(/(?<=\n)/).map(safeLine).join('') : safeLine(line));
  };
  // Containers: with a CONTAINER column (text) or where a runtime exists (JSON), lines are made
  // from decoded events; on a host with no runtime the fast paths stay and nothing changes.
  const ct = rt.containers;
  const pidOf = render.pid;
  if (pidOf && (json ? ct.active : rt.containerColumn())) {
    const { text, json: toJson, decode } = render;
    const cg = render.cgroupId ?? (() => undefined);
    render = {
      decode,
      text: (e) => { const l = text(e); return l === undefined ? l : ct.cell(pidOf(e), cg(e)) + l; },
      json: (e) => { const l = toJson(e); return l === undefined ? l : ct.jsonLine(pidOf(e), l, cg(e)); },
    };
  }
  const at = json ? render.jsonAt : render.textAt;
  if (at && source.startAt) {
    source.startAt((data, offset, length) => {
      if (accept()) add(at(data, offset, length));
    });
  } else {
    source.start((data) => {
      if (accept()) add(json ? render.json(render.decode(data)) : render.text(render.decode(data)));
    });
  }
  rt.ready();

  let reported = 0;
  const reportLost = () => {
    const lostKernel = source.lostInKernel();
    const total = lostKernel + droppedHere;
    if (total <= reported || rt.out.ended) return; // (no output left to explain them to)
    flush();
    const delta = total - reported;
    reported = total;
    if (json) rt.write(JSON.stringify({ type: 'lost', lost: delta, lost_total: total, lost_kernel: lostKernel, lost_output: droppedHere }) + '\n');
    else rt.notice(`lost ${delta} events (${lostKernel} in all with the ring buffer full: try a bigger --buffer-mb; ${droppedHere} as the output was too slow)`);
  };
  const flusher = setInterval(flush, 100);
  try {
    while (await rt.sleep(1000)) reportLost();
  } finally {
    clearInterval(flusher);
  }

  // Stopped: detach the programs first (producers stop), then read what they left, bounded.
  source.detach();
  const deadline = Date.now() + FINAL_DRAIN_MS;
  while (source.pending() && Date.now() < deadline && !rt.out.ended) {
    source.consume(SLICE_RECORDS);
    flush();
    await new Promise((r) => setImmediate(r));
  }
  flush();
  // What the bounded drain could not read is counted with the output's losses: never unaccounted.
  const left = source.discard();
  droppedHere += left;
  received += left;
  reportLost();
  const cpu = process.cpuUsage(cpu0);
  const run = stats.read();
  stats.stop();
  const summary: StreamSummary = {
    type: 'summary',
    events: received - droppedHere,
    lost: source.lostInKernel() + droppedHere,
    lost_kernel: source.lostInKernel(),
    lost_output: droppedHere,
    duration_s: round3(Number(process.hrtime.bigint() - started) / 1e9),
    bpf_run_time_ms: run ? round3(run.ns / 1e6) : null,
    bpf_runs: run ? run.count : null,
    cpu_s: round3((cpu.user + cpu.system) / 1e6),
  };
  // (Not when the output has ended: nothing more could be shown anyway, and it is one line.)
  if (left && !rt.out.ended) rt.notice(`stopped before the ring buffer was empty: ${left} events still in it are counted as lost`);
  if (json) rt.write(JSON.stringify(summary) + '\n');
  else {
    const bpf = summary.bpf_run_time_ms !== null ? `; BPF run time ${summary.bpf_run_time_ms} ms in ${summary.bpf_runs} runs` : '';
    rt.notice(`${summary.events} events, ${summary.lost} lost in ${summary.duration_s.toFixed(1)} s${bpf}; bpfkit CPU ${summary.cpu_s.toFixed(2)} s`);
  }
  return summary;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The kernel's run-time statistics of bpfkit's own programs (run_time_ns/run_cnt in
 * /proc/self/fdinfo of each program fd), switched on only while this process holds the fd
 * that bpf_enable_stats returns.
 */
class BpfStats {
  private constructor(private fd: number, private base: { ns: number; count: number }) {}
  static start(): BpfStats {
    let fd = -1;
    try { fd = native.bpf_enable_stats(0) as number; } catch { fd = -1; }
    const s = new BpfStats(fd, { ns: 0, count: 0 });
    s.base = s.total() ?? { ns: 0, count: 0 };
    return s;
  }
  private total(): { ns: number; count: number } | undefined {
    if (this.fd < 0) return undefined;
    let ns = 0;
    let count = 0;
    for (const fd of readdirSync('/proc/self/fdinfo')) {
      let info: string;
      try { info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'); } catch { continue; }
      if (!info.includes('prog_type:')) continue;
      ns += Number(/run_time_ns:\s*(\d+)/.exec(info)?.[1] ?? 0);
      count += Number(/run_cnt:\s*(\d+)/.exec(info)?.[1] ?? 0);
    }
    return { ns, count };
  }
  read(): { ns: number; count: number } | undefined {
    const t = this.total();
    return t && { ns: t.ns - this.base.ns, count: t.count - this.base.count };
  }
  stop(): void {
    if (this.fd >= 0) native.close(this.fd);
    this.fd = -1;
  }
}

// ---- the common case: one object, tp_btf programs, a ring buffer `events`, a per-CPU `lost` ----

export interface RingSourceSpec {
  /** bpf/<object>.bpf.o */
  object: string;
  /** Programs to load, with the raw tracepoint (tp_btf) each needs. */
  programs: Array<{ name: string; tracepoint: string }>;
  constants: Record<string, number | bigint | boolean | Buffer>;
  /** Ring buffer size in MiB (power of two). */
  bufferMb: number;
}

/** An object whose programs write records to the ring buffer `events` and count failures in `lost`. */
export class RingSource implements EventSource {
  private reader: RingBufferReader | undefined;
  private lostMap: BpfMap;
  /** A loaded and attached object with the maps `events` (ring buffer) and `lost` (per-CPU). */
  constructor(readonly obj: BpfObject) {
    this.lostMap = obj.map('lost');
  }


  struct(name: string): StructView {
    return this.obj.struct(name);
  }

  start(onRecord: (data: Buffer) => void): void {
    this.reader = new RingBufferReader(this.obj.map('events'), onRecord);
  }
  startAt(onRecord: RecordAt): void {
    this.reader = new RingBufferReader(this.obj.map('events'), onRecord, { at: true });
  }
  consume(limit: number): number { return this.reader?.consume(limit) ?? 0; }
  pending(): boolean { return this.reader?.pending() ?? false; }
  discard(): number { return this.reader?.discard() ?? 0; }
  lostInKernel(): number {
    const v = this.lostMap.lookup(Buffer.alloc(4));
    return v ? Number(sumPercpuU64(this.lostMap, v, 0)) : 0;
  }
  detach(): void { this.obj.detach(); }
  close(): void {
    try {
      this.reader?.close();
    } finally {
      this.reader = undefined;
      this.obj.close();
    }
  }
}

/** Open, load and attach the standard stream object: tp_btf programs, `events` and `lost` maps. */
export function openRingSource(spec: RingSourceSpec): RingSource {
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
    obj.map('events').setMaxEntries(spec.bufferMb * 1048576);
    obj.load();
    obj.attachAll();
    note(`${spec.object}: attached ${spec.programs.map((p) => `tp_btf/${p.tracepoint} (${p.name})`).join(', ')}; ring buffer ${spec.bufferMb} MiB, lost events counted in the kernel`);
    return new RingSource(obj);
  } catch (err) {
    obj.close();
    throw err;
  }
}
