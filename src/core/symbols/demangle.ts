// C++ (Itanium ABI) and Rust symbol demangling, in one batch through binutils' c++filt when it is
// installed (one process for all names). Without c++filt, names stay mangled.

import { spawnSync } from 'node:child_process';

/** Looks like an Itanium (`_Z...`) or Rust v0 (`_R...`) mangled name. */
export function isMangled(name: string): boolean {
  return /^_{1,2}Z[A-Za-z0-9_]/.test(name) || /^_R[A-Z0-9_]/.test(name);
}

let tool: string | null | undefined;
const cache = new Map<string, string>();

function cxxfilt(): string | null {
  if (tool === undefined) {
    const r = spawnSync('c++filt', ['--version'], { stdio: ['ignore', 'ignore', 'ignore'] });
    tool = r.status === 0 ? 'c++filt' : null;
  }
  return tool;
}

/** True when a demangler is available. */
export function canDemangle(): boolean {
  return cxxfilt() !== null;
}

/**
 * Demangles many names at once; returns a map from each mangled input to its demangled form (names
 * that are not mangled, or that c++filt leaves alone, map to themselves).
 */
export function demangleAll(names: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  const todo: string[] = [];
  for (const n of names) {
    if (out.has(n)) continue;
    const hit = cache.get(n);
    if (hit !== undefined) out.set(n, hit);
    else if (!isMangled(n) || /[\n\r]/.test(n)) out.set(n, n);
    else {
      out.set(n, n);
      todo.push(n);
    }
  }
  const t = todo.length ? cxxfilt() : null;
  if (t) {
    const r = spawnSync(t, [], { input: todo.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 28 });
    if (r.status === 0 && typeof r.stdout === 'string') {
      const lines = r.stdout.split('\n');
      if (lines.length >= todo.length) {
        for (let i = 0; i < todo.length; i++) {
          const d = lines[i]!;
          out.set(todo[i]!, d);
          cache.set(todo[i]!, d);
        }
      }
    }
  }
  return out;
}

/** Demangles one name (spawns c++filt unless cached: prefer demangleAll for many). */
export function demangle(name: string): string {
  return demangleAll([name]).get(name) ?? name;
}

/**
 * Demangles the frames of root-first label stacks (as produced by Symbolizer.stackLabels), keeping
 * kind suffixes (`_[k]`, `_[j]`) and `+0x`/` (module)` decorations. Folded-format separators that a
 * demangled name may contain (`;`) are replaced by `:`.
 */
export function demangleStacks<T extends { stack: string[] }>(stacks: readonly T[]): T[] {
  // Name, then the decorations frameLabel may add: +0xOFF, (module), [kernel module], kind suffix.
  const re = /^(_{1,2}Z[\w.$]+?|_R[\w.$]+?)((?:\+0x[0-9a-f]+)?(?: \([^()]*\))?(?: \[[^\]]*\])?(?:_\[[kji]\])?)$/;
  const names = new Set<string>();
  for (const s of stacks) {
    for (const f of s.stack) {
      const m = re.exec(f);
      if (m) names.add(m[1]!);
    }
  }
  if (names.size === 0) return stacks.slice();
  const map = demangleAll(names);
  return stacks.map((s) => ({
    ...s,
    stack: s.stack.map((f) => {
      const m = re.exec(f);
      if (!m) return f;
      return (map.get(m[1]!) ?? m[1]!).replace(/;/g, ':') + m[2]!;
    }),
  }));
}
