// fsslower / ext4slower against a child with known file operations on a loop-device ext4 and
// on tmpfs: every operation on the ext4 file is reported with its exact bytes, offset and name,
// none on tmpfs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { compileC, kernelTest, leftoverPrograms, runInKernel, runTool, startGatedChild, startTool } from './helpers.js';
import { makeLoopFs, STORAGE_WORKLOAD, VM_EXT4, type LoopFs } from './storagefs.js';

// JSON keys are the text columns (T -> t, FILENAME -> filename), plus offset and latency_us exact
interface Ev { comm: string; pid: number; t: string; bytes: number; offset: number; latency_us: number; filename: string; end_us: number }
const parse = (stdout: string): Ev[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev & { type?: string })
  .filter((r) => r.type !== 'summary' && r.type !== 'lost');

let fs: LoopFs | undefined;
let shm: string | undefined;
const isRoot = process.getuid?.() === 0;
before(() => {
  if (!isRoot) return;
  fs = makeLoopFs();
  shm = mkdtempSync('/dev/shm/bpfkit-fsslower-');
});
after(() => {
  fs?.cleanup();
  if (shm) rmSync(shm, { recursive: true, force: true });
});

const N = 20;
let fileNo = 0;

interface Op { type: string; bytes: number; offset: number; file: string }

/** The operations the workload does on one file, in order (see STORAGE_WORKLOAD). */
function expected(name: string): Array<Op> {
  const out: Array<Op> = [{ type: 'O', bytes: 0, offset: 0, file: name }];
  let off = 0;
  for (let i = 0; i < N; i++) {
    out.push({ type: 'W', bytes: (i + 1) * 1000, offset: off, file: name });
    off += (i + 1) * 1000;
  }
  out.push({ type: 'W', bytes: 8192, offset: 1 << 20, file: name });
  out.push({ type: 'S', bytes: 0, offset: 0, file: name });
  out.push({ type: 'O', bytes: 0, offset: 0, file: name });
  for (let i = 0; i < 3; i++) out.push({ type: 'R', bytes: 4096, offset: i * 4096, file: name });
  return out;
}

async function traced(args: (pid: number) => string[]) {
  const bin = compileC(STORAGE_WORKLOAD);
  const name = `fs-${fileNo++}`;
  const child = startGatedChild(bin, ['fs', join(fs!.dir, name), String(N), join(shm!, name)]);
  const pid = child.proc.pid!;
  const tool = startTool(args(pid));
  await tool.ready;
  child.go();
  assert.equal(await child.exited, 0);
  const run = await tool.stop('SIGINT');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(leftoverPrograms('fsslower_'), []);
  return { run, pid, name };
}

test('fsslower -t ext4 -m 0 -p CHILD: every operation on the ext4 file, exact bytes and offsets; none on tmpfs', kernelTest(), async () => {
  const { run, pid, name } = await traced((pid) => ['fsslower', '-t', 'ext4', '-m', '0', '-p', String(pid), '--json']);
  const evs = parse(run.stdout);
  assert.ok(evs.every((e) => e.pid === pid), 'only the child');
  const mine = evs.filter((e) => e.filename === name);
  // Both files have the same name: the tmpfs one must not appear, so exactly one set of ops.
  assert.deepEqual(mine.map(({ t, bytes, offset, filename }) => ({ type: t, bytes, offset, file: filename })), expected(name));
  for (const e of mine) {
    assert.match(e.comm, /^w-[0-9a-f]+/);
    assert.ok(e.latency_us >= 0 && e.latency_us < 5_000_000, `latency ${e.latency_us}`);
  }
  // The fsync writes the data through the loop device: it takes measurable time.
  assert.ok(mine.find((e) => e.t === 'S')!.latency_us > 1, JSON.stringify(mine));
});

test('ext4slower -p CHILD 0 (positional MIN_MS): same operations, text columns', kernelTest(), async () => {
  const { run, pid, name } = await traced((pid) => ['ext4slower', '-p', String(pid), '0']);
  const lines = run.stdout.split('\n');
  assert.equal(lines[0], 'Tracing ext4 operations');
  assert.match(lines[1]!, /^TIME {5}COMM {11}PID {4}T BYTES {3}OFF_KB {3}LAT\(ms\) FILENAME$/);
  const rows = lines.filter((l) => l.endsWith(` ${name}`));
  const exp = expected(name);
  assert.equal(rows.length, exp.length, run.stdout);
  rows.forEach((row, i) => {
    const e = exp[i]!;
    const re = new RegExp(`^\\d\\d:\\d\\d:\\d\\d w-[0-9a-f]{12} ${String(pid).padEnd(6)} ${e.type} ${String(e.bytes).padEnd(7)} ${String(Math.floor(e.offset / 1024)).padEnd(8)} +\\d+\\.\\d\\d ${name}$`);
    assert.match(row, re);
  });
});

