// Containers: attribution (CONTAINER column, container in JSON) and the kernel filter (-c,
// --container) with exact counts. On this host (6.18, no container runtime): two cgroups named as
// Docker names its containers, the same program in each with different known workloads; and the
// tools unchanged when nothing is in a container. Under the 6.1 VM: real Podman containers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileC, kernelTest, runInKernel, sleep, startTool, type StartedTool, type ToolRun } from './helpers.js';
import { CT_WORKLOAD } from './containers.js';
import { anyRuntime, cgroup2Mount } from '../src/core/containers.js';

const ID_A = 'a1'.repeat(32);
const ID_B = 'b2'.repeat(32);
const N_A = 3000, N_B = 7000;          // getppid() calls
const BYTES_A = 300_000, BYTES_B = 700_000;

type Json = Record<string, any>;
const records = (r: ToolRun): Json[] => r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
/** syscount -P --json: count per pid over all reports. */
function countsByPid(r: ToolRun): Map<number, { count: number; container?: Json }> {
  const out = new Map<number, { count: number; container?: Json }>();
  for (const rec of records(r)) for (const row of rec.rows) {
    const prev = out.get(row.pid) ?? { count: 0, container: row.container };
    prev.count += row.count;
    out.set(row.pid, prev);
  }
  return out;
}
/** tcptop --json: bytes sent per pid over all reports. */
function txByPid(r: ToolRun): Map<number, { tx: number; rx: number; container?: Json }> {
  const out = new Map<number, { tx: number; rx: number; container?: Json }>();
  for (const rec of records(r)) for (const row of rec.rows) {
    const prev = out.get(row.pid) ?? { tx: 0, rx: 0, container: row.container };
    prev.tx += row.tx_bytes;
    prev.rx += row.rx_bytes;
    out.set(row.pid, prev);
  }
  return out;
}

