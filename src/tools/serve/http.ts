// serve's HTTP endpoints. Only GET/HEAD; every parameter is checked (400 with a one-line
// reason); anything else is 404. No endpoint reads files or starts programs from request
// parameters beyond the documented ones: /debug/pprof/profile and the page's flame graph start a
// profiler for the given seconds (at most two at a time).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { processGone } from '../../core/proc.js';
import { note } from '../../core/log.js';
import { BpfkitError } from '../../core/errors.js';
import { ProfileSession, type ProfileResult } from '../profile/profile.js';
import { mergeBySymbols, toStackCounts } from '../profile/index.js';
import { renderFlameGraph } from '../../render/flamegraph.js';
import { encodePprof } from '../../render/pprof.js';
import type { ServeMetrics } from './metrics.js';
import type { DiagnoseWindow } from './window.js';
import { pageState } from './state.js';

/** Sampling rate of the profile endpoints (Go's runtime/pprof uses 100 Hz; prime avoids beats). */
export const PPROF_HZ = 99;
const MAX_PROFILES = 2;

class BadRequest extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

/** Query parameters: only `allowed` names, each at most once. */
function params(url: URL, allowed: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of url.searchParams) {
    if (!allowed.includes(k)) throw new BadRequest(400, `unknown parameter '${k.slice(0, 40)}'${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`);
    if (out.has(k)) throw new BadRequest(400, `parameter '${k}' given twice`);
    out.set(k, v);
  }
  return out;
}

function intParam(p: Map<string, string>, name: string, min: number, max: number, dflt?: number): number | undefined {
  const v = p.get(name);
  if (v === undefined) return dflt;
  if (!/^\d{1,9}$/.test(v)) throw new BadRequest(400, `${name}: '${v.slice(0, 20)}' is not a whole number`);
  const n = Number(v);
  if (n < min || n > max) throw new BadRequest(400, `${name}: ${n} is out of range (${min}..${max})`);
  return n;
}

/** A Host header (or bind address) naming this machine's loopback: 127.x, ::1, localhost. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

export interface ServerOptions {
  host: string;
  port: number;
  web: boolean;
  metrics: ServeMetrics;
  window?: DiagnoseWindow;
  /** Aborted when serve stops: running profiles end early. */
  signal: AbortSignal;
}

const WEB_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** The page's files, shipped in the package (src/tools/serve/web): nothing comes from a CDN. */
function loadWebFiles(): Map<string, { body: Buffer; type: string }> {
  const dir = new URL('../../../../src/tools/serve/web/', import.meta.url);
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const [path, f] of Object.entries(WEB_FILES)) out.set(path, { body: readFileSync(new URL(f.file, dir)), type: f.type });
  return out;
}

export class ServeServer {
  private server: Server;
  private profiles = 0;
  private web?: Map<string, { body: Buffer; type: string }>;
  requests = 0;

  private readonly loopback: boolean;

  private constructor(private readonly o: ServerOptions) {
    this.loopback = isLoopbackHost(o.host);
    if (o.web) this.web = loadWebFiles();
    this.server = createServer((req, res) => {
      this.requests++;
      this.handle(req, res).catch((e: unknown) => {
        note(`serve: ${req.url}: ${(e as Error).message}`);
        this.send(res, 500, 'text/plain', `internal error: ${(e as Error).message.split('\n')[0]}\n`);
      });
    });
    // Long profiles: no request timeout below their length.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 10_000;
    this.server.keepAliveTimeout = 30_000;
  }

