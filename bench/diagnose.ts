// diagnose's cost on a real pipeline: the lab's throughput (changes loaded/s, from its own
// counters) alone vs while `bpfkit diagnose -d 10` watches it, alternating runs; and the time
// from start to verdict. Run as root; starts and stops its own lab.
import { spawn, spawnSync } from 'node:child_process';
import { BPFKIT, fmt, median, pipelineLab } from './common.js';

const { lab, changesPerSec } = pipelineLab({ LAB_DIR: '/tmp/bpfkit-bench-lab', PG_PORT: '25732', REDIS_PORT: '26679' });
const RUNS = Number(process.env.RUNS ?? 3);
// A producer faster than the pipeline can carry, so throughput is bounded by CPU, not pacing.
const RATE = process.env.RATE ?? '20000';


async function underDiagnose(seconds: number): Promise<{ rate: number; verdictS: number }> {
  const t0 = Date.now();
  const proc = spawn(process.execPath, [BPFKIT, 'diagnose', '-d', String(seconds + 2), '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const done = new Promise<number>((res) => proc.on('close', () => res((Date.now() - t0) / 1000)));
  await new Promise((r) => setTimeout(r, 1500)); // let it attach
  const rate = changesPerSec(seconds);
  return { rate, verdictS: await done };
}

async function main() {
  console.log(`pipeline lab: producer ${RATE} rows/s, loader batch 5000; ${RUNS} alternating runs of 8 s`);
  lab('start', '--batch-size', '5000', '--rate', RATE);
  try {
    await new Promise((r) => setTimeout(r, 3000));
    const alone: number[] = [];
    const under: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      alone.push(changesPerSec(8));
      under.push((await underDiagnose(8)).rate);
    }
    const a = median(alone);
    const u = median(under);
    console.log(`changes loaded/s alone ${fmt(a, 0)}, under diagnose ${fmt(u, 0)}: slowdown ${fmt(a / u, 3)}x (target <= 1.05x)`);
  } finally {
    lab('stop');
  }
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BPFKIT, 'diagnose', '-d', '10', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  console.log(`diagnose -d 10: start to verdict ${fmt((Date.now() - t0) / 1000, 2)} s (target < 12 s)`);
}

main().catch((err) => { console.error(err); process.exit(1); });
