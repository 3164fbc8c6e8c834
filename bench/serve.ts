// serve's cost on a real pipeline: the lab's throughput (changes loaded/s, its own counters) alone
// vs while `bpfkit serve` runs and is scraped every second, alternating runs; then serve's RSS
// over a longer run (MINUTES, default 10). Run as root; starts and stops its own lab.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BPFKIT, fmt, median, pipelineLab } from './common.js';

const { lab, changesPerSec } = pipelineLab({ LAB_DIR: '/tmp/bpfkit-bench-serve-lab', PG_PORT: '25932', REDIS_PORT: '26879' });
const RUNS = Number(process.env.RUNS ?? 3);
const RATE = process.env.RATE ?? '20000';
const MINUTES = Number(process.env.MINUTES ?? 10);
const PORT = Number(process.env.PORT ?? 19436);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** serve with --web, scraped every second like a Prometheus would. */
async function withServe<T>(f: (pid: number) => Promise<T>): Promise<T> {
  const proc = spawn(process.execPath, [BPFKIT, 'serve', '--listen', `127.0.0.1:${PORT}`, '--web', '-i', '10'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BPFKIT_READY: '1' } });
  await new Promise<void>((res, rej) => {
    let err = '';
    proc.stderr!.on('data', (d) => { err += d; if (err.includes('BPFKIT_READY')) res(); });
    proc.on('close', () => rej(new Error(err)));
  });
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      try { await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).text(); } catch { /* next time */ }
      await sleep(1000);
    }
  })();
  try {
    return await f(proc.pid!);
  } finally {
    scraping = false;
    await scraper;
    proc.kill('SIGTERM');
    await new Promise((r) => proc.on('close', r));
  }
}

async function main() {
  console.log(`pipeline lab: producer ${RATE} rows/s, loader batch 5000; ${RUNS} alternating runs of 8 s`);
  lab('start', '--batch-size', '5000', '--rate', RATE);
  try {
    await sleep(3000);
    const alone: number[] = [];
    const under: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      alone.push(changesPerSec(8));
      under.push(await withServe(async () => { await sleep(1500); return changesPerSec(8); }));
    }
    const a = median(alone);
    const u = median(under);
    console.log(`changes loaded/s alone ${fmt(a, 0)}, under serve ${fmt(u, 0)}: slowdown ${fmt(a / u, 3)}x (target <= 1.05x)`);
    await withServe(async (pid) => {
      const samples: number[] = [];
      for (let m = 0; m < MINUTES; m++) {
        await sleep(60_000);
        samples.push(rss(pid));
        console.log(`serve RSS after ${m + 1} min: ${fmt(samples.at(-1)!, 1)} MB`);
      }
    });
  } finally {
    lab('stop');
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