  static listen(o: ServerOptions): Promise<ServeServer> {
    const s = new ServeServer(o);
    return new Promise((resolve, reject) => {
      s.server.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'EADDRINUSE' ? 'address already in use' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.code === 'EACCES' ? 'permission denied' : e.message;
        reject(new BpfkitError('BAD_ARGS', `--listen ${o.host}:${o.port}: ${why}`));
      });
      s.server.listen(o.port, o.host, () => resolve(s));
    });
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : this.o.port;
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, extra: Record<string, string> = {}): void {
    if (res.headersSent) { res.end(); return; }
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return this.send(res, 400, 'text/plain', 'bad request URL\n');
    }
    // Bound to loopback: only loopback names in Host, so a web page cannot reach serve through a
    // name of its own that resolves to 127.0.0.1 (DNS rebinding).
    if (this.loopback && !isLoopbackHost(req.headers.host)) return this.send(res, 400, 'text/plain', 'Host header is not a loopback address (serve is bound to loopback)\n');
    const route = this.route(url.pathname);
    if (!route) return this.send(res, 404, 'text/plain', 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain', 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
    try {
      await route(url, res);
    } catch (e) {
      if (e instanceof BadRequest) return this.send(res, e.status, 'text/plain', e.message + '\n');
      if (e instanceof BpfkitError) return this.send(res, 503, 'text/plain', e.message + '\n');
      throw e;
    }
  }

  private route(path: string): ((url: URL, res: ServerResponse) => Promise<void>) | undefined {
    if (path === '/metrics') return async (url, res) => {
      params(url, []);
      this.send(res, 200, this.o.metrics.registry.contentType, await this.o.metrics.exposition());
    };
    if (path === '/debug/pprof/profile') return (url, res) => this.pprof(url, res);
    if (!this.web) return undefined;
    const file = this.web.get(path);
    if (file) return async (url, res) => { params(url, []); this.send(res, 200, file.type, file.body); };
    if (path === '/api/state') return async (url, res) => {
      params(url, []);
      this.o.metrics.refresh();
      this.send(res, 200, 'application/json', JSON.stringify(pageState(this.o.metrics, this.o.window)));
    };
    if (path === '/api/flamegraph') return (url, res) => this.flamegraph(url, res);
    return undefined;
  }

  /** Go's /debug/pprof/profile?seconds=N (default 30), plus pid=PID: gzipped profile.proto. */
  private async pprof(url: URL, res: ServerResponse): Promise<void> {
    const p = params(url, ['seconds', 'pid']);
    const seconds = intParam(p, 'seconds', 1, 300, 30)!;
    const pid = intParam(p, 'pid', 1, 4194304);
    if (pid !== undefined && processGone(pid)) throw new BadRequest(400, `pid: no such process ${pid}`);
    const started = Date.now();
    const r = await this.record(seconds, pid !== undefined ? [pid] : undefined);
    const body = encodePprof(mergeBySymbols(r.stacks, { annotate: false, delimited: false }), { periodNs: Math.round(1e9 / PPROF_HZ), durationNs: (Date.now() - started) * 1e6, startMs: started });
    this.send(res, 200, 'application/octet-stream', body, { 'Content-Disposition': 'attachment; filename="profile.pb.gz"' });
  }

  /** The page's button: an SVG flame graph of one service (by the name the page shows) for N s. */
  private async flamegraph(url: URL, res: ServerResponse): Promise<void> {
    const p = params(url, ['service', 'seconds']);
    const seconds = intParam(p, 'seconds', 1, 60, 10)!;
    const name = p.get('service');
    if (name === undefined || name === '') throw new BadRequest(400, 'service: missing (a service name from /api/state)');
    const svc = this.o.window?.last?.services.find((s) => s.comm === name || `${s.comm}(${s.id})` === name);
    if (!svc) throw new BadRequest(400, `service: no service '${name.slice(0, 40)}' in the last diagnose window`);
    const pids = svc.pids.filter((x) => !processGone(x)).slice(0, 64);
    if (pids.length === 0) throw new BadRequest(400, `service: '${name.slice(0, 40)}' has no live process`);
    const r = await this.record(seconds, pids);
    const svg = renderFlameGraph(toStackCounts(r, { annotate: true, delimited: false }), {
      title: `CPU flame graph of ${svc.comm}`,
      subtitle: `bpfkit serve: ${seconds} s at ${PPROF_HZ} Hz of PID ${pids.slice(0, 8).join(',')}${pids.length > 8 ? ',...' : ''}`,
    });
    this.send(res, 200, 'image/svg+xml', svg);
  }

  private async record(seconds: number, pids: number[] | undefined): Promise<ProfileResult> {
    if (this.profiles >= MAX_PROFILES) throw new BadRequest(429, `${MAX_PROFILES} profiles are being recorded already; try again later`);
    this.profiles++;
    try {
      const session = ProfileSession.start({ frequency: PPROF_HZ, ...(pids ? { pids } : {}) });
      try {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, seconds * 1000);
          this.o.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
        });
        return session.collect();
      } finally {
        session.close();
      }
    } finally {
      this.profiles--;
    }
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}
