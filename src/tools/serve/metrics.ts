// From serve's maps (and the rolling diagnose window) to Prometheus metrics, with prom-client
// doing the exposition. Names follow Prometheus' conventions: prefix bpfkit_, seconds and bytes,
// counters end in _total, histograms in seconds. No pid label unless --per-process: the number
// of series stays bounded by syscalls x process names, disks x operations, service pairs.
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Registry } from 'prom-client';
import { openPrograms } from '../../core/bpf.js';
import { native } from '../../core/libbpf.js';
import { DiskNames } from '../../core/disks.js';
import { listSockets } from '../../core/sockets.js';
import { processGone } from '../../core/proc.js';
import { syscallName } from '../../core/syscalls/index.js';
import { unmapIPv4 } from '../../core/net.js';
import { hostContainers, type Container } from '../../core/containers.js';
import { HIST_UNIT_NS, type ConnBytes, type Hist, type ServeSession } from './session.js';
import type { Report } from '../diagnose/analyze.js';

/** Histogram buckets: every second log2 slot, 4.1 us .. 1100 s (le = 2^k x 1024 ns, k even). */
export const BUCKET_SLOTS = Array.from({ length: 15 }, (_, i) => 2 * (i + 1));
export const bucketBound = (k: number): number => (2 ** k * HIST_UNIT_NS) / 1e9;

/** Series a metric may hold; beyond, new label sets are folded into "other" (bounded memory). */
export const MAX_SERIES = 5000;
/** Endpoint -> process entries remembered to name the receiving end of a flow. */
const MAX_ENDPOINTS = 20000;

type Labels = Record<string, string>;

/**
 * A histogram whose buckets the kernel filled: prom-client's Histogram only takes single
 * observations, so this metric hands the registry its samples in the same shape.
 */
