// Folded stacks (the input format of flamegraph.pl, inferno and speedscope's importer): one line per
// distinct stack, `root;child;...;leaf count`, root first.

/** One stack (root first) and how many samples it got. The common input of all stack renderers. */
export interface StackCount {
  stack: string[];
  count: number;
}

/** Makes a frame safe for the folded format: no `;`, no line breaks, no trailing ` NUMBER` ambiguity. */
export function sanitizeFrame(name: string): string {
  if (name !== '' && !/[;\r\n\t]/.test(name)) return name;
  const s = name.replace(/;/g, ':').replace(/[\r\n\t]+/g, ' ');
  return s === '' ? '[empty]' : s;
}

/** Sums the counts of identical stacks; drops stacks with a count <= 0. Order: first appearance. */
export function mergeStacks(stacks: Iterable<StackCount>): StackCount[] {
  const byKey = new Map<string, StackCount>();
  for (const s of stacks) {
    if (!(s.count > 0)) continue;
    const frames = s.stack.map(sanitizeFrame);
    const key = frames.join(';');
    const prev = byKey.get(key);
    if (prev) prev.count += s.count;
    else byKey.set(key, { stack: frames, count: s.count });
  }
  return [...byKey.values()];
}

export interface FoldedOptions {
  /** Sort lines (byte order, like `sort`), so output is deterministic. Default true. */
  sort?: boolean;
}

/** Renders folded stacks text, one `a;b;c N` line per distinct stack, ending with a newline. */
export function renderFolded(stacks: Iterable<StackCount>, opts: FoldedOptions = {}): string {
  const lines = mergeStacks(stacks)
    .filter((s) => s.stack.length > 0)
    .map((s) => `${s.stack.join(';')} ${s.count}`);
  if (opts.sort ?? true) lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** Parses folded stacks text (lines `a;b;c N`; blank and malformed lines are skipped). */
export function parseFolded(text: string): StackCount[] {
  const out: StackCount[] = [];
  for (const line of text.split('\n')) {
    const m = /^(.*\S)\s+(\d+(?:\.\d+)?)\s*$/.exec(line);
    if (!m) continue;
    out.push({ stack: m[1]!.split(';'), count: Number(m[2]) });
  }
  return out;
}

/** Total sample count. */
export function totalCount(stacks: Iterable<StackCount>): number {
  let t = 0;
  for (const s of stacks) if (s.count > 0) t += s.count;
  return t;
}

export type FrameKindTag = 'kernel' | 'jit' | 'inline' | 'user' | 'unknown';

/**
 * Splits the flamegraph.pl kind suffix off a frame label: `_[k]` kernel, `_[j]` JIT, `_[i]` inlined.
 * Frames without a suffix are user frames, except `[unknown]` and unresolved `module+0xOFF` frames.
 */
export function splitKind(label: string): { name: string; kind: FrameKindTag } {
  const m = /_\[([kji])\]$/.exec(label);
  if (m) {
    const name = label.slice(0, -4);
    const kind = m[1] === 'k' ? 'kernel' : m[1] === 'j' ? 'jit' : 'inline';
    if (kind === 'kernel' && name === '[unknown]') return { name, kind: 'kernel' };
    return { name, kind };
  }
  if (label === '[unknown]' || /^[^\s()]+\+0x[0-9a-f]+$/.test(label)) return { name: label, kind: 'unknown' };
  return { name: label, kind: 'user' };
}
