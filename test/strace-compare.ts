// Side-by-side comparison of `bpfkit trace -f` with `strace -f` on the same program: both
// outputs are split per process, normalized, aligned by syscall name, and compared line by line.
//
// Normalization (documented in docs/tools/trace.md), only what differs from run to run:
//   - durations (` <0.000012>`) and strace's column padding before ` = `;
//   - addresses: hex numbers of 5 digits or more (ASLR, heap, stack pointers) become 0x_;
//   - process ids in results: each traced pid becomes PID1, PID2, ... in pid order, so results
//     of clone/getpid/set_tid_address and wait4 compare;
//   - the random bytes getrandom returns.
// Lines only strace has (`+++ exited with 0 +++`, `--- SIGCHLD {...} ---`) are not syscalls and
// are left out of both.

export interface ProcLines { pid: number; lines: string[] }

/** strace -ff -o PREFIX: one file per pid, lines without prefix. */
export function parseStraceFiles(files: Map<number, string>): ProcLines[] {
  return [...files.entries()].sort((a, b) => a[0] - b[0]).map(([pid, text]) => ({ pid, lines: text.split('\n').filter(isCall) }));
}

/** bpfkit trace -f -o FILE: `PID   line` once several tasks run (the first lines have no pid: the first task's). */
export function parseBpfkitFile(text: string, firstPid: number): ProcLines[] {
  const by = new Map<number, string[]>();
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const m = /^(\d+) +(.*)$/.exec(raw);
    const pid = m ? Number(m[1]) : firstPid;
    const line = m ? m[2]! : raw;
    if (!isCall(line)) continue;
    if (!by.has(pid)) by.set(pid, []);
    by.get(pid)!.push(line);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([pid, lines]) => ({ pid, lines }));
}

function isCall(line: string): boolean {
  return /^[a-z_0-9]+\(/.test(line) && !line.startsWith('+++') && !line.startsWith('---');
}

export function normalize(line: string, pids: Map<number, string>): string {
  let s = line.replace(/ <\d+\.\d+>$/, '').replace(/\)\s+= /, ') = ');
  s = s.replace(/^(getrandom\(")[^"]*(")/, '$1RANDOM$2');
  s = s.replace(/0x[0-9a-f]{5,}/g, '0x_');
  // pids in results only (clone, getpid, wait4...): a length can equal a pid too
  const eq = s.lastIndexOf(') = ');
  if (eq >= 0) s = s.slice(0, eq) + s.slice(eq).replace(/\b\d{2,7}\b/g, (n) => pids.get(Number(n)) ?? n);
  return s;
}

export interface Comparison {
  /** strace's lines (the reference). */
  total: number;
  sameName: number;
  identical: number;
  /** Per syscall name: lines strace and bpfkit print differently (aligned pairs), with one example. */
  differ: Map<string, { count: number; strace: string; bpfkit: string }>;
  /** strace lines with no bpfkit line aligned to them. */
  missing: number;
}

/** Longest common subsequence of syscall names: the pairs of aligned lines. */
function align(a: string[], b: string[]): Array<[number, number]> {
  const name = (l: string) => l.slice(0, l.indexOf('('));
  const an = a.map(name);
  const bn = b.map(name);
  const n = a.length;
  const m = b.length;
  const dp: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i]![j] = an[i] === bn[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
  const out: Array<[number, number]> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (an[i] === bn[j]) { out.push([i, j]); i++; j++; } else if (dp[i + 1]![j]! >= dp[i]![j + 1]!) i++; else j++;
  }
  return out;
}

/** Compare per process (the k-th pid of one with the k-th of the other: pids grow in fork order). */
export function compare(strace: ProcLines[], bpfkit: ProcLines[], into?: Comparison): Comparison {
  const c: Comparison = into ?? { total: 0, sameName: 0, identical: 0, differ: new Map(), missing: 0 };
  const pidsA = new Map(strace.map((p, k) => [p.pid, `PID${k + 1}`]));
  const pidsB = new Map(bpfkit.map((p, k) => [p.pid, `PID${k + 1}`]));
  strace.forEach((p, k) => {
    const a = p.lines.map((l) => normalize(l, pidsA));
    const b = (bpfkit[k]?.lines ?? []).map((l) => normalize(l, pidsB));
    c.total += a.length;
    const pairs = align(a, b);
    c.sameName += pairs.length;
    c.missing += a.length - pairs.length;
    for (const [i, j] of pairs) {
      if (a[i] === b[j]) { c.identical++; continue; }
      const name = a[i]!.slice(0, a[i]!.indexOf('('));
      const d = c.differ.get(name);
      if (d) d.count++;
      else c.differ.set(name, { count: 1, strace: a[i]!, bpfkit: b[j]! });
    }
  });
  return c;
}
