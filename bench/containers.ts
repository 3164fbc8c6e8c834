// The container filter's cost: dd bs=1 (2 syscalls per byte) in a cgroup named as Docker names
// a container, alone and under syscount with no filter, --container of its own container (every
// event checked and counted), --container of another one (every event checked and dropped) and
// -c of its cgroup. Same run, interleaved; prints ratios and BPF ns per syscall. Nothing here
// passes or fails.
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cgroup2Mount } from '../src/core/containers.js';
import { native } from '../src/core/libbpf.js';
import { fmt, median, startBpfkit } from './common.js';

const RUNS = Number(process.env.RUNS ?? 5);
const COUNT = Number(process.env.COUNT ?? 1000000);
const ID_IN = 'c0'.repeat(32);
const ID_OTHER = 'd0'.repeat(32);

/** run_time_ns and run_cnt per loaded program (by id) whose name starts with `prefix`. */
function programStats(prefix: string): Map<number, { ns: number; runs: number }> {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  const out = new Map<number, { ns: number; runs: number }>();
  for (const p of JSON.parse(r.stdout) as Array<{ id: number; name?: string; run_time_ns?: number; run_cnt?: number }>) {
    if (p.name?.startsWith(prefix)) out.set(p.id, { ns: p.run_time_ns ?? 0, runs: p.run_cnt ?? 0 });
  }
  return out;
}

/** BPF ns per event between two readings, over programs present in both (an earlier run's may linger). */
function perEventNs(before: Map<number, { ns: number; runs: number }>, after: Map<number, { ns: number; runs: number }>): number {
  let ns = 0;
  let runs = 0;
  for (const [id, a] of after) {
    const b = before.get(id);
    if (!b) continue;
    ns += a.ns - b.ns;
    runs += a.runs - b.runs;
  }
  return ns / Math.max(1, runs);
}

async function main() {
  const mount = cgroup2Mount();
  if (!mount) throw new Error('no cgroup2 mounted');
  const root = join(mount, `bpfkit-bench-${process.pid}`);
  const inside = join(root, `docker-${ID_IN}.scope`);
  const other = join(root, `docker-${ID_OTHER}.scope`);
  for (const d of [root, inside, other]) mkdirSync(d, { recursive: true });
  // A process must sit in each container for --container to find it.
  const holder = spawnSync('sh', ['-c', `sh -c 'echo $$ > ${other}/cgroup.procs; exec sleep 600' >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' });
  const holderPid = Number(holder.stdout.trim());
  const idle = spawnSync('sh', ['-c', `sh -c 'echo $$ > ${inside}/cgroup.procs; exec sleep 600' >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' });
  const idlePid = Number(idle.stdout.trim());
  await new Promise((r) => setTimeout(r, 200));
  const dd = () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('sh', ['-c', `echo $$ > ${inside}/cgroup.procs && exec dd if=/dev/zero of=/dev/null bs=1 count=${COUNT}`], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error('dd failed');
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const configs: Array<[string, string[] | undefined]> = [
    ['workload alone', undefined],
    ['syscount (no filter)', ['syscount']],
    ['syscount --container (its own)', ['syscount', '--container', ID_IN.slice(0, 12)]],
    ['syscount --container (another)', ['syscount', '--container', ID_OTHER.slice(0, 12)]],
    ['syscount -c (its cgroup)', ['syscount', '-c', inside]],
  ];
  const times = new Map<string, number[]>(configs.map(([n]) => [n, []]));
  const perEvent = new Map<string, number>();
  try {
    console.log(`workload: dd bs=1 count=${COUNT} (2 syscalls per byte) inside ${inside.replace(mount, '')}, median of ${RUNS} runs, configurations interleaved`);
    for (let i = 0; i < RUNS; i++) {
      for (const [name, args] of configs) {
        const bg = args ? await startBpfkit(args) : undefined;
        times.get(name)!.push(dd());
        await bg?.stop();
      }
    }
    for (const [name, args] of configs) {
      if (!args) continue;
      const bg = await startBpfkit(args);
      const fd = native.bpf_enable_stats(0) as number;
      const before = programStats('syscount_');
      dd();
      const after = programStats('syscount_');
      if (fd >= 0) native.close(fd);
      await bg.stop();
      perEvent.set(name, perEventNs(before, after));
    }
  } finally {
    spawnSync('kill', [String(holderPid), String(idlePid)]);
    await new Promise((r) => setTimeout(r, 200));
    for (const d of [inside, other, root]) { try { rmdirSync(d); } catch { /* busy */ } }
  }
  const alone = median(times.get('workload alone')!);
  const nofilter = median(times.get('syscount (no filter)')!);
  console.log(`\n${'configuration'.padEnd(34)} ${'time (s)'.padStart(9)} ${'vs alone'.padStart(9)} ${'vs no filter'.padStart(13)} ${'BPF ns/event'.padStart(13)}`);
  for (const [name] of configs) {
    const t = median(times.get(name)!);
    const ns = perEvent.get(name);
    console.log(`${name.padEnd(34)} ${fmt(t, 3).padStart(9)} ${(fmt(t / alone) + 'x').padStart(9)} ${(fmt(t / nofilter) + 'x').padStart(13)} ${(ns === undefined ? '' : fmt(ns, 1)).padStart(13)}`);
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