test('ext4slower --csv: BCC\'s CSV columns with bytes, offset in bytes, latency in us', kernelTest(), async () => {
  const { run, pid, name } = await traced((pid) => ['ext4slower', '--csv', '-p', String(pid), '0']);
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines[0], 'ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE');
  const rows = lines.slice(1).filter((l) => l.endsWith(`,${name}`)).map((l) => l.split(','));
  assert.deepEqual(rows.map((r) => [r[2], r[3], r[4], r[5], r[7]]), expected(name).map((e) => [String(pid), e.type, String(e.bytes), String(e.offset), name]));
  for (const r of rows) assert.match(r[6]!, /^\d+$/);
});

test('a threshold above the operations\' latency shows none of them', kernelTest(), async () => {
  const { run, name } = await traced((pid) => ['ext4slower', '-p', String(pid), '--json', '5000']);
  assert.deepEqual(parse(run.stdout).filter((e) => e.filename === name), []);
  const zero = await traced((pid) => ['ext4slower', '-p', String(pid), '--json', '-m', '0']);
  assert.equal(parse(zero.run.stdout).filter((e) => e.filename === zero.name).length, expected(zero.name).length);
});

test('fsslower -t tmpfs sees the tmpfs file and not the ext4 one', kernelTest(), async () => {
  const { run, name } = await traced((pid) => ['fsslower', '-t', 'tmpfs', '-p', String(pid), '--json', '0']);
  const evs = parse(run.stdout).filter((e) => e.filename === name);
  assert.deepEqual(evs.map(({ t, bytes, offset, filename }) => ({ type: t, bytes, offset, file: filename })), expected(name));
});

test('fsslower bad input: one-line error, exit 2', kernelTest(), async () => {
  const cases: Array<[string[], RegExp]> = [
    [['fsslower', '-t', 'nosuchfs'], /^bpfkit fsslower: unknown file system type 'nosuchfs' \(not in \/proc\/filesystems\)$/],
    [['fsslower'], /^bpfkit fsslower: -t FSTYPE is required/],
    [['ext4slower', '-1'], /^bpfkit fsslower: MIN_MS: must be >= 0, got -1$/],
    [['ext4slower', '-m', '-5'], /^bpfkit fsslower: MIN_MS: must be >= 0, got -5$/],
    [['ext4slower', 'ten'], /^bpfkit fsslower: MIN_MS: 'ten' is not a number$/],
    [['ext4slower', '-p', '999999'], /^bpfkit fsslower: no such process: 999999$/],
    [['ext4slower', '1', '2'], /^bpfkit fsslower: unexpected argument '2'/],
  ];
  for (const [args, pattern] of cases) {
    const run = await runTool(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
    assert.match(run.stderr.trimEnd(), pattern);
  }
  assert.deepEqual(leftoverPrograms('fsslower_'), []);
});

test('ext4slower on Linux 6.1 (kprobes): kprobe mode on ext4\'s own functions, same operations', kernelTest(), async () => {
  const bin = compileC(STORAGE_WORKLOAD);
  const { code, output } = await runInKernel(`
${VM_EXT4}
mkdir $D/shm; mount -t tmpfs tmpfs $D/shm
mkfifo $D/go
${bin} fs $D/mnt/vmfile ${N} $D/shm/vmfile < $D/go > /dev/null &
W=$!
exec 3> $D/go
BPFKIT_READY=1 timeout 200 node dist/src/cli/main.js ext4slower --verbose -p $W --json 0 > $D/out 2> $D/err &
T=$!
for i in $(seq 1 600); do grep -q BPFKIT_READY $D/err && break; kill -0 $T 2>/dev/null || break; sleep 0.2; done
echo go >&3
rc=0; wait $W || rc=$?
echo "CHILDEXIT=$rc"
kill -INT $T || true
rc=0; wait $T || rc=$?
echo "TOOLEXIT=$rc"
sleep 1
echo "LEFT=$(bpftool prog show | grep -c fsslower_ || true)"
grep -v -e '^libbpf' -e '^feature' $D/err || true
cat $D/out
`);
  assert.equal(code, 0, output);
  assert.match(output, /^CHILDEXIT=0$/m, output);
  assert.match(output, /^TOOLEXIT=0$/m, output);
  assert.match(output, /^LEFT=0$/m, output);
  assert.match(output, /fsslower: kprobe mode: kprobe\+kretprobe on ext4_file_read_iter, ext4_file_write_iter, ext4_file_open, ext4_sync_file/, output);
  const evs = parse(output.split('\n').filter((l) => l.startsWith('{')).join('\n')).filter((e) => e.filename === 'vmfile');
  assert.deepEqual(evs.map(({ t, bytes, offset, filename }) => ({ type: t, bytes, offset, file: filename })), expected('vmfile'), output);
});
