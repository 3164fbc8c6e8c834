// trace against strace itself: the same real programs under `strace -f` and `bpfkit trace -f --`,
// compared line by line (test/strace-compare.ts documents the normalization); -f on a shell that
// forks and execs (each child's calls, exact counts); -- CMD's exit status; -c's counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileC, kernelTest, leftoverPrograms, runTool, startGatedChild, startTool } from './helpers.js';
import { compare, parseBpfkitFile, parseStraceFiles, type Comparison, type ProcLines } from './strace-compare.js';

const work = mkdtempSync(join(tmpdir(), 'bpfkit-trace-strace-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** Run CMD under strace -ff; the lines per process. */
function underStrace(cmd: string[], cwd: string): ProcLines[] {
  const dir = mkdtempSync(join(work, 's-'));
  // (stdout a pipe, as bpfkit's under runTool: programs look at what their stdout is)
  const r = spawnSync('strace', ['-ff', '-s', '32', '-o', join(dir, 's'), '--', ...cmd], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, env: { ...process.env, BPFKIT_READY: '1' } });
  assert.equal(r.status, 0, `strace ${cmd.join(' ')}: ${r.stderr}`);
  const files = new Map<number, string>();
  for (const f of readdirSync(dir)) files.set(Number(f.split('.').pop()), readFileSync(join(dir, f), 'utf8'));
  return parseStraceFiles(files);
}

/** Run CMD under bpfkit trace -f -o FILE --; the lines per process and the run. */
async function underTrace(cmd: string[], cwd: string, extra: string[] = []) {
  const out = join(work, `t-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const run = await runTool(['trace', '-f', '-o', out, ...extra, '--', ...cmd], { timeoutMs: 60_000, cwd });
  const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
  return { run, text };
}

function firstPid(text: string): number {
  // with -f -o every line starts with the pid; the first is the command's execve
  const m = /^(\d+) /.exec(text);
  return m ? Number(m[1]) : 0;
}

test('side by side with strace -f: at least 95% of lines identical on real programs', kernelTest(), async () => {
  const dir = mkdtempSync(join(work, 'corpus-'));
  const data = join(dir, 'data.bin');
  const buf = Buffer.alloc(1 << 20);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24; // bytes of every value, escaped by both
  writeFileSync(data, buf);
  writeFileSync(join(dir, 'f.txt'), 'one\ntwo\n\x017\x018\t\v\f\n');
  spawnSync('git', ['init', '-q', join(dir, 'repo')]);
  writeFileSync(join(dir, 'repo', 'a.txt'), 'a\n');
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const corpus: string[][] = [
    ['ls', '-la', '/etc'],
    ['cat', join(dir, 'f.txt')],
    [python, '-c', 'import json'],
    ['cp', data, join(dir, 'copy.bin')],
    ['sha256sum', data],
    ['git', '-C', join(dir, 'repo'), 'status'],
    ['sqlite3', ':memory:', 'create table t(a); insert into t values (1); select * from t;'],
    ['tar', 'cf', join(dir, 'x.tar'), '-C', dir, 'f.txt'],
    ['gzip', '-c', join(dir, 'f.txt')],
    ['sh', '-c', `true; cat ${join(dir, 'f.txt')} | wc -l`],
    ['date', '-u', '+%Y'],
    ['id'],
  ].filter((c) => spawnSync('sh', ['-c', `command -v ${c[0]}`]).status === 0);
  assert.ok(corpus.length >= 10, `only ${corpus.length} programs of the corpus are installed`);
  const total: Comparison = { total: 0, sameName: 0, identical: 0, differ: new Map(), missing: 0 };
  const per: string[] = [];
  // files the programs create are removed before each run: both runs start from the same state
  const fresh = () => { for (const f of ['copy.bin', 'x.tar']) rmSync(join(dir, f), { force: true }); };
  for (const cmd of corpus) {
    fresh();
    const s = underStrace(cmd, dir);
    fresh();
    const { run, text } = await underTrace(cmd, dir);
    assert.equal(run.code, 0, `bpfkit trace -f -- ${cmd.join(' ')}: ${run.stderr}`);
    const b = parseBpfkitFile(text, firstPid(text));
    const one = compare(s, b);
    compare(s, b, total);
    per.push(`${cmd[0]!.split('/').pop()}: ${one.identical}/${one.total} identical, ${one.sameName} aligned, ${s.length}/${b.length} processes`);
  }
  assert.deepEqual(leftoverPrograms('trace_'), []);
  const pct = (n: number) => ((100 * n) / total.total).toFixed(1);
  const worst = [...total.differ.entries()].sort((a, b) => b[1].count - a[1].count).slice(0, 15);
  console.log(`strace comparison: ${total.identical}/${total.total} lines identical (${pct(total.identical)}%), names aligned ${pct(total.sameName)}%, strace lines without a bpfkit line ${total.missing}`);
  for (const l of per) console.log(`  ${l}`);
  for (const [name, d] of worst) console.log(`  differs ${d.count}x ${name}:\n    strace: ${d.strace}\n    bpfkit: ${d.bpfkit}`);
  assert.ok(total.sameName / total.total >= 0.98, `only ${pct(total.sameName)}% of strace's lines have a bpfkit line with the same syscall`);
  assert.ok(total.identical / total.total >= 0.95, `only ${pct(total.identical)}% of lines identical`);
});

test('-f: sh -c \'true; cat f\' shows every child\'s syscalls, as many as strace counts', kernelTest(), async () => {
  const f = join(work, 'f-input.txt');
  writeFileSync(f, 'hello\n');
  // `true` is a builtin: sh forks cat (dash forks for the last command only when it is not exec'd: force a fork with a subshell)
  const cmd = ['sh', '-c', `true; (cat ${f}); echo done`];
  const s = underStrace(cmd, work);
  const { run, text } = await underTrace(cmd, work);
  assert.equal(run.code, 0, run.stderr);
  const b = parseBpfkitFile(text, firstPid(text));
  assert.equal(b.length, s.length, `processes: strace ${s.length}, bpfkit ${b.length}\n${text}`);
  assert.ok(s.length >= 2, 'the shell forked');
  const count = (p: ProcLines) => {
    const m = new Map<string, number>();
    for (const l of p.lines) { const n = l.slice(0, l.indexOf('(')); m.set(n, (m.get(n) ?? 0) + 1); }
    return m;
  };
  s.forEach((p, k) => {
    // per process: exactly strace's number of each syscall
    assert.deepEqual(Object.fromEntries([...count(b[k]!).entries()].sort()), Object.fromEntries([...count(p).entries()].sort()), `process ${k + 1}`);
  });
  const child = b.find((p) => p.lines.some((l) => l.startsWith(`execve("/usr/bin/cat"`) || l.startsWith('execve("/bin/cat"')));
  assert.ok(child, text);
  assert.ok(child.lines.some((l) => l.startsWith(`openat(AT_FDCWD, "${f}", O_RDONLY) = 3`)), child.lines.join('\n'));
  assert.ok(child.lines.some((l) => /^write\(1, "hello\\n", 6\) = 6/.test(l)), child.lines.join('\n'));
  console.log(`-f: ${b.length} processes, ${b.reduce((n, p) => n + p.lines.length, 0)} syscalls, the same per process and per syscall as strace`);
});

test('-p PID -f: a running shell\'s children, from their fork, each with its own [pid N]', kernelTest(), async () => {
  const f = join(work, 'p-input.txt');
  writeFileSync(f, 'abc\n');
  // the shell waits for its go line, then forks three cats
  const child = startGatedChild('sh', ['-c', `read x; for i in 1 2 3; do cat ${f}; done`]);
  const tool = startTool(['trace', '-f', '-p', String(child.proc.pid), '-e', 'execve,openat,write,exit_group'], { timeoutMs: 30_000 });
  try {
    await tool.ready;
  } catch (err) {
    child.proc.kill();
    throw err;
  }
  child.go();
  assert.equal(await child.exited, 0);
  const run = await tool.done;
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  const pids = (re: RegExp) => lines.filter((l) => re.test(l)).map((l) => Number(/^\[pid (\d+)\]/.exec(l)?.[1]));
  const cats = pids(/execve\("\/(usr\/)?bin\/cat", \["cat", /);
  assert.equal(cats.length, 3, run.stdout);
  assert.equal(new Set(cats).size, 3);
  assert.ok(cats.every((p) => p !== child.proc.pid && p > 0));
  for (const p of cats) {
    assert.equal(lines.filter((l) => l.startsWith(`[pid ${p}] openat(AT_FDCWD, "${f}", O_RDONLY) = 3`)).length, 1, run.stdout);
    assert.equal(lines.filter((l) => l.startsWith(`[pid ${p}] write(1, "abc\\n", 4) = 4`)).length, 1, run.stdout);
    assert.equal(lines.filter((l) => l === `[pid ${p}] exit_group(0) = ?`).length, 1, run.stdout);
  }
  assert.equal(child.stdout(), 'abc\nabc\nabc\n');
  assert.deepEqual(leftoverPrograms('trace_'), []);
});

test('-- CMD: traced from its execve, exits with its status (and 128+N when killed by signal N)', kernelTest(), async () => {
  const a = await runTool(['trace', '--', 'sh', '-c', 'exit 7'], { timeoutMs: 30_000 });
  assert.equal(a.code, 7, a.stderr);
  const lines = a.stdout.trim().split('\n');
  assert.match(lines[0]!, /^execve\("\/(usr\/)?bin\/sh", \["sh", "-c", "exit 7"\], 0x[0-9a-f]+ \/\* \d+ vars \*\/\) = 0 <\d+\.\d{6}>$/);
  assert.equal(lines.at(-1), 'exit_group(7) = ?');
  const b = await runTool(['trace', '-e', 'kill', '--', 'sh', '-c', 'kill -TERM $$'], { timeoutMs: 30_000 });
  assert.equal(b.code, 128 + 15, b.stderr);
  assert.match(b.stdout, /^kill\(\d+, SIGTERM\) = 0 <\d+\.\d{6}>$/m);
  assert.match(b.stderr, /\+\+\+ killed by SIGTERM \+\+\+/);
  const c = await runTool(['trace', '--', 'no-such-command-bpfkit'], { timeoutMs: 30_000 });
  assert.equal(c.code, 2);
  assert.match(c.stderr, /cannot run 'no-such-command-bpfkit': not found in PATH/);
  // -k: the stack of a write, symbolized while the process still runs (libc's write wrapper)
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const k = await runTool(['trace', '-k', '-e', 'write', '--', py, '-c', 'import os, time; fd = os.open("/dev/null", os.O_WRONLY); time.sleep(0.3); os.write(fd, b"x"); time.sleep(0.5)'], { timeoutMs: 30_000 });
  assert.equal(k.code, 0, k.stderr);
  const w = k.stdout.split('\n');
  const at = w.findIndex((l) => /^write\(\d+, "x", 1\) = 1/.test(l));
  assert.ok(at >= 0, k.stdout);
  assert.match(w[at + 1]!, /^ > \/\S*libc\.so\.6\((__)?(GI_)?(__libc_)?write\S*\+0x[0-9a-f]+\) \[0x[0-9a-f]+\]$/, k.stdout);
  // (further frames depend on frame pointers: python3 is built without them)
  assert.ok(w.slice(at + 1).filter((l) => l.startsWith(' > ')).length <= 32, k.stdout);
  assert.deepEqual(leftoverPrograms('trace_'), []);
});

// N getppid, M failing opens, W writes of 3 bytes to /dev/null.
const COUNTS = `
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]), m = atoi(argv[2]), w = atoi(argv[3]);
  for (int i = 0; i < n; i++) syscall(SYS_getppid);
  for (int i = 0; i < m; i++) open("/nonexistent-bpfkit-trace-c", O_RDONLY);
  int fd = open("/dev/null", O_WRONLY);
  for (int i = 0; i < w; i++) if (write(fd, "abc", 3) != 3) return 1;
  return 0;
}
`;

test('-c: the counts of strace -c, for a program with a known number of each call', kernelTest(), async () => {
  const bin = compileC(COUNTS);
  const N = 1234, M = 56, W = 78;
  const table = (text: string) => {
    const rows = new Map<string, { calls: number; errors: number }>();
    for (const l of text.split('\n')) {
      const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d+)?\s*([a-z_0-9]+)$/.exec(l);
      if (m) rows.set(m[3]!, { calls: Number(m[1]), errors: Number(m[2] ?? 0) });
    }
    return rows;
  };
  const s = spawnSync('strace', ['-c', '-o', join(work, 'c.txt'), bin, String(N), String(M), String(W)]);
  assert.equal(s.status, 0);
  const ref = table(readFileSync(join(work, 'c.txt'), 'utf8'));
  const r = await runTool(['trace', '-c', '--', bin, String(N), String(M), String(W)], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const got = table(r.stdout);
  assert.deepEqual(got.get('getppid'), { calls: N, errors: 0 });
  assert.deepEqual(got.get('openat'), { calls: ref.get('openat')!.calls, errors: M });
  assert.equal(ref.get('openat')!.errors, M);
  assert.deepEqual(got.get('write'), { calls: W, errors: 0 });
  // every row as strace -c counts it (calls that never return, exit_group, are in neither)
  for (const [name, row] of ref) if (name !== 'total') assert.deepEqual(got.get(name), row, `${name}: strace ${JSON.stringify(row)}, bpfkit ${JSON.stringify(got.get(name))}\n${r.stdout}`);
  for (const name of got.keys()) if (name !== 'total') assert.ok(ref.has(name), `bpfkit counts ${name}, strace -c does not:\n${r.stdout}`);
  // -c alone prints no syscall lines
  assert.doesNotMatch(r.stdout, /^getppid\(/m);
  console.log(`-c: ${got.size - 1} syscalls, the counts of strace -c (getppid ${N}, openat errors ${M}, write ${W})`);
});
