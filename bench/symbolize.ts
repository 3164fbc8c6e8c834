// Benchmark: symbolize 10,000 distinct user stacks of a live process mapping a large binary, including
// the first parse of its ELF symbols, and (when readable) 10,000 kernel stacks.
// Usage: [BENCH_PID=pid] node dist/bench/symbolize.js [BINARY] [STACKS] [DEPTH]
// Default BINARY: the node executable running this script (~100 MB with a full .symtab), mapped by this
// very process. For another binary (e.g. a big shared library), set BENCH_PID to a live process that
// maps it. Addresses are random return addresses inside random functions, so there is no locality
// (a worst case for the binary search). Prints numbers; it is not a test.

import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { ElfFile, KernelSymbols, Symbolizer, buildStack, readMaps } from '../src/core/symbols/index.js';
import { renderFlameGraph } from '../src/render/flamegraph.js';
import { renderFolded } from '../src/render/folded.js';
import { renderSpeedscope } from '../src/render/speedscope.js';

const binary = process.argv[2] ?? process.execPath;
const nStacks = Number(process.argv[3] ?? 10_000);
const depth = Number(process.argv[4] ?? 24);

function ms(t0: number): string {
  return (performance.now() - t0).toFixed(1) + ' ms';
}

// Deterministic PRNG.
let seed = 12345;
function rand(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
}

// 1. Pick function addresses (ELF vaddrs) with a separate parse, so the timed run parses from scratch.
const probe = ElfFile.open(binary);
const syms = probe.symbols;
const funcs: number[] = [];
for (let i = 0; i < syms.size; i++) if (syms.ends[i]! - syms.starts[i]! >= 8) funcs.push(i);
console.log(`binary: ${binary} (${(statSync(binary).size / 1e6).toFixed(1)} MB), ${syms.size} symbols (${probe.symbolSource}), ${funcs.length} usable`);

// 2. Runtime addresses: this process must map the binary; node maps itself. For another binary, read
//    the mapping of a live process given as BENCH_PID.
const pid = Number(process.env.BENCH_PID ?? process.pid);
const maps = readMaps(pid).filter((m) => m.path === binary || (binary === process.execPath && m.path === process.execPath));
if (maps.length === 0) {
  console.log(`process ${pid} does not map ${binary}; run with BENCH_PID=<pid of a process using it>`);
  process.exit(1);
}
function runtime(vaddr: number): bigint | undefined {
  const off = probe.vaddrToFileOffset(vaddr);
  if (off === undefined) return undefined;
  const m = maps.find((x) => off >= x.offset && off < x.offset + (x.end - x.start));
  return m ? BigInt(m.start + (off - m.offset)) : undefined;
}

const stacks: bigint[][] = [];
const expected: string[][] = [];
const seen = new Set<string>();
while (stacks.length < nStacks) {
  const st: bigint[] = [];
  const names: string[] = [];
  for (let d = 0; d < depth; d++) {
    const i = funcs[Math.floor(rand() * funcs.length)]!;
    const start = syms.starts[i]!;
    const size = syms.ends[i]! - start;
    // Return addresses land after the first byte of a function.
    const a = runtime(start + 1 + Math.floor(rand() * (size - 1)));
    if (a === undefined) continue;
    st.push(a);
    names.push(syms.nameAt(i));
  }
  const key = st.join(',');
  if (seen.has(key) || st.length === 0) continue;
  seen.add(key);
  stacks.push(st);
  expected.push(names);
}
const frames = stacks.reduce((a, s) => a + s.length, 0);

// Wall and CPU time of a phase (CPU time is steadier on a busy machine).
function timed<T>(fn: () => T): { value: T; wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const value = fn();
  const wall = performance.now() - w0;
  const c = process.cpuUsage(c0);
  return { value, wall, cpu: (c.user + c.system) / 1000 };
}
const fmt = (t: { wall: number; cpu: number }) => `${t.wall.toFixed(1).padStart(7)} ms wall ${t.cpu.toFixed(1).padStart(7)} ms cpu`;