async function waitFor(path: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} did not appear within ${ms} ms`);
    await sleep(20);
  }
}

test('host without a container runtime: no CONTAINER column, no container field, counts as before', kernelTest(), async () => {
  assert.equal(anyRuntime(), false, 'this test needs a host with no container runtime state');
  const bin = compileC(CT_WORKLOAD);
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-ct-'));
  const w = spawn(bin, ['work', String(N_A), '0', '0', dir, 'a'], { stdio: 'ignore' });
  try {
    const text = startTool(['syscount', '-P', '--syscall', 'getppid', '-p', String(w.pid)]);
    const json = startTool(['syscount', '-P', '--syscall', 'getppid', '--json', '-p', String(w.pid)]);
    const ex = startTool(['execsnoop', '--json']);
    await Promise.all([text.ready, json.ready, ex.ready]);
    writeFileSync(join(dir, 'go'), '');
    await waitFor(join(dir, 'a.done'), 20_000);
    spawn('/bin/true', ['ct-host-mark'], { stdio: 'ignore' });
    await sleep(300);
    const [t, j, e] = await Promise.all([text.stop(), json.stop(), ex.stop()]);
    const mark = records(e).filter((r) => r.args?.includes('ct-host-mark'));
    assert.deepEqual(mark.map((r) => Object.keys(r)), [['time', 'uid', 'pcomm', 'pid', 'ppid', 'ret', 'args', 'tid', 'errno', 'truncated']], e.stdout);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^PID {4}COMM +COUNT$/m, t.stdout);
    assert.doesNotMatch(t.stdout, /CONTAINER/);
    assert.match(t.stdout, new RegExp(`^${w.pid} +\\S+ +${N_A}$`, 'm'), t.stdout);
    const rows = records(j).flatMap((r) => r.rows);
    assert.deepEqual(rows.map((r) => Object.keys(r)), [['pid', 'comm', 'count']]);
    assert.equal(rows[0].count, N_A);
  } finally {
    w.kill('SIGKILL');
  }
});

/** Two fake containers (cgroups named as Docker's systemd driver names them) on this host. */
function fakeContainers(): { root: string; a: string; b: string; cleanup(): void } {
  const mount = cgroup2Mount();
  assert.ok(mount, 'cgroup2 is mounted');
  const root = join(mount, `bpfkit-ct-${process.pid}`);
  const a = join(root, `docker-${ID_A}.scope`);
  const b = join(root, `docker-${ID_B}.scope`);
  // B has 8 empty child cgroups: 9 ids, more than the kernel compares inline (the map path); A has 1.
  const subs = Array.from({ length: 8 }, (_, i) => join(b, `sub${i}`));
  for (const d of [root, a, b, ...subs]) mkdirSync(d, { recursive: true });
  return {
    root, a, b,
    cleanup() {
      for (const d of [...subs, a, b, root]) { try { rmdirSync(d); } catch { /* still busy: left for the next run */ } }
    },
  };
}

test('two containers, one program: syscount -P and tcptop attribute exact counts; --container and -c keep exactly one', kernelTest(), async () => {
  const bin = compileC(CT_WORKLOAD);
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-ct-'));
  const ct = fakeContainers();
  const port = 20000 + (process.pid % 20000);
  const kids: ChildProcess[] = [];
  const tools: StartedTool[] = [];
  try {
    const server = spawn(bin, ['serve', String(port), dir], { stdio: 'ignore' });
    kids.push(server);
    const a = spawn(bin, ['work', String(N_A), String(BYTES_A), String(port), dir, 'a'], { stdio: 'ignore' });
    const b = spawn(bin, ['work', String(N_B), String(BYTES_B), String(port), dir, 'b'], { stdio: 'ignore' });
    kids.push(a, b);
    writeFileSync(join(ct.a, 'cgroup.procs'), String(a.pid));
    writeFileSync(join(ct.b, 'cgroup.procs'), String(b.pid));
    // A short-lived exec in B: gone before user space reads /proc, named by the cgroup id the kernel recorded.
    const shortLived = spawn('sh', ['-c', `echo $$ > ${ct.b}/cgroup.procs; while [ ! -f ${dir}/go ]; do sleep 0.02; done; exec /bin/true ct-exec-mark`], { stdio: 'ignore' });
    kids.push(shortLived);
    const sc = ['syscount', '-P', '--syscall', 'getppid'];
    const tt = ['tcptop', '-C', '--json', '60'];
    const all = startTool([...sc, '--json', '--containers']);
    const onlyA = startTool([...sc, '--json', '--container', ID_A.slice(0, 12)]);
    const pathB = startTool([...sc, '--json', '-c', ct.b]);
    const text = startTool([...sc, '--containers']);
    const tAll = startTool([...tt, '--containers']);
    const tB = startTool([...tt, '--container', ID_B]);
    const ex = startTool(['execsnoop', '--json', '--containers']);
    const exB = startTool(['execsnoop', '--json', '--container', ID_B]);
    tools.push(all, onlyA, pathB, text, tAll, tB, ex, exB);
    await Promise.all(tools.map((t) => t.ready));
    writeFileSync(join(dir, 'go'), '');
    await waitFor(join(dir, 'a.done'), 30_000);
    await waitFor(join(dir, 'b.done'), 30_000);
    await new Promise((res) => (shortLived.exitCode !== null ? res(null) : shortLived.on('exit', res)));
    await sleep(300);
    const [rAll, rA, rB, rText, rtAll, rtB, rEx, rExB] = await Promise.all(tools.map((t) => t.stop()));
    for (const r of [rAll, rA, rB, rText, rtAll, rtB, rEx, rExB]) assert.equal(r.code, 0, r.stderr);
    const marks = records(rEx).filter((e) => e.args?.includes('ct-exec-mark'));
    assert.deepEqual(marks.map((e) => [e.pid, e.container]), [[shortLived.pid, { id: ID_B.slice(0, 12), runtime: 'docker' }]], rEx.stdout);
    // --container B: B's execs (its sleeps and the mark), and nothing from outside B
    const inB = records(rExB).filter((e) => e.type !== 'summary');
    assert.ok(inB.some((e) => e.args?.includes('ct-exec-mark')), rExB.stdout);
    assert.deepEqual([...new Set(inB.map((e) => e.container?.id))], [ID_B.slice(0, 12)], rExB.stdout);

    const c = countsByPid(rAll);
    assert.deepEqual(c.get(a.pid!), { count: N_A, container: { id: ID_A.slice(0, 12), runtime: 'docker' } }, rAll.stdout);
    assert.deepEqual(c.get(b.pid!), { count: N_B, container: { id: ID_B.slice(0, 12), runtime: 'docker' } }, rAll.stdout);
    assert.deepEqual([...countsByPid(rA)], [[a.pid, { count: N_A, container: { id: ID_A.slice(0, 12), runtime: 'docker' } }]], rA.stdout);
    assert.deepEqual([...countsByPid(rB)].map(([pid, v]) => [pid, v.count]), [[b.pid, N_B]], rB.stdout);
    // text: the CONTAINER column first, the short id where there is no name
    assert.match(rText.stdout, /^CONTAINER {8}PID {4}COMM +COUNT$/m, rText.stdout);
    assert.match(rText.stdout, new RegExp(`^${ID_A.slice(0, 12)} {5}${a.pid} +\\S+ +${N_A}$`, 'm'), rText.stdout);
    assert.match(rText.stdout, new RegExp(`^${ID_B.slice(0, 12)} {5}${b.pid} +\\S+ +${N_B}$`, 'm'), rText.stdout);

    const t = txByPid(rtAll);
    assert.equal(t.get(a.pid!)?.tx, BYTES_A, rtAll.stdout);
    assert.equal(t.get(b.pid!)?.tx, BYTES_B, rtAll.stdout);
    assert.equal(t.get(a.pid!)?.container?.id, ID_A.slice(0, 12));
    assert.equal(t.get(b.pid!)?.container?.id, ID_B.slice(0, 12));
    // the server's ends (outside any container) received both, and carry no container
    const served = records(rtAll).flatMap((r) => r.rows).filter((row) => row.lport === port);
    assert.equal(served.reduce((n, row) => n + row.rx_bytes, 0), BYTES_A + BYTES_B, rtAll.stdout);
    assert.ok(served.every((row) => row.container === undefined));
    const tb = txByPid(rtB);
    assert.deepEqual([...tb].map(([pid, v]) => [pid, v.tx, v.rx, v.container?.id]), [[b.pid, BYTES_B, 0, ID_B.slice(0, 12)]], rtB.stdout);
    console.log(`host: syscount ${a.pid}=${c.get(a.pid!)?.count} ${b.pid}=${c.get(b.pid!)?.count}; tcptop tx ${t.get(a.pid!)?.tx}/${t.get(b.pid!)?.tx}; --container B: ${JSON.stringify([...tb])}`);
  } finally {
    writeFileSync(join(dir, 'quit'), '');
    for (const t of tools) t.proc.kill('SIGKILL');
    for (const k of kids) k.kill('SIGKILL');
    await sleep(200);
    ct.cleanup();
  }
});

test('bad -c and --container: one line, exit 2', kernelTest(), async () => {
  const { runTool } = await import('./helpers.js');
  for (const [args, msg] of [
    [['syscount', '--container', 'no-such-container'], /--container no-such-container: no running container/],
    [['tcptop', '-c', '/tmp'], /-c: \/tmp is not a cgroup directory/],
    [['execsnoop', '--container', ''], /--container: empty name/],
  ] as Array<[string[], RegExp]>) {
    const r = await runTool(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

// Real Podman containers (the recipe of ../shared/design.md, "Containers"), one VM boot:
// ct-a and ct-b run the same binary with N vs M getppid() calls and A vs B bytes to a process
// outside; then ct-src streams to ct-sink for diagnose.
test('6.1 + Podman: exact counts per container by name, --container keeps one, diagnose shows two container services and their edge', kernelTest(), async () => {
  const bin = compileC(CT_WORKLOAD);
  const port = 31000 + (process.pid % 1000);
  const script = `
