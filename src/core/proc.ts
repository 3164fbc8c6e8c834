// Readers of /proc/PID files shared by the tools (pure parsers plus thin readers). Every reader
// takes the procfs root (tests point it elsewhere) and returns undefined once the process is gone.
import { readdirSync, readFileSync } from 'node:fs';

const read = (path: string, encoding: BufferEncoding = 'utf8'): string | undefined => {
  try {
    return readFileSync(path, encoding);
  } catch {
    return undefined;
  }
};

/** The numeric entries of procfs (every process), ascending. */
export function listPids(procRoot = '/proc'): number[] {
  return readdirSync(procRoot).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
}

/** /proc/PID/comm without its newline. */
export function readComm(pid: number | 'self', procRoot = '/proc'): string | undefined {
  return read(`${procRoot}/${pid}/comm`)?.replace(/\n$/, '');
}

export interface ProcStat {
  comm: string;
  /** R, S, D, Z, X, ... */
  state: string;
  ppid: number;
}

/**
 * The first fields of /proc/PID/stat. comm sits in parentheses and may itself hold spaces and
 * ')', so the fields after it are found from the last ')'.
 */
export function parseStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  return { comm: text.slice(text.indexOf('(') + 1, close), state: rest[0] ?? '', ppid: Number(rest[1]) };
}

export function readStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  const text = read(`${procRoot}/${pid}/stat`);
  return text === undefined ? undefined : parseStat(text);
}

/** The process has exited: no /proc entry, or a zombie (Z) or dead (X) task waiting for its parent. */
export function processGone(pid: number, procRoot = '/proc'): boolean {
  const s = readStat(pid, procRoot);
  return s === undefined || s.state === 'Z' || s.state === 'X';
}

/** "Key:\tvalue" lines of /proc/PID/status, values trimmed. */
export function parseStatus(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

export function readStatus(pid: number | 'self', procRoot = '/proc'): Map<string, string> | undefined {
  const text = read(`${procRoot}/${pid}/status`, 'latin1');
  return text === undefined ? undefined : parseStatus(text);
}

/** /proc/PID/cmdline with its NUL separators as spaces ('' for kernel threads). */
export function readCmdline(pid: number, procRoot = '/proc'): string | undefined {
  return read(`${procRoot}/${pid}/cmdline`)?.replace(/\0+$/, '').replace(/\0/g, ' ');
}

/** The process's cgroup v2 path (the "0::" line of /proc/PID/cgroup), '' if it has none. */
export function readCgroup2(pid: number, procRoot = '/proc'): string | undefined {
  const text = read(`${procRoot}/${pid}/cgroup`);
  return text === undefined ? undefined : text.split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '';
}
