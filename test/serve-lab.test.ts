// bpfkit serve on the pipeline lab (PostgreSQL, Redis, producer, loader with batch 10, which falls
// behind): bpfkit_bottleneck_info names the loader within 30 s; the postgres -> loader flow
// counter moves at the rate the lab's own `run.sh status` measures (within 5%); and the --web
// page, opened in a real headless Chromium (Debian's, driven by puppeteer-core), shows the
// lab's four services, highlights the loader, and draws a flame graph on request. Screenshots
// go to dist/test/output/ for a person to look at.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { kernelTest, leftoverPrograms, REPO, sleep, startTool, type StartedTool } from './helpers.js';
import { freePort, get } from './serve-helpers.js';

const LAB = join(REPO, 'examples', 'pipeline', 'run.sh');
const ENV = { ...process.env, LAB_DIR: '/tmp/bpfkit-test-serve-lab', PG_PORT: '25832', REDIS_PORT: '26779' };
const OUT = fileURLToPath(new URL('./output/', import.meta.url));
const root = process.getuid?.() === 0;

function lab(...args: string[]): string {
  const r = spawnSync('bash', [LAB, ...args], { env: ENV, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`run.sh ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface LabStatus { producer: { pid: number }; loader: { pid: number; tcpFromPostgresBytesPerSec: number }; postgres: { pid: number }; redis: { pid: number } }

let serve: StartedTool | undefined;
let port = 0;
before(async () => {
  if (!root) return;
  lab('start', '--batch-size', '10');
  port = await freePort();
  serve = startTool(['serve', '--listen', `127.0.0.1:${port}`, '--web', '--per-process', '-i', '5'], { timeoutMs: 300_000 });
  await serve.ready;
});
after(async () => {
  if (!root) return;
  const run = await serve?.stop('SIGTERM');
  lab('stop');
  assert.equal(run?.code, 0, run?.stderr);
  assert.deepEqual(leftoverPrograms('serve_'), []);
  assert.deepEqual(leftoverPrograms('diagnose_'), []);
  assert.deepEqual(leftoverPrograms('profile_'), []);
});

/** Samples of one metric family from the exposition: labels (as text) -> value. */
async function scrape(name: string): Promise<Map<string, number>> {
  const text = (await get(`http://127.0.0.1:${port}/metrics`)).body.toString();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

test('serve on the lab: bottleneck_info names the loader within 30 s; postgres -> loader bytes match run.sh status', kernelTest(), async () => {
  const t0 = Date.now();
  let named = '';
  while (Date.now() - t0 < 30_000) {
    const info = await scrape('bpfkit_bottleneck_info');
    named = [...info.keys()].join(' ');
    if (info.get('{service="loader",kind="pull-limited consumer"}') === 1) break;
    await sleep(1000);
  }
  assert.match(named, /service="loader",kind="pull-limited consumer"/, `bpfkit_bottleneck_info after 30 s: ${named}`);
  console.log(`# bottleneck_info named the loader ${((Date.now() - t0) / 1000).toFixed(1)} s after serve was ready (+ lab start)`);
  const shares = await scrape('bpfkit_service_time_ratio');
  assert.ok([...shares.keys()].some((k) => k.includes('service="loader"')), 'time shares of the loader');

  // Other labs may run on a shared host: this lab's loader by its pid (--per-process labels).
  const pid = (JSON.parse(lab('status', '--json', '--interval', '1')) as LabStatus).loader.pid;
  const fromPostgres = async () => {
    let n = 0;
    for (const [k, v] of await scrape('bpfkit_tcp_flow_bytes_total')) if (k.includes('src="postgres",dst="loader"') && k.includes(`dst_pid="${pid}"`)) n += v;
    return n;
  };
  const c0 = await fromPostgres();
  const w0 = Date.now();
  const st = JSON.parse(lab('status', '--json', '--interval', '10')) as LabStatus;
  const w1 = Date.now();
  const c1 = await fromPostgres();
  const ours = (c1 - c0) / ((w1 - w0) / 1000);
  const theirs = st.loader.tcpFromPostgresBytesPerSec;
  console.log(`# postgres -> loader: serve ${ours.toFixed(0)} B/s, run.sh status ${theirs.toFixed(0)} B/s (ratio ${(ours / theirs).toFixed(3)})`);
  assert.ok(theirs > 0, 'the lab moves data');
  assert.ok(Math.abs(ours / theirs - 1) <= 0.05, `serve ${ours} B/s vs status ${theirs} B/s`);
});

test('serve --web in headless Chromium: four services, the loader highlighted with evidence, a flame graph', kernelTest(), async () => {
  mkdirSync(OUT, { recursive: true });
  const browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 1000 });
    const external: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith(`http://127.0.0.1:${port}/`) && !r.url().startsWith('blob:')) external.push(r.url()); });
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
    // The lab's four services by their root pids (names get "(pid)" when two labs run at once).
    const st = JSON.parse(lab('status', '--json', '--interval', '1')) as LabStatus;
    const ids = [st.producer.pid, st.postgres.pid, st.loader.pid, st.redis.pid].map(String);
    try {
      await page.waitForFunction((want: string[]) => {
        const hot = document.querySelector('#graph .node.bottleneck');
        return /^loader(\(\d+\))?$/.test(hot?.getAttribute('data-service') ?? '') && want.every((id) => document.querySelector(`#graph .node[data-id="${id}"]`));
      }, { timeout: 40_000, polling: 500 }, ids);
    } finally {
      await page.screenshot({ path: join(OUT, 'serve-web.png'), fullPage: true });
    }
    const drawn = await page.$$eval('#graph .node', (ns) => ns.map((n) => [n.getAttribute('data-id'), n.getAttribute('data-service')]));
    const name = new Map(drawn.map(([id, n]) => [id, n]));
    const [producer, postgres, loader, redis] = ids.map((id) => name.get(id)!);
    assert.deepEqual([producer, postgres, loader, redis].map((n) => n.replace(/\(\d+\)$/, '')), ['python3', 'postgres', 'loader', 'redis-server'], JSON.stringify(drawn));
    const edges = await page.$$eval('#graph .edge', (es) => es.map((e) => `${e.getAttribute('data-from')}->${e.getAttribute('data-to')} ${e.textContent}`));
    assert.ok(edges.some((e) => e.startsWith(`${postgres}->${loader} `) && /B\/s/.test(e)), edges.join('\n'));
    assert.ok(edges.some((e) => e.startsWith(`${producer}->${postgres} `)), edges.join('\n'));
    assert.ok(edges.some((e) => e.startsWith(`${loader}->${redis} `)), edges.join('\n'));
    const verdict = await page.$eval('#verdict', (v) => v.textContent ?? '');
    assert.match(verdict, /pull-limited consumer/);
    assert.ok(await page.$$eval('#evidence li', (l) => l.length) > 0, 'evidence listed');
    assert.ok(await page.$('.share-row.bottleneck .bar span'), 'time-share bar of the loader');
    assert.ok(await page.$(`.share-row[data-id="${st.loader.pid}"] .bar span`), 'time-share bar of this lab\'s loader');

    // The flame graph button: 10 s of the loader, drawn by the SVG renderer.
    await page.select('#flame-service', loader);
    await page.click('#flame-button');
    await page.waitForFunction(() => document.body.dataset.flame !== undefined, { timeout: 40_000, polling: 500 });
    assert.equal(await page.evaluate(() => document.body.dataset.flame), 'done', await page.$eval('#flame-status', (s) => s.textContent ?? ''));
    const svg = (await get(`http://127.0.0.1:${port}/api/flamegraph?service=${encodeURIComponent(loader)}&seconds=1`)).body.toString();
    assert.match(svg, /^<\?xml|^<svg/);
    assert.match(svg, /CPU flame graph of loader/);
    await sleep(1000);
    await page.screenshot({ path: join(OUT, 'serve-web-flamegraph.png'), fullPage: true });
    assert.deepEqual(external, [], 'the page fetches nothing from elsewhere');
    console.log(`# screenshots: ${join(OUT, 'serve-web.png')}, ${join(OUT, 'serve-web-flamegraph.png')}`);
    const bad = await get(`http://127.0.0.1:${port}/api/flamegraph?service=nosuch`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /^service: no service 'nosuch' in the last diagnose window\n$/);
  } finally {
    await browser.close();
  }
});