export class KernelHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private series = new Map<string, { labels: Labels; h: Hist }>();
  constructor(readonly name: string, readonly help: string, registry: Registry) {
    registry.registerMetric(this as never);
  }
  set(labels: Labels, h: Hist): void {
    const key = JSON.stringify(labels);
    const prev = this.series.get(key);
    if (!prev && this.series.size >= MAX_SERIES) return;
    this.series.set(key, { labels, h });
  }
  /** Several kernel keys can fold into one label set (no pid label: one per process): add them up. */
  add(labels: Labels, h: Hist): void {
    const key = JSON.stringify(labels);
    const prev = this.series.get(key);
    if (!prev) return this.set(labels, h);
    prev.h = { slots: prev.h.slots.map((x, i) => x + (h.slots[i] ?? 0)), count: prev.h.count + h.count, sumNs: prev.h.sumNs + h.sumNs };
  }
  delete(pred: (l: Labels) => boolean): void {
    for (const [k, s] of this.series) if (pred(s.labels)) this.series.delete(k);
  }
  get size(): number { return this.series.size; }
  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Labels; value: number; metricName: string }> } {
    const values: Array<{ labels: Labels; value: number; metricName: string }> = [];
    for (const { labels, h } of this.series.values()) {
      let cum = 0;
      let next = 0;
      for (const k of BUCKET_SLOTS) {
        while (next < k && next < h.slots.length) cum += h.slots[next++]!;
        values.push({ labels: { ...labels, le: String(bucketBound(k)) }, value: cum, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: h.sumNs / 1e9, metricName: `${this.name}_sum` });
      values.push({ labels, value: h.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
  reset(): void { this.series.clear(); }
}

const BLOCK_OPS: Record<number, string> = { 0: 'read', 1: 'write', 2: 'flush', 3: 'discard', 5: 'secure_erase', 9: 'write_zeroes' };

export interface MetricsOptions { byComm: boolean; perProcess: boolean }

/** Current rates for the web page: bytes/s per flow and syscall time per second. */
export interface LiveRates {
  flows: Array<{ src: string; dst: string; bytesPerS: number }>;
  syscalls: Array<{ syscall: string; count: number; seconds: number; p99Ms?: number }>;
}

export class ServeMetrics {
  readonly registry = new Registry();
  private readonly scHist: KernelHistogram;
  private readonly blkHist: KernelHistogram;
  private readonly blkBytes: Counter;
  private readonly flowBytes: Counter;
  private readonly sentBytes: Counter;
  private readonly recvBytes: Counter;
  private readonly progSeconds: Counter;
  private readonly progRuns: Counter;
  private readonly lost: Counter;
  private readonly selfCpu: Counter;
  private readonly selfRss: Gauge;
  private readonly shares: Gauge;
  private readonly cores: Gauge;
  private readonly bottleneck: Gauge;
  private readonly confidence: Gauge;
  private readonly windowG: Gauge;
  private readonly disks = new DiskNames();
  private readonly endpoints = new Map<string, { tgid: number; comm: string }>();
  private localAddrs = new Set<string>();
  private readonly progSeen = new Map<string, { ns: number; cnt: number }>();
  private dropsSeen = { syscall: 0, tcp: 0, block: 0 };
  private cpuSeen = 0;
  private statsFd = -1;
  private lastRefresh = 0;
  private flowSeries = new Map<string, Labels>();
  /** Last refresh's rates (bytes per flow, syscall totals), for the page. */
  private prevSyscalls = new Map<string, { count: number; sumNs: number }>();
  private rateWindow: { t: number; flows: Map<string, number> } = { t: Date.now(), flows: new Map() };
  live: LiveRates = { flows: [], syscalls: [] };

  constructor(private readonly session: ServeSession, private readonly opts: MetricsOptions) {
    const r = this.registry;
    const who = ['syscall', ...(opts.byComm ? ['comm'] : []), ...(opts.perProcess ? ['pid'] : [])];
    this.scHist = new KernelHistogram('bpfkit_syscall_latency_seconds', `Time spent inside syscalls, by ${who.join(', ')} (from sys_enter to sys_exit).`, r);
    this.blkHist = new KernelHistogram('bpfkit_block_io_latency_seconds', 'Block I/O latency from issue to the device to completion, by disk and operation.', r);
    this.blkBytes = new Counter({ name: 'bpfkit_block_io_bytes_total', help: 'Bytes of completed block I/O requests, by disk and operation.', labelNames: ['disk', 'op'], registers: [r] });
    this.flowBytes = new Counter({ name: 'bpfkit_tcp_flow_bytes_total', help: 'TCP payload bytes from one service (process name) to another; "remote" is a peer outside this host.', labelNames: ['src', 'dst', ...(opts.perProcess ? ['src_pid', 'dst_pid'] : [])], registers: [r] });
    const procLabels = ['comm', 'container', ...(opts.perProcess ? ['pid'] : [])];
    this.sentBytes = new Counter({ name: 'bpfkit_tcp_sent_bytes_total', help: 'TCP payload bytes sent, by process name (or container) and container (empty: none).', labelNames: procLabels, registers: [r] });
    this.recvBytes = new Counter({ name: 'bpfkit_tcp_received_bytes_total', help: 'TCP payload bytes received, by process name (or container) and container (empty: none).', labelNames: procLabels, registers: [r] });
    this.shares = new Gauge({ name: 'bpfkit_service_time_ratio', help: 'Share of a service\'s thread time in each state over the last diagnose window (cpu, runqueue, blocked by kind).', labelNames: ['service', 'state'], registers: [r] });
    this.cores = new Gauge({ name: 'bpfkit_service_cpu_cores', help: 'CPU used by a service over the last diagnose window, in cores.', labelNames: ['service'], registers: [r] });
    this.bottleneck = new Gauge({ name: 'bpfkit_bottleneck_info', help: 'The bottleneck named by the last diagnose window (1 for the top verdict).', labelNames: ['service', 'kind'], registers: [r] });
    this.confidence = new Gauge({ name: 'bpfkit_bottleneck_confidence', help: 'Confidence (0..1) of each verdict of the last diagnose window, one per service.', labelNames: ['service', 'kind'], registers: [r] });
    this.windowG = new Gauge({ name: 'bpfkit_diagnose_window_seconds', help: 'Length of the last completed diagnose window.', registers: [r] });
    this.progSeconds = new Counter({ name: 'bpfkit_bpf_program_run_seconds_total', help: 'Time bpfkit\'s BPF programs ran in the kernel (kernel BPF stats), by program.', labelNames: ['program'], registers: [r] });
    this.progRuns = new Counter({ name: 'bpfkit_bpf_program_runs_total', help: 'Runs of bpfkit\'s BPF programs (kernel BPF stats), by program.', labelNames: ['program'], registers: [r] });
    this.lost = new Counter({ name: 'bpfkit_events_lost_total', help: 'Events not counted because a BPF map was full, by map.', labelNames: ['map'], registers: [r] });
    for (const m of ['syscall', 'tcp', 'block']) this.lost.inc({ map: m }, 0);
    this.selfCpu = new Counter({ name: 'bpfkit_self_cpu_seconds_total', help: 'CPU time used by the bpfkit serve process (user + system).', registers: [r] });
    this.selfRss = new Gauge({ name: 'bpfkit_self_resident_memory_bytes', help: 'Resident memory of the bpfkit serve process.', registers: [r] });
    try { this.statsFd = native.bpf_enable_stats(0) as number; } catch { this.statsFd = -1; }
    this.refreshLocalAddrs();
  }

  private refreshLocalAddrs(): void {
    const s = new Set<string>(['127.0.0.1', '::1', '0.0.0.0', '::']);
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) s.add(unmapIPv4(a.address));
    this.localAddrs = s;
  }
  private isLocal(addr: string): boolean {
    const a = unmapIPv4(addr);
    return a.startsWith('127.') || this.localAddrs.has(a);
  }

  /** A process's service: its container's name when it runs in one (as in diagnose), else its name. */
  private service(tgid: number, comm: string): string {
    if (tgid === process.pid) return 'bpfkit';
    const c = this.containerOf(tgid);
    return c ? c.name ?? c.shortId : comm || '?';
  }

  /** Nothing is read on a host with no container runtime. */
  private containerOf(tgid: number): Container | undefined {
    return hostContainers().ofPid(tgid);
  }

  /** Read every map into the metrics. Called before each scrape and periodically (maps drained). */
  refresh(): void {
    const now = Date.now();
    if (now - this.lastRefresh < 100) return;
    this.lastRefresh = now;
    this.readSyscalls();
    this.readBlock();
    this.readTcp(now);
    this.readSelf();
  }

  private readSyscalls(): void {
    const rows = this.session.syscalls();
    this.scHist.reset();
    const totals = new Map<string, { count: number; sumNs: number; slots: number[] }>();
    for (const r of rows) {
      const labels: Labels = { syscall: syscallName(r.nr) };
      if (this.opts.byComm) labels.comm = r.comm;
      if (this.opts.perProcess) labels.pid = String(r.tgid);
      this.scHist.add(labels, r);
      const t = totals.get(labels.syscall!) ?? { count: 0, sumNs: 0, slots: new Array<number>(r.slots.length).fill(0) };
      t.count += r.count;
      t.sumNs += r.sumNs;
      r.slots.forEach((x, i) => { t.slots[i]! += x; });
      totals.set(labels.syscall!, t);
    }
    if (this.opts.perProcess) {
      // Exited processes: their rows were just read; drop them from the map and the exposition.
      const gone = new Set<number>();
      const alive = new Set<number>();
      this.session.forgetProcesses((tgid) => {
        if (alive.has(tgid)) return false;
        if (gone.has(tgid)) return true;
        const g = processGone(tgid);
        (g ? gone : alive).add(tgid);
        return g;
      });
      if (gone.size) this.scHist.delete((l) => gone.has(Number(l.pid)));
    }
    // Per-syscall time since the last refresh, for the page's "top syscalls by latency".
    const top: LiveRates['syscalls'] = [];
    for (const [name, t] of totals) {
      const p = this.prevSyscalls.get(name) ?? { count: 0, sumNs: 0 };
      if (t.count > p.count) top.push({ syscall: name, count: t.count - p.count, seconds: Math.max(0, t.sumNs - p.sumNs) / 1e9, p99Ms: quantileMs(t.slots, t.count, 0.99) });
    }
    this.prevSyscalls = new Map([...totals].map(([n, t]) => [n, { count: t.count, sumNs: t.sumNs }]));
    if (top.length) this.live.syscalls = top.sort((a, b) => b.seconds - a.seconds).slice(0, 15);
  }

  private readBlock(): void {
    this.blkHist.reset();
    for (const b of this.session.block()) {
      const disk = this.disks.name(b.major, b.minor);
      const op = BLOCK_OPS[b.op] ?? 'other';
      this.blkHist.add({ disk, op }, b);
      this.setCounter(this.blkBytes, { disk, op }, b.bytes);
    }
  }

  private counterTotals = new Map<Counter, Map<string, number>>();
  /** Counters whose cumulative value the kernel keeps: add what is new since the last read. */
  private setCounter(c: Counter, labels: Labels, total: number): void {
    let m = this.counterTotals.get(c);
    if (!m) this.counterTotals.set(c, (m = new Map()));
    const key = JSON.stringify(labels);
    const prev = m.get(key) ?? 0;
    m.set(key, total);
    c.inc(labels, Math.max(0, total - prev));
  }

  private readTcp(now: number, final = false): void {
    const drained = this.session.drainConns();
    for (const r of drained) this.remember(`${unmapIPv4(r.laddr)} ${r.lport}`, { tgid: r.tgid, comm: r.comm });
    // Sends to a local end not seen yet wait one refresh: its owner usually shows up by then.
    const rows = [...this.held, ...drained];
    this.held = [];
    const holding = new Set<ConnBytes>();
    if (!final) {
      for (const r of drained) {
        if (r.sent > 0 && this.isLocal(r.raddr) && !this.endpoints.has(`${unmapIPv4(r.raddr)} ${r.rport}`)) holding.add(r);
      }
    }
    let scanned = false;
    const peer = (addr: string, port: number): { name: string; tgid?: number } => {
      if (!this.isLocal(addr)) return { name: 'remote' };
      const key = `${unmapIPv4(addr)} ${port}`;
      // A listener bound to every address is remembered as 0.0.0.0 or ::.
      const find = () => this.endpoints.get(key) ?? this.endpoints.get(`0.0.0.0 ${port}`) ?? this.endpoints.get(`:: ${port}`);
      let e = find();
      if (!e && !scanned) {
        scanned = true;
        this.scanSockets();
        e = find();
      }
      return e ? { name: this.service(e.tgid, e.comm), tgid: e.tgid } : { name: 'unknown' };
    };
    const flows = this.rateWindow.flows;
    const addFlow = (src: string, dst: string, bytes: number, srcPid?: number, dstPid?: number) => {
      let labels: Labels = { src, dst };
      if (this.opts.perProcess) labels = { src, dst, src_pid: srcPid ? String(srcPid) : '', dst_pid: dstPid ? String(dstPid) : '' };
      const key = JSON.stringify(labels);
      if (!this.flowSeries.has(key)) {
        if (this.flowSeries.size >= MAX_SERIES) labels = Object.fromEntries(Object.keys(labels).map((k) => [k, 'other']));
        this.flowSeries.set(JSON.stringify(labels), labels);
      }
      this.flowBytes.inc(labels, bytes);
      const rk = JSON.stringify([src, dst]);
      flows.set(rk, (flows.get(rk) ?? 0) + bytes);
    };
    for (const r of rows) {
      if (holding.has(r)) { this.held.push(r); continue; }
      const me = this.service(r.tgid, r.comm);
      if (r.sent > 0) {
        const p = peer(r.raddr, r.rport);
        addFlow(me, p.name, r.sent, r.tgid, p.tgid);
      }
      if (r.received > 0 && !this.isLocal(r.raddr)) addFlow('remote', me, r.received, undefined, r.tgid);
      const c = this.containerOf(r.tgid);
      const labels: Labels = { comm: me, container: c ? c.name ?? c.shortId : '' };
      if (this.opts.perProcess) labels.pid = String(r.tgid);
      this.sentBytes.inc(labels, r.sent);
      this.recvBytes.inc(labels, r.received);
      if (this.opts.perProcess) this.procSeries.set(r.tgid, labels);
    }
    if (this.opts.perProcess) this.forgetDeadPids();
    // Rates over the last >= 1 s, for the page.
    const dt = (now - this.rateWindow.t) / 1000;
    if (dt >= 1) {
      this.live.flows = [...flows].map(([k, b]) => { const [src, dst] = JSON.parse(k) as [string, string]; return { src, dst, bytesPerS: b / dt }; }).sort((a, b) => b.bytesPerS - a.bytesPerS);
      this.rateWindow = { t: now, flows: new Map() };
    }
  }

  private held: ConnBytes[] = [];
  private pidCheck = 0;
  private readonly procSeries = new Map<number, Labels>();
  /** --per-process: series of processes that exited go away (a week of churn is not kept). */
  private forgetDeadPids(): void {
    if (Date.now() - this.pidCheck < 5000) return;
    this.pidCheck = Date.now();
    const gone = new Map<number, boolean>();
    const dead = (pid: string | undefined) => {
      if (!pid || pid === 'other') return false;
      const n = Number(pid);
      let g = gone.get(n);
      if (g === undefined) gone.set(n, (g = processGone(n)));
      return g;
    };
    for (const [pid, labels] of this.procSeries) {
      if (!dead(String(pid))) continue;
      this.sentBytes.remove(labels);
      this.recvBytes.remove(labels);
      this.procSeries.delete(pid);
    }
    for (const [key, labels] of this.flowSeries) {
      if (!dead(labels.src_pid) && !dead(labels.dst_pid)) continue;
      this.flowBytes.remove(labels);
      this.flowSeries.delete(key);
    }
  }

  private remember(key: string, e: { tgid: number; comm: string }): void {
    this.endpoints.delete(key);
    this.endpoints.set(key, e);
    if (this.endpoints.size > MAX_ENDPOINTS) this.endpoints.delete(this.endpoints.keys().next().value!);
  }

  /** The owners of local TCP endpoints, from /proc (a receiver that has not moved bytes yet). */
  private scanSockets(): void {
    try {
      this.refreshLocalAddrs();
      for (const s of listSockets({ all: true })) {
        if ((s.proto === 'tcp' || s.proto === 'tcp6') && s.localAddr !== null && s.localPort !== null) {
          this.remember(`${unmapIPv4(s.localAddr)} ${s.localPort}`, { tgid: s.pid, comm: s.comm });
        }
      }
    } catch { /* best effort: "unknown" */ }
  }

  private readSelf(): void {
    const d = this.session.drops();
    for (const k of ['syscall', 'tcp', 'block'] as const) {
      this.lost.inc({ map: k }, Math.max(0, d[k] - this.dropsSeen[k]));
    }
    this.dropsSeen = d;
    const u = process.cpuUsage();
    const cpu = (u.user + u.system) / 1e6;
    this.selfCpu.inc(Math.max(0, cpu - this.cpuSeen));
    this.cpuSeen = cpu;
    this.selfRss.set(process.memoryUsage.rss());
    if (this.statsFd < 0) return;
    // Kernel BPF stats per program; programs of restarted windows add to the same counter.
    const live = new Set<string>();
    for (const p of openPrograms()) {
      let info: string;
      try { info = readFileSync(`/proc/self/fdinfo/${p.fd}`, 'utf8'); } catch { continue; }
      const id = /prog_id:\s*(\d+)/.exec(info)?.[1];
      if (!id) continue;
      const ns = Number(/run_time_ns:\s*(\d+)/.exec(info)?.[1] ?? 0);
      const cnt = Number(/run_cnt:\s*(\d+)/.exec(info)?.[1] ?? 0);
      const prev = this.progSeen.get(id) ?? { ns: 0, cnt: 0 };
      this.progSeconds.inc({ program: p.name }, Math.max(0, ns - prev.ns) / 1e9);
      this.progRuns.inc({ program: p.name }, Math.max(0, cnt - prev.cnt));
      this.progSeen.set(id, { ns, cnt });
      live.add(id);
    }
    for (const id of this.progSeen.keys()) if (!live.has(id)) this.progSeen.delete(id);
  }

  /** The gauges of the last diagnose window. */
  setReport(r: Report): void {
    this.shares.reset();
    this.cores.reset();
    this.bottleneck.reset();
    this.confidence.reset();
    this.windowG.set(r.windowS);
    const seen = new Set<string>();
    for (const s of r.services) {
      if (s.cpuCores < 0.005 && s.inBytesPerS === 0 && s.outBytesPerS === 0) continue;
      // Services share a name (two "python3" pipelines): the first (busiest) one is exported.
      if (seen.has(s.comm) || seen.size >= 200) continue;
      seen.add(s.comm);
      this.shares.set({ service: s.comm, state: 'cpu' }, s.share.cpu);
      this.shares.set({ service: s.comm, state: 'runqueue' }, s.share.runq);
      for (const [kind, v] of Object.entries(s.share.wait)) this.shares.set({ service: s.comm, state: kind }, v);
      this.cores.set({ service: s.comm }, s.cpuCores);
    }
    const vs = new Set<string>();
    for (const v of r.verdicts) {
      const key = `${v.comm} ${v.rule}`;
      if (vs.has(key)) continue;
      vs.add(key);
      this.confidence.set({ service: v.comm, kind: v.rule }, v.confidence);
    }
    const top = r.verdicts[0];
    if (top) this.bottleneck.set({ service: top.comm, kind: top.rule }, 1);
  }

  async exposition(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }

  close(): void {
    if (this.statsFd >= 0) native.close(this.statsFd);
    this.statsFd = -1;
  }
}

/** The q-quantile of a log2 histogram (upper bound of the slot it falls in), in ms. */
export function quantileMs(slots: number[], count: number, q: number): number | undefined {
  if (count === 0) return undefined;
  const want = q * count;
  let cum = 0;
  for (let i = 0; i < slots.length; i++) {
    cum += slots[i]!;
    if (cum >= want) return (2 ** (i + 1) * HIST_UNIT_NS) / 1e6;
  }
  return (2 ** slots.length * HIST_UNIT_NS) / 1e6;
}
