// Benchmark helpers: time commands, run bpfkit in the background, read peak memory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BPFKIT = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Wall time of one run of a command, in seconds. */
export function timeCommand(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export interface Background { proc: ChildProcess; readyMs: number; stop(): Promise<void>; peakRssKiB(): number }

/** Start a command and wait until `isReady(stdout+stderr)` holds. */
export function startBackground(cmd: string, args: string[], isReady: (out: string) => boolean, env: NodeJS.ProcessEnv = process.env): Promise<Background> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let done = false;
    const check = (d: Buffer) => {
      out += d;
      if (!done && isReady(out)) {
        done = true;
        const readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
        resolve({
          proc,
          readyMs,
          peakRssKiB: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0),
          stop: () => new Promise<void>((res) => { proc.on('close', () => res()); proc.kill('SIGINT'); }),
        });
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    proc.on('close', (code) => { if (!done) reject(new Error(`${cmd} exited (${code}) before ready:\n${out}`)); });
  });
}

/** bpfkit TOOL ARGS in the background, ready once its programs are attached. */
export function startBpfkit(args: string[]): Promise<Background> {
  return startBackground(process.execPath, [BPFKIT, ...args], (o) => o.includes('BPFKIT_READY'), { ...process.env, BPFKIT_READY: '1' });
}

export const fmt = (x: number, digits = 2) => x.toFixed(digits);

/** The pipeline lab (examples/pipeline/run.sh) on its own dir and ports: run.sh and its loader's rate. */
export function pipelineLab(env: NodeJS.ProcessEnv): { lab(...args: string[]): string; changesPerSec(seconds: number): number } {
  const script = fileURLToPath(new URL('../../examples/pipeline/run.sh', import.meta.url));
  const lab = (...args: string[]): string => {
    const r = spawnSync('bash', [script, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`run.sh ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const changesPerSec = (seconds: number): number =>
    (JSON.parse(lab('status', '--json', '--interval', String(seconds))) as { loader: { changesPerSec: number } }).loader.changesPerSec;
  return { lab, changesPerSec };
}
