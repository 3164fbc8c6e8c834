// biolatency against a child doing exactly K direct 4 KiB writes and K reads on a loop-device
// ext4: the histograms count exactly the I/Os the kernel's disk statistics count.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { compileC, kernelTest, leftoverPrograms, runInKernel, runTool, startGatedChild, startTool } from './helpers.js';
import { diskStat, makeLoopFs, STORAGE_WORKLOAD, VM_EXT4, type LoopFs } from './storagefs.js';

interface Hist { disk?: string; major?: number; minor?: number; flags?: string; total: number; buckets: Array<{ low: number; high: number; count: number }> }
interface Rec { unit: string; histograms: Hist[] }
const parse = (stdout: string): Rec[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);

let fs: LoopFs | undefined;
const isRoot = process.getuid?.() === 0;
before(() => { if (isRoot) fs = makeLoopFs(); });
after(() => fs?.cleanup());

const K = 150;
let fileNo = 0;

/** Run biolatency ARGS while the child does K direct writes + K reads; return output and disk stat deltas. */
async function traced(args: string[], k = K) {
  const bin = compileC(STORAGE_WORKLOAD);
  const file = join(fs!.dir, `lat-${fileNo++}`);
  execFileSync('fallocate', ['-l', String(k * 4096), file]);
  const child = startGatedChild(bin, ['dio', file, String(k)]);
  const tool = startTool(['biolatency', ...args]);
  await tool.ready;
  const s0 = diskStat(fs!.name);
  child.go();
  assert.equal(await child.exited, 0);
  const s1 = diskStat(fs!.name);
  const run = await tool.stop('SIGINT');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(leftoverPrograms('biolat_'), []);
  return { run, reads: s1.reads - s0.reads, writes: s1.writes - s0.writes };
}

const total = (recs: Rec[], pred: (h: Hist) => boolean = () => true) =>
  recs.flatMap((r) => r.histograms).filter(pred).reduce((a, h) => a + h.total, 0);

test('biolatency -d LOOP counts exactly the I/Os of the disk (2K from the child)', kernelTest(), async () => {
  const { run, reads, writes } = await traced(['-d', fs!.name, '--json']);
  const recs = parse(run.stdout);
  assert.equal(reads + writes, 2 * K, `disk stat: ${reads} reads, ${writes} writes`);
  assert.equal(total(recs), 2 * K, run.stdout);
  for (const h of recs.flatMap((r) => r.histograms)) {
    assert.equal(h.buckets.reduce((a, b) => a + b.count, 0), h.total);
    for (const b of h.buckets) assert.ok(b.high >= b.low && (b.low === 0 || b.high === 2 * b.low - 1), JSON.stringify(b));
  }
  assert.equal(recs[0]!.unit, 'usecs');
});

test('biolatency -D: one histogram per disk; the loop device\'s holds exactly its I/Os', kernelTest(), async () => {
  const { run, reads, writes } = await traced(['-D', '--json']);
  const recs = parse(run.stdout);
  const mine = (h: Hist) => h.disk === fs!.name && h.major === fs!.major && h.minor === fs!.minor;
  assert.equal(total(recs, mine), reads + writes, run.stdout);
  assert.ok(reads + writes >= 2 * K);
});

test('biolatency -F -d LOOP: K in write histograms, K in read histograms', kernelTest(), async () => {
  const { run, reads, writes } = await traced(['-F', '-d', fs!.name, '--json']);
  const recs = parse(run.stdout);
  assert.equal(writes, K);
  assert.equal(reads, K);
  assert.equal(total(recs, (h) => /(^|-)Write$/.test(h.flags ?? '')), K, run.stdout);
  assert.equal(total(recs, (h) => /(^|-)Read$/.test(h.flags ?? '')), K, run.stdout);
  // Direct I/O writes are synchronous requests.
  assert.ok(recs.flatMap((r) => r.histograms).some((h) => /Sync-.*Write$|Sync-Write$/.test(h.flags ?? '')), run.stdout);
});

test('biolatency -Q -d LOOP: queued time included, same number of I/Os', kernelTest(), async () => {
  const { run, reads, writes } = await traced(['-Q', '-d', fs!.name, '--json', '--verbose']);
  assert.equal(total(parse(run.stdout)), reads + writes);
  assert.equal(reads + writes, 2 * K);
  assert.match(run.stderr, /biolatency: from tp_btf\/block_io_start \(queue \+ device time\)/);
});

test('biolatency text: BCC layout, counts add up, -m -T', kernelTest(), async () => {
  const { run } = await traced(['-d', fs!.name, '-T'], 64);
  const out = run.stdout;
  assert.match(out, /^Tracing block device I\/O\.\.\. Hit Ctrl-C to end\.$/m);
  assert.match(out, /^\d\d:\d\d:\d\d$/m);
  assert.match(out, /^ {5}usecs {15}: count {5}distribution$/m);
  const rows = [...out.matchAll(/^ {0,9}(\d+) -> (\d+) +: (\d+) +\|(\**) *\|$/gm)];
  assert.ok(rows.length > 0, out);
  assert.equal(rows.reduce((a, m) => a + Number(m[3]), 0), 128);
  const max = Math.max(...rows.map((m) => Number(m[3])));
  for (const m of rows) {
    assert.equal(m[4]!.length, Math.floor((40 * Number(m[3])) / max), m[0]);
    assert.equal(m[0]!.length, 10 + 4 + 10 + 3 + 8 + 2 + 40 + 1, `line width: ${m[0]}`);
  }
  assert.equal(rows[0]![1], '0');
  assert.equal(rows[0]![2], '1');
  const ms = await traced(['-d', fs!.name, '-m'], 16);
  assert.match(ms.run.stdout, /^ {5}msecs {15}: count {5}distribution$/m);
});

