// biotop against a child doing exactly K direct 4 KiB writes and K reads on a loop-device ext4.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { compileC, kernelTest, leftoverPrograms, runInKernel, runTool, startGatedChild, startTool } from './helpers.js';
import { diskStat, makeLoopFs, STORAGE_WORKLOAD, VM_EXT4, type LoopFs } from './storagefs.js';

interface Row { pid: number; comm: string; d: 'R' | 'W'; maj: number; min: number; disk: string; io: number; bytes: number; kbytes: number; avgms: number }
const parse = (stdout: string): Row[] => stdout.trim().split('\n').filter(Boolean).flatMap((l) => (JSON.parse(l) as { rows: Row[] }).rows);

function sum(rows: Row[], pred: (r: Row) => boolean): { io: number; bytes: number } {
  return rows.filter(pred).reduce((a, r) => ({ io: a.io + r.io, bytes: a.bytes + r.bytes }), { io: 0, bytes: 0 });
}

let fs: LoopFs | undefined;
const isRoot = process.getuid?.() === 0;
before(() => { if (isRoot) fs = makeLoopFs(); });
after(() => fs?.cleanup());

const K = 200;

test('biotop -p CHILD: exactly K 4 KiB writes and K reads on the loop device, for that PID; stops when it exits', kernelTest(), async () => {
  const bin = compileC(STORAGE_WORKLOAD);
  // Allocated beforehand (by us), so the child's first write reads no allocation bitmaps.
  const file = join(fs!.dir, 'dio-a');
  execFileSync('fallocate', ['-l', String(K * 4096), file]);
  const child = startGatedChild(bin, ['dio', file, String(K)]);
  const tool = startTool(['biotop', '-C', '-p', String(child.proc.pid), '-r', '100', '--json', '60']);
  await tool.ready;
  child.go();
  assert.equal(await child.exited, 0);
  // The process it follows is gone: biotop says so, prints its last report and stops by itself.
  const run = await tool.done;
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, `bpfkit biotop: process ${child.proc.pid} exited\n`);
  assert.deepEqual(leftoverPrograms('biotop_'), []);
  const rows = parse(run.stdout);
  assert.ok(rows.every((r) => r.pid === child.proc.pid), `only the child: ${run.stdout}`);
  const onLoop = (dir: string) => (r: Row) => r.d === dir && r.maj === fs!.major && r.min === fs!.minor;
  const w = sum(rows, onLoop('W'));
  const r = sum(rows, onLoop('R'));
  // The child's only block I/O is its own direct I/O: the file's blocks and metadata were
  // allocated and cached before it started.
  assert.equal(w.io, K, run.stdout);
  assert.equal(w.bytes, K * 4096);
  assert.equal(r.io, K, run.stdout);
  assert.equal(r.bytes, K * 4096);
  const row = rows.find(onLoop('W'))!;
  assert.equal(row.disk, fs!.name);
  assert.match(row.comm, /^w-[0-9a-f]+/);
  assert.ok(row.avgms > 0 && row.avgms < 1000, `avg ${row.avgms} ms`);
});

test('biotop without -p: the loop device rows add up to the kernel\'s own disk statistics', kernelTest(), async () => {
  const bin = compileC(STORAGE_WORKLOAD);
  const child = startGatedChild(bin, ['dio', join(fs!.dir, 'dio-b'), String(K)]);
  const tool = startTool(['biotop', '-C', '-r', '10000', '--json', '60']);
  await tool.ready;
  const s0 = diskStat(fs!.name);
  child.go();
  assert.equal(await child.exited, 0);
  const s1 = diskStat(fs!.name);
  const run = await tool.stop('SIGINT');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(leftoverPrograms('biotop_'), []);
  const rows = parse(run.stdout).filter((r) => r.maj === fs!.major && r.min === fs!.minor);
  const w = sum(rows, (r) => r.d === 'W' && r.bytes > 0);
  const r = sum(rows, (r) => r.d === 'R');
  assert.equal(w.io, s1.writes - s0.writes, run.stdout);
  assert.equal(w.bytes, (s1.writeSectors - s0.writeSectors) * 512);
  assert.equal(r.io, s1.reads - s0.reads, run.stdout);
  assert.equal(r.bytes, (s1.readSectors - s0.readSectors) * 512);
  assert.ok(w.io >= K && r.io >= K);
  assert.equal(sum(rows, (x) => x.pid === child.proc.pid && x.d === 'W').io, K);
});

