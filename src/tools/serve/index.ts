// `bpfkit serve`: one long-running process that keeps the programs loaded and serves Prometheus
// metrics (/metrics), pprof CPU profiles (/debug/pprof/profile) and, with --web, a live page.
import { COMMON, parseIntArg, type ParsedArgs } from '../../toolkit/flags.js';
import { defineTool, type Common } from '../../toolkit/runner.js';
import { badArgs } from '../../core/errors.js';
import { note } from '../../core/log.js';
import { ServeSession } from './session.js';
import { ServeMetrics } from './metrics.js';
import { ServeServer } from './http.js';
import { DiagnoseWindow } from './window.js';

export const DEFAULT_LISTEN = '127.0.0.1:9435';
const DEFAULT_WINDOW_S = 10;
/** Maps are drained this often even when nobody scrapes (closed connections leave the maps). */
const REFRESH_MS = 2000;

const FLAGS = [
  { key: 'listen', short: 'l', long: 'listen', arg: 'HOST:PORT', help: `address to serve on (default ${DEFAULT_LISTEN}; another host than loopback needs --allow-remote)` },
  { key: 'remote', long: 'allow-remote', help: 'allow --listen on a non-loopback address (anyone who reaches it can read metrics and record profiles)' },
  { ...COMMON.interval, help: `length of the rolling diagnose window behind the time shares and bottleneck metrics (default ${DEFAULT_WINDOW_S} s)` },
  { key: 'web', long: 'web', help: 'also serve the live page of the host at / (flow graph, bottleneck, time shares, syscalls, flame graphs)' },
  { ...COMMON.cgroup, help: 'observe this cgroup only (v2 directory): syscalls, TCP bytes, block I/O, diagnose windows and profiles' },
  COMMON.container,
  { key: 'byComm', long: 'by-comm', help: 'syscall latency histograms per process name too (label comm)' },
  { key: 'perProcess', long: 'per-process', help: 'per-process labels (pid) on syscall and TCP byte metrics: one series per process, removed when it exits' },
  { key: 'noDiagnose', long: 'no-diagnose', help: 'no rolling diagnose window (no time shares, bottleneck, flow graph page): cheaper' },
  COMMON.duration,
];

export interface ServeOptions {
  host: string;
  port: number;
  windowS: number;
  web: boolean;
  byComm: boolean;
  perProcess: boolean;
  diagnose: boolean;
}

const isLoopback = (h: string) => h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1';

export function parseListen(text: string, allowRemote: boolean): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) throw badArgs(`--listen: '${text}' is not HOST:PORT (e.g. 127.0.0.1:9435, [::1]:9435)`);
  const host = m[1] ?? m[2] ?? '';
  const port = parseIntArg(m[3]!, '--listen PORT', 0, 65535);
  if (host === '') throw badArgs('--listen: give the host (0.0.0.0 for every address, with --allow-remote)');
  if (!isLoopback(host) && !allowRemote) throw badArgs(`--listen ${text}: not a loopback address; add --allow-remote to serve metrics and profiles to other hosts`);
  return { host, port };
}

export function parseServeOptions(a: ParsedArgs, c: Common): ServeOptions {
  const { host, port } = parseListen(a.get('listen') ?? DEFAULT_LISTEN, a.has('remote'));
  if (c.intervalS !== undefined && c.intervalS < 1) throw badArgs('-i: the diagnose window is at least 1 s');
  return {
    host, port,
    windowS: c.intervalS ?? DEFAULT_WINDOW_S,
    web: a.has('web'),
    byComm: a.has('byComm'),
    perProcess: a.has('perProcess'),
    diagnose: !a.has('noDiagnose'),
  };
}

export const command = defineTool<ServeOptions>({
  name: 'serve',
  summary: 'serve Prometheus metrics, pprof profiles and a live web page of the host',
  about: `Keep bpfkit's programs loaded and serve over HTTP:
  /metrics               Prometheus text exposition: syscall latency histograms, TCP bytes between
                         services, block I/O latency and bytes per disk, per-service time shares and
                         the bottleneck of a rolling diagnose window, and bpfkit's own cost;
  /debug/pprof/profile   a CPU profile (?seconds=N, default 30; &pid=PID) as gzipped profile.proto,
                         the endpoint Parca and Grafana Alloy scrape;
  /                      with --web: a live page of the host (files in the package, no CDN).
Binds 127.0.0.1:9435 unless told otherwise. Runs until Ctrl-C or SIGTERM, then detaches everything.`,
  flags: FLAGS,
  more: `Examples:
  bpfkit serve                          # metrics on http://127.0.0.1:9435/metrics
  bpfkit serve --web -i 5               # plus the page at http://127.0.0.1:9435/
  curl -o cpu.pb.gz 'http://127.0.0.1:9435/debug/pprof/profile?seconds=10'
Prometheus: scrape_configs: [{job_name: bpfkit, static_configs: [{targets: ['127.0.0.1:9435']}]}]`,
  // Closing a diagnose window and the profilers takes a moment.
  stopGraceS: 5,
  parse: parseServeOptions,
  async run(opts, rt) {
    const session = rt.use(ServeSession.start({ byComm: opts.byComm, perProcess: opts.perProcess }));
    const metrics = rt.use(new ServeMetrics(session, { byComm: opts.byComm, perProcess: opts.perProcess }));
    const window = opts.diagnose ? rt.use(new DiagnoseWindow(opts.windowS, (r) => metrics.setReport(r))) : undefined;
    const server = rt.use(await ServeServer.listen({ host: opts.host, port: opts.port, web: opts.web, metrics, window, signal: rt.signal }));
    const timer = setInterval(() => {
      try { metrics.refresh(); } catch (e) { note(`serve: refresh failed: ${(e as Error).message}`); }
    }, REFRESH_MS);
    rt.use({ close: () => clearInterval(timer) });
    if (!isLoopback(opts.host)) rt.notice(`WARNING: serving on ${opts.host}:${server.port}, reachable from other hosts: anyone who can connect can read the metrics and record CPU profiles`);
    const base = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${server.port}`;
    rt.notice(`serving ${base}/metrics and ${base}/debug/pprof/profile${opts.web ? `; the page at ${base}/` : ''}`);
    rt.ready();
    await rt.until();
  },
});
