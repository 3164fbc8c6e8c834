// syscount overhead: a syscall-heavy workload alone, under an empty sys_enter/sys_exit program
// (the floor), under bpfkit syscount (-L), and under libbpf-tools' syscount where it runs.
// Prints ratios to the workload alone; nothing here passes or fails.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { BpfObject, bpfObjectPath } from '../src/core/bpf.js';
import { native } from '../src/core/libbpf.js';
import { ensureTracefs } from '../src/core/features.js';
import { fmt, median, startBackground, startBpfkit, timeCommand, type Background } from './common.js';

const RUNS = Number(process.env.RUNS ?? 5);
const DD = ['if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${process.env.COUNT ?? 1000000}`];
const workload = () => timeCommand('dd', DD);

/** run_time_ns and run_cnt per loaded program (by id) whose name starts with `prefix`. */
function programStats(prefix: string): Map<number, { ns: number; runs: number }> {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  const out = new Map<number, { ns: number; runs: number }>();
  for (const p of JSON.parse(r.stdout) as Array<{ id: number; name?: string; run_time_ns?: number; run_cnt?: number }>) {
    if (p.name?.startsWith(prefix)) out.set(p.id, { ns: p.run_time_ns ?? 0, runs: p.run_cnt ?? 0 });
  }
  return out;
}

/**
 * BPF time per syscall between two readings: programs of an earlier run may still be listed
 * while the kernel frees them, so only programs present in both readings count.
 */
function costPerSyscall(before: Map<number, { ns: number; runs: number }>, after: Map<number, { ns: number; runs: number }>): number {
  let ns = 0;
  let runs = 0;
  for (const [id, a] of after) {
    const b = before.get(id);
    if (!b) continue;
    ns += a.ns - b.ns;
    runs = Math.max(runs, a.runs - b.runs);
  }
  return ns / Math.max(1, runs);
}

/** ns of BPF program time per syscall (all programs of a configuration), from BPF stats. */
const perSyscallNs = new Map<string, number>();

async function under(start: () => Promise<Background | { stop(): Promise<void> }>, name?: string, prefix?: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const bg = await start();
    times.push(workload());
    await bg.stop();
  }
  if (name && prefix) {
    // One more run with BPF run-time stats on (they cost time themselves, so not during timing).
    const bg = await start();
    const statsFd = native.bpf_enable_stats(0) as number;
    const before = programStats(prefix);
    workload();
    if (statsFd >= 0) {
      perSyscallNs.set(name, costPerSyscall(before, programStats(prefix)));
      native.close(statsFd);
    }
    await bg.stop();
  }
  return median(times);
}

function loadFloor(): { stop(): Promise<void> } {
  const obj = BpfObject.openFile(bpfObjectPath('floor'));
  obj.load();
  obj.attachAll();
  return { stop: async () => obj.close() };
}

async function main() {
  console.log(`workload: dd ${DD.join(' ')} (2 syscalls per byte), median of ${RUNS} runs`);
  const alone = median(Array.from({ length: RUNS }, workload));
  const rows: Array<[string, number | undefined]> = [['workload alone', alone]];
  rows.push(['floor: empty sys_enter+sys_exit', await under(async () => loadFloor(), 'floor', 'floor_')]);
  rows.push(['bpfkit syscount', await under(() => startBpfkit(['syscount']), 'bpfkit syscount', 'syscount_')]);
  rows.push(['bpfkit syscount -L', await under(() => startBpfkit(['syscount', '-L']), 'bpfkit syscount -L', 'syscount_')]);
  if (existsSync('/usr/sbin/syscount')) {
    ensureTracefs();
    // stdbuf: its banner must not sit in a stdio buffer (it tells us the programs are attached).
    const lt = (args: string[]) => startBackground('stdbuf', ['-oL', '/usr/sbin/syscount', ...args], (o) => o.includes('Tracing'));
    try {
      rows.push(['libbpf-tools syscount', await under(() => lt([]))]);
      rows.push(['libbpf-tools syscount -L', await under(() => lt(['-L']))]);
    } catch (err) {
      console.log(`libbpf-tools syscount did not run: ${(err as Error).message.split('\n')[0]}`);
    }
  } else {
    console.log('libbpf-tools not installed (apt-get install libbpf-tools): skipped');
  }
  const floor = rows[1]![1]!;
  console.log(`\n${'configuration'.padEnd(34)} ${'time (s)'.padStart(9)} ${'vs alone'.padStart(9)} ${'vs floor'.padStart(9)}`);
  for (const [name, t] of rows) {
    if (t === undefined) continue;
    console.log(`${name.padEnd(34)} ${fmt(t, 3).padStart(9)} ${(fmt(t / alone) + 'x').padStart(9)} ${(fmt(t / floor) + 'x').padStart(9)}`);
  }

  if (perSyscallNs.size) {
    console.log('\nBPF program time per syscall event (kernel BPF stats, all programs of the configuration; less noisy than wall time):');
    for (const [name, ns] of perSyscallNs) console.log(`  ${name.padEnd(32)} ${fmt(ns, 1).padStart(7)} ns`);
  }

  const readyMs: number[] = [];
  let rss = 0;
  for (let i = 0; i < RUNS; i++) {
    const bg = await startBpfkit(['syscount', '-L', '-P']);
    readyMs.push(bg.readyMs);
    timeCommand('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=200000']);
    rss = Math.max(rss, bg.peakRssKiB());
    await bg.stop();
  }
  console.log(`\nbpfkit syscount -LP: start to attached ${fmt(median(readyMs), 0)} ms (median of ${RUNS}), peak RSS ${fmt(rss / 1024, 1)} MiB`);
}

main().catch((err) => { console.error(err); process.exit(1); });
