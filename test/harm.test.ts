// "First do no harm", for every tool: a reader that goes away (`| head -1`) ends the tool quietly
// with status 0; a failing write (`> /dev/full`) is one line on stderr and status 1; under a
// flood, SIGINT is served within a second with the summary printed; nothing stays loaded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPFKIT, compileC, kernelTest, loadedProgramNames, leftoverPrograms, sleep } from './helpers.js';

/** Program-name prefixes of every tool (leak checks). */
const PREFIXES = ['syscount', 'tcptop', 'biotop', 'biolat', 'fsslower', 'profile', 'trace', 'execsnoop', 'threadsnoop', 'exitsnoop', 'opensnoop', 'tcplife', 'diagnose', 'diag'];
function assertNothingLoaded(what: string): void {
  for (const p of PREFIXES) assert.deepEqual(leftoverPrograms(p), [], `${what}: ${p} programs left loaded`);
}

/** Each tool with arguments that make it print soon and keep printing (given the workload below). */
const ALL_TOOLS: Array<[string, string[]]> = [
  ['syscount', ['-i', '0.2']],
  ['tcptop', ['-C', '-i', '0.2']],
  ['sockets', ['-a']],
  ['biotop', ['-C', '1']],
  ['biolatency', ['1']],
  ['fsslower', ['-t', 'ext4', '0']],
  ['ext4slower', ['0']],
  ['profile', ['-d', '1']],
  ['trace', []],
  ['execsnoop', []],
  ['threadsnoop', []],
  ['exitsnoop', []],
  ['opensnoop', []],
  ['tcplife', []],
  ['diagnose', ['-d', '1']],
];
/** HARM_TOOLS=a,b runs the checks for those tools only (while working on them). */
const ONLY = process.env.HARM_TOOLS?.split(',');
const TOOLS = ONLY ? ALL_TOOLS.filter(([t]) => ONLY.includes(t)) : ALL_TOOLS;

// A steady mix of what the tools see: execs and exits, opens, file writes on ext4 (/tmp),
// threads, and loopback TCP connections.
const WORKLOAD = `
import os, socket, subprocess, threading, time, sys
stop = time.time() + float(sys.argv[1])
def execs():
    while time.time() < stop: subprocess.run(['/bin/true'])
def files():
    p = '/tmp/bpfkit-harm-%d' % os.getpid()
    while time.time() < stop:
        with open(p, 'w') as f: f.write('x' * 100)
        time.sleep(0.002)
    os.unlink(p)
def threads():
    while time.time() < stop:
        t = threading.Thread(target=lambda: None); t.start(); t.join(); time.sleep(0.002)
def tcp():
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(64)
    port = srv.getsockname()[1]
    def accept():
        while True:
            c, _ = srv.accept(); c.recv(10); c.close()
    threading.Thread(target=accept, daemon=True).start()
    while time.time() < stop:
        c = socket.create_connection(('127.0.0.1', port)); c.send(b'hello'); c.close(); time.sleep(0.005)
ts = [threading.Thread(target=f) for f in (execs, files, threads, tcp)]
for t in ts: t.start()
for t in ts: t.join()
`;

let workload: ChildProcess | undefined;
before(() => {
  if (process.getuid?.() !== 0) return;
  const file = join(tmpdir(), `bpfkit-harm-workload-${process.pid}.py`);
  writeFileSync(file, WORKLOAD);
  workload = spawn('python3', [file, '600'], { stdio: 'ignore' });
});
after(() => { workload?.kill('SIGKILL'); });

interface Exit { code: number | null; signal: string | null; stderr: string; ms: number }

function waitExit(proc: ChildProcess, getStderr: () => string, timeoutMs: number): Promise<Exit> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr: getStderr(), ms: Date.now() - t0 });
    });
  });
}