test('biotop text output: BCC columns, the child\'s rows', kernelTest(), async () => {
  const bin = compileC(STORAGE_WORKLOAD);
  const file = join(fs!.dir, 'dio-c');
  execFileSync('fallocate', ['-l', String(64 * 4096), file]);
  const child = startGatedChild(bin, ['dio', file, '64']);
  const tool = startTool(['biotop', '-C', '-p', String(child.proc.pid), '60']);
  await tool.ready;
  child.go();
  assert.equal(await child.exited, 0);
  const run = await tool.stop('SIGINT');
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Tracing\.\.\. Output every 60 secs\. Hit Ctrl-C to end$/m);
  assert.match(run.stdout, /^\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+\/\d+ \d+$/m);
  assert.match(run.stdout, /^PID {5}COMM {13}D MAJ MIN DISK {7}I\/O  Kbytes  AVGms$/m);
  const pid = String(child.proc.pid).padEnd(7);
  const disk = fs!.name.padEnd(8);
  for (const d of ['W', 'R']) {
    const re = new RegExp(`^${pid} w-[0-9a-f]+ +${d} ${String(fs!.major).padEnd(3)} ${String(fs!.minor).padEnd(3)} ${disk} +64 +256 +\\d+\\.\\d\\d$`, 'm');
    assert.match(run.stdout, re);
  }
  assert.deepEqual(leftoverPrograms('biotop_'), []);
});

test('biotop bad input: one-line error, exit 2', kernelTest(), async () => {
  const cases: Array<[string[], RegExp]> = [
    [['biotop', '-p', '999999'], /^bpfkit biotop: no such process: 999999$/],
    [['biotop', '-s', 'size'], /^bpfkit biotop: -s: unknown sort key 'size'/],
    [['biotop', '-r', '0'], /^bpfkit biotop: -r ROWS: 0 is out of range/],
    [['biotop', '0'], /^bpfkit biotop: interval: must be more than 0, got '0'$/],
    [['biotop', '0.01'], /^bpfkit biotop: interval: at least 0.1 s, got '0.01'$/],
    [['biotop', '1', '2', '3'], /^bpfkit biotop: unexpected argument '3'/],
  ];
  for (const [args, pattern] of cases) {
    const run = await runTool(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
    assert.match(run.stderr.trimEnd(), pattern);
  }
});

test('biotop on Linux 6.1 (no block_io_start): block_bio_queue fallback, exact counts', kernelTest(), async () => {
  const bin = compileC(STORAGE_WORKLOAD);
  const k = 50;
  const { code, output } = await runInKernel(`
${VM_EXT4}
fallocate -l ${k * 4096} $D/mnt/f
echo "DEVNUM=$(cat /sys/class/block/\${DEV#/dev/}/dev)"
BPFKIT_READY=1 timeout 200 node dist/src/cli/main.js biotop --verbose -C -r 1000 --json 600 > $D/out 2> $D/err &
T=$!
for i in $(seq 1 600); do grep -q BPFKIT_READY $D/err && break; kill -0 $T 2>/dev/null || break; sleep 0.2; done
${bin} dio $D/mnt/f ${k} <<< go &
W=$!
wait $W
echo "CHILD=$W"
kill -INT $T || true
rc=0; wait $T || rc=$?
echo "TOOLEXIT=$rc"
sleep 1
echo "LEFT=$(bpftool prog show | grep -c biotop_ || true)"
grep -v -e '^libbpf' -e '^feature' $D/err || true
cat $D/out
`);
  assert.equal(code, 0, output);
  assert.match(output, /^TOOLEXIT=0$/m, output);
  assert.match(output, /^LEFT=0$/m, output);
  assert.match(output, /submitter from tp_btf\/block_bio_queue/, output);
  const child = Number(/^CHILD=(\d+)$/m.exec(output)![1]);
  const [major, minor] = /^DEVNUM=(\d+):(\d+)$/m.exec(output)!.slice(1).map(Number);
  const rows = parse(output.split('\n').filter((l) => l.startsWith('{')).join('\n'));
  const mine = (d: string) => (r: Row) => r.pid === child && r.d === d && r.maj === major && r.min === minor;
  assert.deepEqual(sum(rows, mine('W')), { io: k, bytes: k * 4096 }, output);
  assert.deepEqual(sum(rows, mine('R')), { io: k, bytes: k * 4096 }, output);
});
