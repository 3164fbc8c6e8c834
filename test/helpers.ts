// Shared helpers for kernel tests: run the real CLI as a child, real workloads, exact checks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled CLI (tests run from dist/test/...). */
export const BPFKIT = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Kernel tests need root. Outside CI they are skipped without it; in CI (CI=true) a missing
 * privilege is a failure, never a skip. Use as `test('...', kernelTest(), async () => ...)`.
 */
export function kernelTest(): { skip: string | false } {
  const root = process.getuid?.() === 0;
  if (!root && process.env.CI === 'true') throw new Error('kernel tests must run as root in CI');
  return { skip: root ? false : 'needs root' };
}

export interface ToolRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Run `bpfkit ARGS` to completion. */
export function runTool(args: string[], opts: { timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {}): Promise<ToolRun> {
  const t = startTool(args, opts);
  return t.done;
}

export interface StartedTool {
  proc: ChildProcess;
  /** Resolves when the tool printed BPFKIT_READY (programs attached); rejects if it exits first. */
  ready: Promise<void>;
  done: Promise<ToolRun>;
  stop(signal?: NodeJS.Signals): Promise<ToolRun>;
}

/** Start `bpfkit ARGS` in the background, with BPFKIT_READY=1 so that `ready` can be awaited. */
export function startTool(args: string[], opts: { timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {}): StartedTool {
  const proc = spawn(process.execPath, [BPFKIT, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, BPFKIT_READY: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { readyResolve = res; readyReject = rej; });
  ready.catch(() => {});
  proc.stdout!.on('data', (d) => { stdout += d; });
  proc.stderr!.on('data', (d) => {
    stderr += d;
    if (stderr.includes('BPFKIT_READY\n')) readyResolve();
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = new Promise<ToolRun>((resolve) => {
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      readyReject(new Error(`bpfkit ${args.join(' ')} exited (${code ?? signal}) before ready:\n${stderr}`));
      resolve({ code, signal, stdout, stderr: stderr.replace(/BPFKIT_READY\n/g, '') });
    });
  });
  return {
    proc,
    ready,
    done,
    stop(signal: NodeJS.Signals = 'SIGINT') {
      proc.kill(signal);
      return done;
    },
  };
}

/** Compile a C program once (cached by content) and return the binary's path. */
export function compileC(source: string, extraFlags: string[] = []): string {
  const hash = createHash('sha1').update(source + extraFlags.join(' ')).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'bpfkit-test-bin');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, `w-${hash}`);
  if (!existsSync(bin)) {
    const src = `${bin}.c`;
    writeFileSync(src, source);
    const r = spawnSync('gcc', ['-O1', '-o', bin, src, ...extraFlags], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc failed: ${r.stderr}`);
  }
  return bin;
}

/**
 * Start a workload that waits for a line on stdin before it does its work, so that a tool can
 * attach to its PID first. Resolves `exited` with its exit code.
 */
export function startGatedChild(cmd: string, args: string[] = []): { proc: ChildProcess; go(): void; exited: Promise<number | null>; stdout: () => string } {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((res) => proc.on('close', (code) => res(code)));
  return { proc, go: () => proc.stdin!.write('go\n'), exited, stdout: () => out };
}

/** Names of loaded BPF programs (bpftool), for leak checks. */
export function loadedProgramNames(): string[] {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as Array<{ name?: string }>).map((p) => p.name ?? '');
}

/**
 * Programs whose names start with `prefix` still loaded after a tool exited (should be none).
 * The kernel frees a program shortly after its last fd closes (RCU), so wait up to 3 s for it.
 */
export function leftoverPrograms(prefix: string): string[] {
  const deadline = Date.now() + 3000;
  for (;;) {
    const left = loadedProgramNames().filter((n) => n.startsWith(prefix));
    if (left.length === 0 || Date.now() > deadline) return left;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
}

/** Programs loaded right now whose names start with `prefix` (no waiting). */
export function loadedPrograms(prefix: string): string[] {
  return loadedProgramNames().filter((n) => n.startsWith(prefix));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ../shared/kernels/run-in-kernel beside the repo (present on developer machines and in CI). */
export const RUN_IN_KERNEL = join(REPO, '..', 'shared', 'kernels', 'run-in-kernel');

/**
 * Run a shell script under the second kernel (Debian 6.1: kprobes and fentry, none of the newest
 * tracepoints), in the repo directory. Returns exit code and the console output of the script.
 */
export function runInKernel(script: string, timeoutS = 400): Promise<{ code: number | null; output: string }> {
  if (!existsSync(RUN_IN_KERNEL)) throw new Error(`${RUN_IN_KERNEL} is missing`);
  const file = join(tmpdir(), `bpfkit-rik-${process.pid}-${Date.now()}.sh`);
  writeFileSync(file, `set -e\ncd ${JSON.stringify(REPO)}\n${script}\n`);
  return new Promise((resolve) => {
    const p = spawn(RUN_IN_KERNEL, ['--timeout', String(timeoutS), '--', 'bash', file], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout!.on('data', (d) => { output += d; });
    p.stderr!.on('data', (d) => { output += d; });
    p.on('close', (code) => resolve({ code, output }));
  });
}

/** scripts/run-in-arm64: Debian's arm64 6.1 kernel on an emulated arm64 machine (qemu-system-aarch64). */
export const RUN_IN_ARM64 = join(REPO, 'scripts', 'run-in-arm64');

/**
 * Run a shell script as root under the arm64 kernel, in the repo directory, with arm64 bash,
 * busybox, node and bpftool (host x86-64 binaries cannot run there). Returns exit code and output.
 */
export function runInArm64(script: string, timeoutS = 400): Promise<{ code: number | null; output: string }> {
  const file = join(tmpdir(), `bpfkit-ria-${process.pid}-${Date.now()}.sh`);
  writeFileSync(file, `set -e\ncd ${JSON.stringify(REPO)}\n${script}\n`);
  return new Promise((resolve) => {
    const p = spawn(RUN_IN_ARM64, ['--timeout', String(timeoutS), '--', 'bash', file], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RIA_TIMES: '1' } });
    let output = '';
    p.stdout!.on('data', (d) => { output += d; });
    p.stderr!.on('data', (d) => { output += d; });
    p.on('close', (code) => resolve({ code, output }));
  });
}

/** Compile a C program for arm64 (static, so it needs no arm64 libc in the guest), cached by content. */
export function compileArm64(source: string, extraFlags: string[] = []): string {
  const hash = createHash('sha1').update(source + extraFlags.join(' ')).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'bpfkit-test-bin');
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, `a64-${hash}`);
  if (!existsSync(bin)) {
    const src = `${bin}.c`;
    writeFileSync(src, source);
    const r = spawnSync('aarch64-linux-gnu-gcc', ['-O1', '-static', '-o', bin, src, ...extraFlags], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`aarch64-linux-gnu-gcc failed: ${r.error?.message ?? r.stderr}`);
  }
  return bin;
}
