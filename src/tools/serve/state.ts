// What the web page draws, as one JSON object (/api/state): the last diagnose window's services,
// flow graph and verdicts, plus the live TCP rates and top syscalls from serve's own counters.
import type { ServeMetrics } from './metrics.js';
import type { DiagnoseWindow } from './window.js';

export interface PageService {
  name: string; id: number; processes: number; cpuCores: number;
  /** Shares of thread time: cpu, runqueue, and the wait kinds. */
  shares: Record<string, number>;
  inBytesPerS: number; outBytesPerS: number;
}

export interface PageState {
  time: string;
  windowS: number | null;
  windows: number;
  services: PageService[];
  edges: Array<{ from: string; to: string; bytesPerS: number; msgsPerS: number }>;
  bottleneck: { service: string; kind: string; summary: string; confidence: number; evidence: string[]; next: string[] } | null;
  verdicts: Array<{ service: string; kind: string; summary: string; confidence: number }>;
  conclusion: string;
  flows: ServeMetrics['live']['flows'];
  syscalls: ServeMetrics['live']['syscalls'];
}

export function pageState(m: ServeMetrics, w: DiagnoseWindow | undefined): PageState {
  const r = w?.last;
  const names = new Map<number | string, string>();
  const services: PageService[] = [];
  if (r) {
    const count = new Map<string, number>();
    for (const s of r.services) count.set(s.comm, (count.get(s.comm) ?? 0) + 1);
    for (const s of r.services) {
      // Two services of one name are told apart by their root pid.
      names.set(s.id, count.get(s.comm)! > 1 ? `${s.comm}(${s.id})` : s.comm);
    }
    const onEdge = new Set(r.edges.flatMap((e) => [e.from, e.to]));
    for (const s of r.services) {
      if (!onEdge.has(s.id) && s.cpuCores < 0.01) continue;
      services.push({
        name: names.get(s.id)!, id: s.id, processes: s.pids.length, cpuCores: s.cpuCores,
        shares: { cpu: s.share.cpu, runqueue: s.share.runq, ...s.share.wait },
        inBytesPerS: s.inBytesPerS, outBytesPerS: s.outBytesPerS,
      });
      if (services.length >= 40) break;
    }
  }
  const nm = (x: number | string) => names.get(x) ?? String(x);
  const top = r?.verdicts[0];
  return {
    time: new Date().toISOString(),
    windowS: r ? r.windowS : null,
    windows: w?.windows ?? 0,
    services,
    edges: (r?.edges ?? []).slice(0, 60).map((e) => ({ from: nm(e.from), to: nm(e.to), bytesPerS: e.bytesPerS, msgsPerS: e.msgsPerS })),
    bottleneck: top ? { service: nm(top.service), kind: top.rule, summary: top.summary, confidence: top.confidence, evidence: top.evidence, next: top.next } : null,
    verdicts: (r?.verdicts ?? []).slice(0, 5).map((v) => ({ service: nm(v.service), kind: v.rule, summary: v.summary, confidence: v.confidence })),
    conclusion: r?.conclusion ?? (w ? 'waiting for the first diagnose window' : 'diagnose windows are off (--no-diagnose)'),
    flows: m.live.flows.slice(0, 40),
    syscalls: m.live.syscalls,
  };
}