test('| head -1: every tool ends quietly with status 0 and leaves nothing loaded', kernelTest(), async () => {
  for (const [tool, args] of TOOLS) {
    const proc = spawn(process.execPath, [BPFKIT, tool, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d) => { stderr += d; });
    const exited = waitExit(proc, () => stderr, 20_000);
    // Read the first line, then close the pipe as head does.
    let got = '';
    await new Promise<void>((resolve) => {
      proc.stdout!.on('data', (d) => {
        got += d;
        if (got.includes('\n')) { proc.stdout!.destroy(); resolve(); }
      });
      proc.on('close', () => resolve());
    });
    const r = await exited;
    assert.ok(got.includes('\n'), `${tool}: printed nothing (${r.stderr})`);
    assert.equal(r.signal, null, `${tool}: killed (${r.stderr})`);
    assert.equal(r.code, 0, `${tool} ${args.join(' ')}: status ${r.code}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `${tool}: ${r.stderr}`);
    assertNothingLoaded(tool);
  }
});

test('> /dev/full: every tool says so in one line, status 1, nothing loaded', kernelTest(), async () => {
  for (const [tool, args] of TOOLS) {
    const fd = openSync('/dev/full', 'w');
    const proc = spawn(process.execPath, [BPFKIT, tool, ...args], { stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    let stderr = '';
    proc.stderr!.on('data', (d) => { stderr += d; });
    const r = await waitExit(proc, () => stderr, 20_000);
    assert.equal(r.code, 1, `${tool} ${args.join(' ')}: status ${r.code}\n${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n').filter((l) => !/events, \d+ lost in/.test(l));
    assert.deepEqual(lines, [`bpfkit ${tool === 'ext4slower' ? 'fsslower' : tool}: cannot write output: ENOSPC (no space left on device)`], `${tool}: ${r.stderr}`);
    assertNothingLoaded(tool);
  }
});

// Opens of a missing file from several threads as fast as they go: what opensnoop and trace see.
const FLOOD = `
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
static const char *path;
static double seconds;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void *run(void *arg) {
  double end = now() + seconds;
  long *n = arg;
  while (now() < end) for (int i = 0; i < 1000; i++) { open(path, O_RDONLY); (*n)++; }
  return 0;
}
int main(int argc, char **argv) {
  seconds = atof(argv[1]); path = argv[2];
  pthread_t t[4]; long n[4] = {0};
  for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, run, &n[i]);
  for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
  return 0;
}
`;

test('under a flood of >= 200k events/s, SIGINT stops opensnoop and trace within 1 s, summary printed', kernelTest(), async () => {
  const bin = compileC(FLOOD, ['-pthread']);
  for (const [tool, args] of [['opensnoop', ['-x']], ['trace', ['-e', 'openat']], ['opensnoop', ['-x', '--json']]] as Array<[string, string[]]>) {
    const out = join(tmpdir(), `bpfkit-flood-${process.pid}.out`);
    const fd = openSync(out, 'w');
    const proc = spawn(process.execPath, [BPFKIT, tool, ...args], { stdio: ['ignore', fd, 'pipe'], env: { ...process.env, BPFKIT_READY: '1' } });
    closeSync(fd);
    let stderr = '';
    proc.stderr!.on('data', (d) => { stderr += d; });
    const exited = waitExit(proc, () => stderr, 60_000);
    while (!stderr.includes('BPFKIT_READY') && proc.exitCode === null) await sleep(50);
    const flood = spawn(bin, ['6', '/nonexistent-bpfkit-flood'], { stdio: 'ignore' });
    await sleep(3000);
    const t0 = Date.now();
    proc.kill('SIGINT');
    const r = await exited;
    const stopMs = Date.now() - t0;
    flood.kill('SIGKILL');
    const text = readFileSync(out, 'utf8');
    rmSync(out, { force: true });
    console.log(`${tool} ${args.join(' ')}: SIGINT to exit ${stopMs} ms, output ${(text.length / 1e6).toFixed(1)} MB`);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(stopMs < 1000, `${tool}: ${stopMs} ms from SIGINT to exit`);
    const summary = args.includes('--json')
      ? text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((x) => x.type === 'summary')
      : /events, \d+ lost in/.exec(r.stderr);
    assert.ok(summary, `${tool}: no summary\n${r.stderr}`);
    assertNothingLoaded(tool);
  }
});

test('nothing of bpfkit is loaded at the end of the suite', kernelTest(), () => {
  const names = loadedProgramNames();
  for (const p of PREFIXES) assert.deepEqual(names.filter((n) => n.startsWith(p)), [], p);
});
