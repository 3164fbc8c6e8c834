// Syscall and errno names, from tables generated out of the kernel's UAPI headers
// (scripts/gen-syscalls.mjs -> table.generated.ts). Nothing here is typed by hand.
import { errnoAliases, errnoMessages, errnoNames, syscallTables } from './table.generated.js';

/** Architectures with a syscall table, named as Node's `process.arch` names them. */
export type SyscallArch = 'x64' | 'arm64';

const NO_TABLE: readonly string[] = [];

/**
 * The table for a `process.arch` value (also accepts the kernel's names x86_64 / aarch64).
 * Other architectures get an empty table: numbers show as syscall_<nr>, names do not resolve
 * (callers can say why with isKnownArch()).
 */
function tableFor(arch: string): readonly string[] {
  switch (arch) {
    case 'x64': case 'x86_64': case 'amd64': return syscallTables.x86_64;
    case 'arm64': case 'aarch64': return syscallTables.arm64;
    default: return NO_TABLE;
  }
}

const numberMaps = new Map<readonly string[], Map<string, number>>();
function numbersFor(arch: string): Map<string, number> {
  const table = tableFor(arch);
  let m = numberMaps.get(table);
  if (!m) {
    m = new Map();
    table.forEach((name, nr) => { if (name) m!.set(name, nr); });
    numberMaps.set(table, m);
  }
  return m;
}

/** Whether bpfkit has a syscall table for `arch` (x64/x86_64, arm64/aarch64). */
export function isKnownArch(arch: string = process.arch): boolean {
  return ['x64', 'x86_64', 'amd64', 'arm64', 'aarch64'].includes(arch);
}

/** Name of syscall `nr` on `arch`; `syscall_<nr>` for numbers not in the table. */
export function syscallName(nr: number, arch: string = process.arch): string {
  const name = Number.isInteger(nr) && nr >= 0 ? tableFor(arch)[nr] : undefined;
  return name ? name : `syscall_${nr}`;
}

/**
 * Number of syscall `name` on `arch`, or undefined if unknown. Accepts a leading `sys_` or
 * `__NR_`, and `syscall_<nr>` (the name syscallName gives to numbers outside the table).
 */
export function syscallNumber(name: string, arch: string = process.arch): number | undefined {
  const n = name.trim().replace(/^(sys_|__NR_)/, '');
  const nr = numbersFor(arch).get(n);
  if (nr !== undefined) return nr;
  const m = /^syscall_(\d+)$/.exec(n);
  return m ? Number(m[1]) : undefined;
}

/** Every syscall on `arch`, in number order (for `syscount -l`). */
export function allSyscalls(arch: string = process.arch): { nr: number; name: string }[] {
  const out: { nr: number; name: string }[] = [];
  tableFor(arch).forEach((name, nr) => { if (name) out.push({ nr, name }); });
  return out;
}

/** Levenshtein distance, with an early exit once every cell of a row exceeds `max`. */
function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Up to `limit` (default 3) syscall names close to `name`, best first, for "unknown syscall"
 * errors: small edit distance (scaled with length), or one name being a prefix/substring of
 * the other (getpid2 -> getpid, epoll -> epoll_create ...).
 */
export function suggestSyscalls(name: string, arch: string = process.arch, limit = 3): string[] {
  const q = name.trim().toLowerCase().replace(/^(sys_|__nr_)/, '');
  if (!q) return [];
  const maxDist = q.length <= 4 ? 1 : q.length <= 8 ? 2 : 3;
  const scored: { name: string; score: number }[] = [];
  for (const { name: cand } of allSyscalls(arch)) {
    if (cand === q) continue;
    const d = editDistance(q, cand, maxDist);
    let score = Infinity;
    if (d <= maxDist) score = d;
    // Prefix/substring matches rank after close edits; shorter extra text ranks first.
    if (q.length >= 3 && (cand.startsWith(q) || q.startsWith(cand))) {
      score = Math.min(score, 1 + Math.abs(cand.length - q.length) / 100);
    } else if (q.length >= 4 && (cand.includes(q) || (cand.length >= 4 && q.includes(cand)))) {
      score = Math.min(score, 2 + Math.abs(cand.length - q.length) / 100);
    }
    if (score !== Infinity) scored.push({ name: cand, score });
  }
  scored.sort((a, b) => a.score - b.score || a.name.length - b.name.length || (a.name < b.name ? -1 : 1));
  return scored.slice(0, limit).map((s) => s.name);
}

/** Linux errno name for `n` (ENOENT for 2; a negative return value works too); `E<n>` if unknown. */
export function errnoName(n: number): string {
  const a = Math.abs(n);
  const name = Number.isInteger(a) ? errnoNames[a] : undefined;
  return name ? name : `E${a}`;
}

/** strerror() text for errno `n` ("No such file or directory" for 2), or undefined if unknown. */
export function errnoMessage(n: number): string | undefined {
  return errnoMessages[Math.abs(n)] || undefined;
}

/** Number for a Linux errno name (ENOENT -> 2, EWOULDBLOCK -> 11), or undefined. Case-insensitive. */
export function errnoNumber(name: string): number | undefined {
  const n = name.trim().toUpperCase();
  const i = errnoNames.indexOf(n);
  if (i > 0) return i;
  return Object.prototype.hasOwnProperty.call(errnoAliases, n) ? errnoAliases[n] : undefined;
}