// 3. Timed: a fresh Symbolizer (empty ELF cache): snapshot + first parse + all lookups.
const sym = new Symbolizer();
const tSnap = timed(() => sym.snapshotProcess(pid));
const tFirst = timed(() => sym.symbolizeUser(pid, stacks[0]!));
const tRest = timed(() => {
  const out = [tFirst.value];
  for (let i = 1; i < stacks.length; i++) out.push(sym.symbolizeUser(pid, stacks[i]!));
  return out;
});
const out = tRest.value;
const tAll = { wall: tSnap.wall + tFirst.wall + tRest.wall, cpu: tSnap.cpu + tFirst.cpu + tRest.cpu };
let wrong = 0;
for (let i = 0; i < stacks.length; i++) {
  const got = out[i]!;
  for (let d = 0; d < got.length; d++) if (got[d]!.name !== expected[i]![d]) wrong++;
}
console.log(`user: ${stacks.length} distinct stacks, ${frames} frames`);
console.log(`  snapshot (maps + perf map):  ${fmt(tSnap)}`);
console.log(`  first stack (ELF parse):     ${fmt(tFirst)}`);
console.log(`  other ${stacks.length - 1} stacks:          ${fmt(tRest)}`);
console.log(`  total incl. parse:           ${fmt(tAll)}   (target < 1000 ms)`);
console.log(`  mismatched frames:           ${wrong} of ${frames}`);

// 4. ELF already parsed (shared cache), nothing memoized: pure lookup cost; then memoized repeats.
const sym2 = new Symbolizer({ elfCache: sym.elfCache });
sym2.snapshotProcess(pid);
const tLook = timed(() => { for (const s of stacks) sym2.symbolizeUser(pid, s); });
const tMemo = timed(() => { for (const s of stacks) sym2.symbolizeUser(pid, s); });
console.log(`  lookups, ELF cached:         ${fmt(tLook)} = ${((tLook.wall * 1e6) / frames).toFixed(0)} ns/frame`);
console.log(`  repeated frames (memo):      ${fmt(tMemo)} = ${((tMemo.wall * 1e6) / frames).toFixed(0)} ns/frame`);

// Baseline in the same invocation: binutils' nm listing the same binary's symbols, sorted.
const tNm = timed(() => {
  try {
    execFileSync('nm', ['-n', '--defined-only', binary], { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
    return true;
  } catch {
    return false;
  }
});
if (tNm.value) {
  console.log(`  baseline nm -n (list only):  ${tNm.wall.toFixed(1).padStart(7)} ms wall`);
  console.log(`  ratio total / nm:            ${(tAll.wall / tNm.wall).toFixed(2)}`);
}

// 5. Kernel stacks.
let t0 = performance.now();
const k = KernelSymbols.load();
const tK = performance.now() - t0;
if (k.available) {
  const text = readFileSync('/proc/kallsyms', 'latin1');
  const addrs = [...text.matchAll(/^([0-9a-f]+) [tT] /gm)].map((m) => BigInt('0x' + m[1]));
  const kstacks: bigint[][] = [];
  for (let i = 0; i < nStacks; i++) {
    const st: bigint[] = [];
    for (let d = 0; d < 12; d++) st.push(addrs[Math.floor(rand() * addrs.length)]! + 1n + BigInt(Math.floor(rand() * 16)));
    kstacks.push(st);
  }
  const ks = new Symbolizer({ kernel: k });
  t0 = performance.now();
  let unknown = 0;
  for (const s of kstacks) for (const f of ks.symbolizeKernel(s)) if (f.name === '[unknown]') unknown++;
  const tKs = performance.now() - t0;
  console.log(`kernel: kallsyms load ${tK.toFixed(1)} ms (${k.size} symbols); ${nStacks} stacks x 12 frames in ${tKs.toFixed(1)} ms (${unknown} unknown)`);
} else {
  console.log('kernel: kallsyms addresses hidden (not root?)');
}

// 6. Rendering the 10k stacks.
const labelled = out.map((fs, i) => ({ stack: buildStack(i % 3 ? 'node' : 'worker', fs, []), count: 1 + (i % 7) }));
t0 = performance.now();
const folded = renderFolded(labelled);
const tFold = ms(t0);
t0 = performance.now();
const svg = renderFlameGraph(labelled, { title: 'bench' });
const tSvg = ms(t0);
t0 = performance.now();
const ss = renderSpeedscope(labelled);
const tSs = ms(t0);
console.log(`render: folded ${tFold} (${(folded.length / 1e6).toFixed(1)} MB), svg ${tSvg} (${(svg.length / 1e6).toFixed(1)} MB), speedscope ${tSs} (${(ss.length / 1e6).toFixed(1)} MB)`);
