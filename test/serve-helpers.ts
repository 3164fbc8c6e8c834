// Shared by the serve tests: a free port, HTTP GETs, a real Prometheus on 127.0.0.1, and a
// minimal reader of pprof's profile.proto (independent of the pprof-format package serve uses).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { sleep } from './helpers.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function get(url: string, timeoutMs = 30_000): Promise<{ status: number; body: Buffer; type: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type') ?? '' };
}

export interface Prom { port: number; proc: ChildProcess; stop(): Promise<void>; query(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> }

/** Debian's prometheus on 127.0.0.1, scraping `target` every second. */
export async function startPrometheus(target: string): Promise<Prom> {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-prom-'));
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: bpfkit
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ['${target}']
`);
  const proc = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d) => { log += d; });
  const exited = new Promise<void>((r) => proc.on('close', () => r()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await get(`http://127.0.0.1:${port}/-/ready`, 2000)).status === 200) break;
    } catch { /* not up yet */ }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`prometheus did not start: ${log}`);
    await sleep(200);
  }
  return {
    port, proc,
    async query(q) {
      const r = await get(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      const j = JSON.parse(r.body.toString()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (j.status !== 'success') throw new Error(`query ${q}: ${r.body}`);
      return j.data.result;
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `promtool check metrics` on an exposition: its complaints (empty when clean). */
export function promtoolCheck(exposition: string): { code: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  return { code: r.status, output: (r.stdout + r.stderr).trim() };
}

// ---- a minimal protobuf reader for profile.proto (field numbers from pprof's profile.proto) ----

type Field = { no: number; wire: number; v: bigint | Buffer };
function* fields(b: Buffer): Generator<Field> {
  let i = 0;
  const varint = (): bigint => {
    let x = 0n;
    let s = 0n;
    for (;;) {
      const c = b[i++]!;
      x |= BigInt(c & 0x7f) << s;
      if (!(c & 0x80)) return x;
      s += 7n;
    }
  };
  while (i < b.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    if (wire === 0) yield { no, wire, v: varint() };
    else if (wire === 2) { const n = Number(varint()); yield { no, wire, v: b.subarray(i, i + n) }; i += n; }
    else if (wire === 1) { yield { no, wire, v: b.readBigUInt64LE(i) }; i += 8; }
    else if (wire === 5) { yield { no, wire, v: BigInt(b.readUInt32LE(i)) }; i += 4; }
    else throw new Error(`wire type ${wire}`);
  }
}
/** Repeated uint64: packed (wire 2) or not. */
function nums(f: Field): number[] {
  if (f.wire === 0) return [Number(f.v)];
  const out: number[] = [];
  const b = f.v as Buffer;
  let i = 0;
  while (i < b.length) {
    let x = 0n;
    let s = 0n;
    for (;;) { const c = b[i++]!; x |= BigInt(c & 0x7f) << s; if (!(c & 0x80)) break; s += 7n; }
    out.push(Number(x));
  }
  return out;
}

export interface DecodedProfile {
  sampleTypes: string[];
  samples: Array<{ values: number[]; frames: string[]; labels: Record<string, string | number> }>;
  periodNs: number;
  durationNs: number;
}

export function decodePprof(gz: Buffer): DecodedProfile {
  const b = gunzipSync(gz);
  const strings: string[] = [];
  const rawSamples: Array<{ loc: number[]; values: number[]; labels: Array<{ key: number; str: number; num: number }> }> = [];
  const locFn = new Map<number, number[]>();
  const fnName = new Map<number, number>();
  const sampleTypes: Array<[number, number]> = [];
  let period = 0;
  let duration = 0;
  for (const f of fields(b)) {
    if (f.no === 6) strings.push((f.v as Buffer).toString('utf8'));
    else if (f.no === 1) {
      const vt = [...fields(f.v as Buffer)];
      sampleTypes.push([Number(vt.find((x) => x.no === 1)?.v ?? 0), Number(vt.find((x) => x.no === 2)?.v ?? 0)]);
    } else if (f.no === 2) {
      const s = { loc: [] as number[], values: [] as number[], labels: [] as Array<{ key: number; str: number; num: number }> };
      for (const g of fields(f.v as Buffer)) {
        if (g.no === 1) s.loc.push(...nums(g));
        else if (g.no === 2) s.values.push(...nums(g));
        else if (g.no === 3) {
          const l = { key: 0, str: 0, num: 0 };
          for (const h of fields(g.v as Buffer)) { if (h.no === 1) l.key = Number(h.v); if (h.no === 2) l.str = Number(h.v); if (h.no === 3) l.num = Number(h.v); }
          s.labels.push(l);
        }
      }
      rawSamples.push(s);
    } else if (f.no === 4) {
      let id = 0;
      const fns: number[] = [];
      for (const g of fields(f.v as Buffer)) {
        if (g.no === 1) id = Number(g.v);
        if (g.no === 4) for (const h of fields(g.v as Buffer)) if (h.no === 1) fns.push(Number(h.v));
      }
      locFn.set(id, fns);
    } else if (f.no === 5) {
      let id = 0;
      let name = 0;
      for (const g of fields(f.v as Buffer)) { if (g.no === 1) id = Number(g.v); if (g.no === 2) name = Number(g.v); }
      fnName.set(id, name);
    } else if (f.no === 10) duration = Number(f.v);
    else if (f.no === 12) period = Number(f.v);
  }
  const str = (i: number) => strings[i] ?? '';
  return {
    sampleTypes: sampleTypes.map(([t, u]) => `${str(t)}/${str(u)}`),
    periodNs: period,
    durationNs: duration,
    samples: rawSamples.map((s) => ({
      values: s.values,
      frames: s.loc.flatMap((l) => (locFn.get(l) ?? []).map((fn) => str(fnName.get(fn) ?? 0))),
      labels: Object.fromEntries(s.labels.map((l) => [str(l.key), l.str ? str(l.str) : l.num])),
    })),
  };
}