set +e
mkdir -p /dev/shm /ctx; mount -t tmpfs tmpfs /dev/shm
P="timeout 60 podman --network-backend=cni --cgroup-manager=cgroupfs"
run() { $P run -d --name $1 --network=host -v /ctx:/ctx --rootfs /:O ${bin} "\${@:2}" >/dev/null || echo "podman run $1 failed"; }
t0=$(date +%s.%N)
el() { echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}'; }
run ct-a work ${N_A} ${BYTES_A} ${port} /ctx a
run ct-b work ${N_B} ${BYTES_B} ${port} /ctx b
${bin} serve ${port} /ctx & SERVER=$!
echo "== started $(el) s"
export BPFKIT_READY=1
B="node dist/src/cli/main.js"
SC="syscount -P --syscall getppid"
$B $SC --json > /tmp/s.all 2> /tmp/s.all.err & P1=$!
$B $SC --json --container ct-a > /tmp/s.a 2> /tmp/s.a.err & P2=$!
$B $SC > /tmp/s.text 2> /tmp/s.text.err & P3=$!
$B tcptop -C --json 60 > /tmp/t.all 2> /tmp/t.all.err & P4=$!
$B tcptop -C --json 60 --container ct-b > /tmp/t.b 2> /tmp/t.b.err & P5=$!
for f in s.all s.a s.text t.all t.b; do
  for i in $(seq 1 600); do grep -q BPFKIT_READY /tmp/$f.err && break; sleep 0.1; done
