// profile runs as root and reads /tmp/perf-PID.map, a path in a world-writable directory that the
// profiled (unprivileged) user controls. Hostile maps must not hang it (FIFO), blow up its memory
// (symlink to /dev/zero), leak a root-only file (symlink to it, or another user's file) or put raw
// terminal escapes / forged lines in its output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { compileC, kernelTest, leftoverPrograms, sleep, startTool, type ToolRun } from './helpers.js';

// Runs an endless loop in anonymous executable memory (as JIT code does) and prints its address,
// so every user-space sample of it is looked up in the JIT map.
const ANON_LOOP_C = `
#include <stdio.h>
#include <sys/mman.h>
int main(void) {
  unsigned char *p = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  p[0] = 0xeb; p[1] = 0xfe; /* jmp . */
  printf("%lx\\n", (unsigned long)p);
  fflush(stdout);
  ((void (*)(void))p)();
  return 0;
}
`;

const NOBODY = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
const NOGROUP = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
const SECRET = `BPFKIT_SECRET_${process.pid}_${Date.now()}`;
/** Peak resident memory a profile run may reach (a plain run needs ~100 MiB). */
const MAX_RSS_KB = 400 * 1024;

async function startNobodyLoop(): Promise<{ proc: ChildProcess; pid: number; addr: number }> {
  const bin = compileC(ANON_LOOP_C);
  const proc = spawn(bin, [], { uid: NOBODY, gid: NOGROUP, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  const deadline = Date.now() + 10_000;
  while (!out.includes('\n')) {
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`workload did not start: ${out}`);
    await sleep(10);
  }
  return { proc, pid: proc.pid!, addr: parseInt(out.trim(), 16) };
}

/** `bpfkit profile -p PID -d 2`, with the tool's peak RSS (VmHWM, polled) and wall time. */
async function profile(pid: number): Promise<ToolRun & { peakKb: number; ms: number }> {
  const t0 = Date.now();
  const t = startTool(['profile', '-p', String(pid), '-d', '2'], { timeoutMs: 40_000 });
  let peakKb = 0;
  let finished = false;
  void t.done.then(() => { finished = true; });
  while (!finished) {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${t.proc.pid}/status`, 'latin1'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch { /* exited */ }
    await sleep(50);
  }
  const r = await t.done;
  return { ...r, peakKb, ms: Date.now() - t0 };
}

function checkRun(r: ToolRun & { peakKb: number; ms: number }, what: string): void {
  assert.equal(r.signal, null, `${what}: profile killed (hung?) after ${r.ms} ms: ${r.stderr}`);
  assert.equal(r.code, 0, `${what}: profile failed: ${r.stderr}`);
  assert.ok(r.ms < 30_000, `${what}: profile took ${r.ms} ms`);
  assert.ok(r.peakKb > 0 && r.peakKb < MAX_RSS_KB, `${what}: peak RSS ${r.peakKb} kB`);
  assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), `${what}: the secret leaked`);
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\u001b\u009b\r]/.test(r.stdout), `${what}: raw ESC/CSI/CR in the output`);
  assert.ok(!/^FORGED/m.test(r.stdout), `${what}: forged line in the output`);
  assert.deepEqual(leftoverPrograms('profile_'), [], `${what}: BPF programs left loaded`);
}

test('profile: hostile /tmp/perf-PID.map of an unprivileged process (FIFO, symlinks, other owner, escapes)', kernelTest(), async () => {
  const w = await startNobodyLoop();
  const map = `/tmp/perf-${w.pid}.map`;
  const secretFile = `/tmp/bpfkit-secret-${process.pid}.map`;
  const hex = w.addr.toString(16);
  try {
    // The secret is a valid map line covering the loop: if it were read, it would be printed.
    writeFileSync(secretFile, `${hex} 100 ${SECRET}\n`, { mode: 0o600 });
    chmodSync(secretFile, 0o600);

    // (a) a FIFO (nobody's): opening it for reading would block forever.
    rmSync(map, { force: true });
    execFileSync('mkfifo', [map]);
    chownSync(map, NOBODY, NOGROUP);
    checkRun(await profile(w.pid), 'FIFO');

    // (b) a symlink to /dev/zero: reading it would never end. Root's link, so even
    // fs.protected_symlinks would let it be followed.
    rmSync(map, { force: true });
    symlinkSync('/dev/zero', map);
    checkRun(await profile(w.pid), '/dev/zero symlink');

    // (c) a symlink to a root-only file holding the secret.
    rmSync(map, { force: true });
    symlinkSync(secretFile, map);
    checkRun(await profile(w.pid), 'symlink to a root-only file');
    rmSync(map, { force: true });
    symlinkSync(secretFile, map);
    lchownSync(map, NOBODY, NOGROUP);
    checkRun(await profile(w.pid), 'nobody\'s symlink to a root-only file');

    // (c') a regular file with the secret owned by another user than the process (daemon, uid 1).
    rmSync(map, { force: true });
    writeFileSync(map, `${hex} 100 ${SECRET}\n`);
    chownSync(map, 1, 1);
    checkRun(await profile(w.pid), 'file of another user');

    // (d) nobody's own map: a name with ESC sequences, CR and a newline followed by a forged line.
    rmSync(map, { force: true });
    writeFileSync(map, `${hex} 100 bpfkit_evil\u001b[2J\u001b[1A\u009b31m_name\nFORGED line 999\n${(w.addr + 0x200).toString(16)} 10 x\rFORGED 1\n`);
    chownSync(map, NOBODY, NOGROUP);
    const r = await profile(w.pid);
    checkRun(r, 'escapes');
    // The map was read (the owner is the process's uid) and the name shown with its escapes visible.
    assert.ok(r.stdout.includes('bpfkit_evil\\x1b[2J\\x1b[1A\\x9b31m_name'), `escaped name missing:\n${r.stdout.slice(0, 2000)}`);
  } finally {
    if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
    rmSync(map, { force: true });
    rmSync(secretFile, { force: true });
  }
});