test('biolatency -i style: interval and count stop by themselves', kernelTest(), async () => {
  const run = await runTool(['biolatency', '--json', '0.3', '3'], { timeoutMs: 20_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(parse(run.stdout).length, 3);
  assert.deepEqual(leftoverPrograms('biolat_'), []);
});

test('biolatency bad input: one-line error, exit 2', kernelTest(), async () => {
  const cases: Array<[string[], RegExp]> = [
    [['biolatency', '-D', '-F'], /^bpfkit biolatency: can only use one of -D and -F$/],
    [['biolatency', '-d', 'nosuchdisk'], /^bpfkit biolatency: -d: no such disk 'nosuchdisk'/],
    [['biolatency', '-1'], /^bpfkit biolatency: interval: '-1' is not a duration/],
    [['biolatency', '0.05'], /^bpfkit biolatency: interval: at least 0.1 s, got '0.05'$/],
    [['biolatency', '1', 'x'], /^bpfkit biolatency: count: 'x' is not an integer$/],
  ];
  for (const [args, pattern] of cases) {
    const run = await runTool(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
    assert.match(run.stderr.trimEnd(), pattern);
  }
  assert.deepEqual(leftoverPrograms('biolat_'), []);
});

test('biolatency on Linux 6.1 (no block_io_start): counts equal the disk statistics, -Q from block_rq_insert', kernelTest(), async () => {
  const bin = compileC(STORAGE_WORKLOAD);
  const k = 40;
  // Two runs at once on the same I/O: default (issue -> complete) and -Q (insert -> complete).
  const { code, output } = await runInKernel(`
${VM_EXT4}
N=\${DEV#/dev/}
fallocate -l ${k * 4096} $D/mnt/f
BPFKIT_READY=1 timeout 200 node dist/src/cli/main.js biolatency --verbose -d $N --json > $D/out1 2> $D/err1 &
T1=$!
BPFKIT_READY=1 timeout 200 node dist/src/cli/main.js biolatency --verbose -Q -d $N --json > $D/out2 2> $D/err2 &
T2=$!
for i in $(seq 1 600); do grep -q BPFKIT_READY $D/err1 && grep -q BPFKIT_READY $D/err2 && break; sleep 0.2; done
# completed requests of every op: reads, writes, discards, flushes (fields 1, 5, 12, 16)
ios() { awk '{ print $1 + $5 + $12 + $16 }' /sys/block/$N/stat; }
read r0 x x x w0 rest < /sys/block/$N/stat; a0=$(ios)
${bin} dio $D/mnt/f ${k} <<< go
read r1 x x x w1 rest < /sys/block/$N/stat; a1=$(ios)
kill -INT $T1 $T2 || true
rc1=0; wait $T1 || rc1=$?
rc2=0; wait $T2 || rc2=$?
a2=$(ios)
echo "DISKIOS=$((a1 - a0)),$((a2 - a0)),$((r1 - r0)),$((w1 - w0))"
echo "TOOLEXIT=$rc1,$rc2"
sleep 1
echo "LEFT=$(bpftool prog show | grep -c biolat_ || true)"
grep -h -v -e '^libbpf' -e '^feature' $D/err1 $D/err2 || true
sed 's/^/OUT1 /' $D/out1
sed 's/^/OUT2 /' $D/out2
`);
  assert.equal(code, 0, output);
  assert.match(output, /^TOOLEXIT=0,0$/m, output);
  assert.match(output, /^LEFT=0$/m, output);
  assert.match(output, /biolatency: from tp_btf\/block_rq_issue \(device time\) to tp_btf\/block_rq_complete/, output);
  assert.match(output, /biolatency: from tp_btf\/block_rq_insert \(queue \+ device time\) to tp_btf\/block_rq_complete/, output);
  // The ground truth is the disk's own count of completed requests (/sys/block/DEV/stat), not the
  // workload's 2k direct I/Os: ext4 may add metadata or journal I/O of its own, and the journal's
  // cache flushes are requests too (seen: 86 requests for 80 reads and writes, the 6 flushes slow).
  // The tools ran a little longer than [r0, r1] (until SIGINT): they count between the disk's
  // delta up to r1 and up to r2 (after they exited).
  const [atStop, atExit, reads, writes] = /^DISKIOS=(\d+),(\d+),(\d+),(\d+)$/m.exec(output)!.slice(1).map(Number) as [number, number, number, number];
  assert.ok(reads >= k && writes >= k, `the workload's ${k} reads and ${k} writes reached the disk: ${reads} reads, ${writes} writes\n${output}`);
  const recs = (tag: string) => parse(output.split('\n').filter((l) => l.startsWith(`${tag} {`)).map((l) => l.slice(tag.length + 1)).join('\n'));
  for (const tag of ['OUT1', 'OUT2']) {
    const n = total(recs(tag));
    assert.ok(n >= atStop && n <= atExit, `${tag}: ${n} I/Os, the disk completed ${atStop} (${atExit} by the tools' exit)\n${output}`);
  }
});