done
echo "== ready $(el) s"
touch /ctx/go
for i in $(seq 1 600); do [ -f /ctx/a.done ] && [ -f /ctx/b.done ] && break; sleep 0.1; done
sleep 0.5
kill -INT $P1 $P2 $P3 $P4 $P5; wait $P1 $P2 $P3 $P4 $P5
touch /ctx/quit
for f in s.all s.a s.text t.all t.b; do echo "== $f"; cat /tmp/$f; echo "== $f.err"; grep -v BPFKIT_READY /tmp/$f.err; done
echo "== counted $(el) s"
run ct-sink sink $((${port} + 1))
run ct-src source $((${port} + 1))
sleep 1
$B diagnose -d 4 --json > /tmp/d.json 2> /tmp/d.err
$B diagnose -d 3 --json --container ct-src > /tmp/d1.json 2> /tmp/d1.err
echo "== diagnose"; cat /tmp/d.json; echo "== diagnose.err"; cat /tmp/d.err
echo "== diagnose1"; cat /tmp/d1.json; echo "== diagnose1.err"; cat /tmp/d1.err
echo "== ids"; $P ps -a --format '{{.Names}} {{.ID}}' --no-trunc
echo "== done $(el) s"
kill $SERVER; $P rm -f -t 0 ct-a ct-b ct-src ct-sink >/dev/null 2>&1
echo "== end"`;
  const r = await runInKernel(script, 400);
  const out = r.output.replace(/\r/g, '');
  const section = (name: string) => {
    const m = new RegExp(`== ${name.replace(/\./g, '\\.')}\\n([\\s\\S]*?)\\n== `).exec(out);
    assert.ok(m, `no ${name} in:\n${out}`);
    return m[1]!;
  };
  assert.match(out, /== end/, out);
  const timings = [...out.matchAll(/^== (started|ready|counted|done) ([\d.]+) s$/gm)].map((m) => `${m[1]} ${Number(m[2]).toFixed(1)} s`);
  console.log(`6.1 VM: ${timings.join(', ')}`);
  const ids = new Map(section('ids').trim().split('\n').map((l) => { const [n, id] = l.split(' '); return [n!, id!.slice(0, 12)]; }));
  const run = (name: string): ToolRun => ({ code: 0, signal: null, stdout: section(name), stderr: section(`${name}.err`) });
  // syscount -P: per container, by name (same program, same comm: only the container differs)
  const byContainer = (r: ToolRun) => {
    const out = new Map<string, number>();
    for (const rec of records(r)) for (const row of rec.rows) {
      const k = row.container ? `${row.container.name}/${row.container.id}/${row.container.runtime}` : '-';
      out.set(k, (out.get(k) ?? 0) + row.count);
    }
    return out;
  };
  const key = (n: string) => `${n}/${ids.get(n)}/podman`;
  const all = byContainer(run('s.all'));
  assert.equal(all.get(key('ct-a')), N_A, section('s.all'));
  assert.equal(all.get(key('ct-b')), N_B, section('s.all'));
  assert.deepEqual([...byContainer(run('s.a'))], [[key('ct-a'), N_A]], section('s.a'));
  // text: the CONTAINER column appears by itself (a runtime exists and traced processes are in containers)
  const text = section('s.text');
  assert.match(text, /^CONTAINER {8}PID {4}COMM +COUNT$/m, text);
  assert.match(text, new RegExp(`^ct-a {13}\\d+ +\\S+ +${N_A}$`, 'm'), text);
  assert.match(text, new RegExp(`^ct-b {13}\\d+ +\\S+ +${N_B}$`, 'm'), text);
  // tcptop: bytes sent per container; --container ct-b sees only ct-b's connection
  const tx = (r: ToolRun) => {
    const out = new Map<string, number>();
    for (const rec of records(r)) for (const row of rec.rows) {
      const k = row.container ? row.container.name : row.lport === port ? 'server' : 'other';
      out.set(k, (out.get(k) ?? 0) + row.tx_bytes + row.rx_bytes);
    }
    return out;
  };
  const tAll = tx(run('t.all'));
  assert.equal(tAll.get('ct-a'), BYTES_A, section('t.all'));
  assert.equal(tAll.get('ct-b'), BYTES_B, section('t.all'));
  assert.equal(tAll.get('server'), BYTES_A + BYTES_B, section('t.all'));
  assert.deepEqual([...tx(run('t.b'))], [['ct-b', BYTES_B]], section('t.b'));
  // diagnose: the two containers are two services named as Podman names them, with the edge
  const report = JSON.parse(section('diagnose')) as { services: Json[]; edges: Json[] };
  const src = report.services.find((s) => s.containerName === 'ct-src');
  const sink = report.services.find((s) => s.containerName === 'ct-sink');
  assert.ok(src && sink, `services: ${JSON.stringify(report.services.map((s) => [s.id, s.comm, s.container, s.containerName]))}\n${section('diagnose.err')}`);
  assert.equal(src.container, ids.get('ct-src'));
  assert.equal(sink.container, ids.get('ct-sink'));
  const edge = report.edges.find((e) => e.from === src.id && e.to === sink.id);
  assert.ok(edge && edge.bytesPerS > 0, `edges: ${JSON.stringify(report.edges)}`);
  // diagnose --container ct-src: only ct-src's threads were observed in the kernel
  const one = JSON.parse(section('diagnose1')) as { services: Json[]; edges: Json[] };
  const busy = one.services.filter((s) => s.cpuCores > 0 || s.threads > 0);
  assert.deepEqual([...new Set(busy.map((s) => s.containerName))], ['ct-src'], `${JSON.stringify(busy.map((s) => [s.id, s.comm, s.containerName, s.cpuCores, s.threads]))}\n${section('diagnose1.err')}`);
  console.log(`6.1 VM: syscount ct-a=${all.get(key('ct-a'))} ct-b=${all.get(key('ct-b'))}; tcptop ct-a=${tAll.get('ct-a')} ct-b=${tAll.get('ct-b')}; diagnose edge ct-src -> ct-sink ${Math.round(edge.bytesPerS)} B/s`);
});
