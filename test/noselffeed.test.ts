// bpfkit never feeds on its own output. `ext4slower 0`, `opensnoop` and `trace` (system-wide)
// each write their output to a file on a loop-device ext4 for 5 s while a small known workload
// runs: the output holds the workload's events exactly, none of bpfkit's own process (its pid,
// any of its threads) and none about the output file; after the workload ends, the output does
// not grow by itself (each write of the output would otherwise be an event, whose line is another
// write, and so on): every line is the workload's or another process's own activity.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BPFKIT, compileC, kernelTest, leftoverPrograms, sleep, startGatedChild } from './helpers.js';
import { makeLoopFs, type LoopFs } from './storagefs.js';

// N times: open(PATH, O_WRONLY|O_CREAT|O_TRUNC), write 100 bytes, close, sleep 1 ms.
const WORKLOAD = `
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char b[8], buf[100];
  memset(buf, 'w', sizeof buf);
  if (read(0, b, sizeof b) <= 0) return 1;
  int n = atoi(argv[2]);
  for (int i = 0; i < n; i++) {
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, buf, sizeof buf) != sizeof buf) return 2;
    close(fd);
    usleep(1000);
  }
  return 0;
}
`;
const N = 500;
const RUN_MS = 5000;

let fs: LoopFs | undefined;
before(() => { if (process.getuid?.() === 0) fs = makeLoopFs(); });
after(() => fs?.cleanup());

interface Case {
  tool: string;
  args: string[];
  /** The process (or thread, for trace) a line belongs to; undefined for header lines. */
  owner(line: string): number | undefined;
  /** Lines that belong to no process (headers). */
  headerLines: number;
  /** Lines the workload must produce about its file, exactly. */
  workloadLines: number;
  /** Which lines are the workload's operations on its file. */
  isWorkloadOp(line: string, file: string): boolean;
}

const CASES: Case[] = [
  {
    // TIME(8) COMM(14) PID(6) ...: fixed columns, the comm may hold spaces
    tool: 'ext4slower', args: ['0'],
    owner: (l) => (/^\d\d:\d\d:\d\d /.test(l) ? Number(l.slice(24, 30).trim()) : undefined),
    headerLines: 2,
    workloadLines: 2 * N, // an open (O) and a write (W) each time
    isWorkloadOp: (l, file) => l.endsWith(` ${file}`) && / [OW] /.test(l.slice(30, 33)),
  },
  {
    tool: 'opensnoop', args: [],
    owner: (l) => (/^\d+ /.test(l) ? Number(l.split(' ')[0]) : undefined),
    headerLines: 1,
    workloadLines: N,
    isWorkloadOp: (l, file) => l.endsWith(`/${file}`),
  },
  {
    // system-wide, every line is "[pid TID] ...": a thread id
    tool: 'trace', args: [],
    owner: (l) => { const m = /^\[pid (\d+)\] /.exec(l); return m ? Number(m[1]) : undefined; },
    headerLines: 0,
    workloadLines: N,
    isWorkloadOp: (l, file) => l.includes(' openat(AT_FDCWD, "') && l.includes(`/${file}", O_WRONLY|O_CREAT|O_TRUNC`),
  },
];

/** Thread ids of a process now. */
function threadsOf(pid: number): number[] {
  try { return readdirSync(`/proc/${pid}/task`).map(Number); } catch { return []; }
}

for (const c of CASES) {
  test(`${c.tool} ${c.args.join(' ')} > file on ext4 for 5 s: only other processes' events, none about the output, no growth of its own`, kernelTest(), async () => {
    const outName = `bpfkit-${c.tool}.out`;
    const out = join(fs!.dir, outName);
    const wlName = `workload-${c.tool}`;
    const fd = openSync(out, 'w');
    // sizes through an fd opened now: a stat of the path would be a line about the output file
    const sizeFd = openSync(out, 'r');
    const size = () => fstatSync(sizeFd).size;
    const proc = spawn(process.execPath, [BPFKIT, c.tool, ...c.args], { stdio: ['ignore', fd, 'pipe'], env: { ...process.env, BPFKIT_READY: '1' } });
    closeSync(fd);
    let stderr = '';
    proc.stderr!.on('data', (d) => { stderr += d; });
    const exited = new Promise<number | null>((res) => proc.on('close', (code) => res(code)));
    const killer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    while (!stderr.includes('BPFKIT_READY') && proc.exitCode === null) await sleep(20);
    assert.ok(stderr.includes('BPFKIT_READY'), stderr);
    const t0 = Date.now();
    const selfTids = new Set<number>(threadsOf(proc.pid!));
    const watch = setInterval(() => { for (const t of threadsOf(proc.pid!)) selfTids.add(t); }, 50);

    const child = startGatedChild(compileC(WORKLOAD), [join(fs!.dir, wlName), String(N)]);
    child.go();
    assert.equal(await child.exited, 0, 'workload failed');
    await sleep(300); // the tools read their ring buffers every 50-100 ms
    const afterWorkload = size();
    await sleep(Math.max(0, RUN_MS - (Date.now() - t0)));
    const atEnd = size();
    closeSync(sizeFd);
    proc.kill('SIGINT');
    const code = await exited;
    clearTimeout(killer);
    clearInterval(watch);
    assert.equal(code, 0, stderr);
    assert.deepEqual(leftoverPrograms(c.tool === 'ext4slower' ? 'fsslower' : c.tool), []);

    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const workloadPid = child.proc.pid!;
    const owned = lines.filter((l) => c.owner(l) !== undefined);
    const mine = owned.filter((l) => c.isWorkloadOp(l, wlName));
    const others = owned.filter((l) => c.owner(l) !== workloadPid);
    console.log(`${c.tool}: ${lines.length} lines (${mine.length} of the workload's ops, ${others.length} of other processes), ` +
      `${afterWorkload} bytes when the workload ended, ${atEnd - afterWorkload} more in the ${((RUN_MS - 300) / 1000).toFixed(1)} s after; bpfkit threads ${[...selfTids].join(',')}`);

    // the workload's operations, exactly, from the workload
    assert.equal(mine.length, c.workloadLines, `workload lines:\n${mine.slice(0, 5).join('\n')}`);
    assert.ok(mine.every((l) => c.owner(l) === workloadPid));
    // nothing of bpfkit's own process, nothing about the output file
    const self = owned.filter((l) => c.owner(l) === proc.pid || selfTids.has(c.owner(l)!));
    assert.deepEqual(self.slice(0, 5), [], `${self.length} lines of bpfkit itself`);
    const aboutOut = lines.filter((l) => l.includes(outName));
    assert.deepEqual(aboutOut.slice(0, 5), [], `${aboutOut.length} lines about the output file`);
    // every line is a header, one of the workload's events or an event of another process that
    // is neither bpfkit nor about its output. (How much other processes add is not bounded here:
    // on a shared machine other sessions' builds write to ext4 and open files all the time.)
    assert.equal(lines.length - owned.length, c.headerLines, `unexpected lines:\n${lines.filter((l) => c.owner(l) === undefined).slice(0, 5).join('\n')}`);
    const late = readFileSync(out).subarray(afterWorkload).toString('utf8').split('\n').filter(Boolean);
    const lateOwners = new Map<number, number>();
    for (const l of late) { const o = c.owner(l); if (o !== undefined) lateOwners.set(o, (lateOwners.get(o) ?? 0) + 1); }
    console.log(`  after the workload: ${late.length} lines from ${lateOwners.size} other processes`);
  });
}
