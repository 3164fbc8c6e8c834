// Kernel symbols from /proc/kallsyms: a sorted typed array of addresses (relative to the lowest kernel
// address, so they fit exactly in a double) and binary search.

import { readFileSync } from 'node:fs';
import { SymbolCollector, SymbolTable } from './symtab.js';
import type { Frame } from './types.js';

export const KERNEL_MODULE = 'kernel';

export interface KernelSymbol {
  name: string;
  /** `kernel` for the core image, else the module name without brackets (`ext4`, `bpf`). */
  module: string;
  /** Absolute symbol address. */
  address: bigint;
  offset: number;
}

// Only text symbols (types t, T, w, W) are kept, as perf does.
const MAX_EXTENT = 1 << 20;

export class KernelSymbols {
  private readonly table: SymbolTable;
  private readonly modules: string[];
  private readonly base: bigint;
  private readonly top: bigint;
  /** False when kallsyms shows only zero addresses (kptr_restrict, not root): every lookup then fails. */
  readonly available: boolean;

  private constructor(table: SymbolTable, modules: string[], base: bigint, top: bigint, available: boolean) {
    this.table = table;
    this.modules = modules;
    this.base = base;
    this.top = top;
    this.available = available;
  }

  static load(path = '/proc/kallsyms'): KernelSymbols {
    return KernelSymbols.parse(readFileSync(path, 'latin1'));
  }

  /** Parses kallsyms text (`ADDR TYPE NAME [module]` per line). */
  static parse(text: string): KernelSymbols {
    // Addresses are split into 32-bit halves (parseInt is exact there; BigInt per line is slow).
    const his: number[] = [];
    const los: number[] = [];
    const names: string[] = [];
    const mods: number[] = [];
    const modIndex = new Map<string, number>([[KERNEL_MODULE, 0]]);
    const modules: string[] = [KERNEL_MODULE];
    let pos = 0;
    const len = text.length;
    while (pos < len) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = len;
      const line = text.slice(pos, nl);
      pos = nl + 1;
      const sp1 = line.indexOf(' ');
      if (sp1 <= 0 || sp1 + 3 > line.length) continue;
      const type = line.charCodeAt(sp1 + 1);
      // t T w W
      if (type !== 0x74 && type !== 0x54 && type !== 0x77 && type !== 0x57) continue;
      if (line.charCodeAt(sp1 + 2) !== 0x20) continue;
      const split = Math.max(0, sp1 - 8);
      const hi = split > 0 ? parseInt(line.slice(0, split), 16) : 0;
      const lo = parseInt(line.slice(split, sp1), 16);
      if (Number.isNaN(hi) || Number.isNaN(lo) || (hi === 0 && lo === 0)) continue;
      const nameStart = sp1 + 3;
      let nameEnd = line.indexOf('\t', nameStart);
      let mi = 0;
      if (nameEnd < 0) nameEnd = line.length;
      else {
        const ob = line.indexOf('[', nameEnd);
        const cb = ob < 0 ? -1 : line.indexOf(']', ob);
        if (ob >= 0 && cb >= 0) {
          const mod = line.slice(ob + 1, cb);
          let m = modIndex.get(mod);
          if (m === undefined) {
            m = modules.length;
            modules.push(mod);
            modIndex.set(mod, m);
          }
          mi = m;
        }
      }
      if (nameEnd > nameStart && line.charCodeAt(nameEnd - 1) === 0x0d) nameEnd--;
      his.push(hi);
      los.push(lo);
      names.push(line.slice(nameStart, nameEnd));
      mods.push(mi);
    }
    const n = names.length;
    if (n === 0) return new KernelSymbols(new SymbolTable([]), [], 0n, 0n, false);
    let bHi = his[0]!;
    let bLo = los[0]!;
    for (let i = 1; i < n; i++) {
      if (his[i]! < bHi || (his[i] === bHi && los[i]! < bLo)) {
        bHi = his[i]!;
        bLo = los[i]!;
      }
    }
    const raw = new SymbolCollector();
    const src = raw.source((i) => names[i]!);
    raw.reserve(n);
    let maxRel = 0;
    for (let i = 0; i < n; i++) {
      const rel = (his[i]! - bHi) * 0x100000000 + (los[i]! - bLo);
      if (rel > maxRel) maxRel = rel;
      // kallsyms has no sizes: a symbol ends at the next one, and never spans more than MAX_EXTENT
      // (the gap between the kernel image and module space would otherwise belong to one symbol).
      raw.add(rel, 0, src, i, 0, rel + MAX_EXTENT, mods[i]!);
    }
    const base = (BigInt(bHi) << 32n) | BigInt(bLo);
    const limit = maxRel + 0x10000; // the last symbol may extend at most 64 KiB
    return new KernelSymbols(new SymbolTable(raw, limit), modules, base, base + BigInt(limit), true);
  }

  get size(): number {
    return this.table.size;
  }

  lookup(addr: bigint): KernelSymbol | undefined {
    if (!this.available || addr < this.base || addr >= this.top) return undefined;
    const hit = this.table.lookup(Number(addr - this.base));
    if (!hit) return undefined;
    return {
      name: hit.name,
      module: this.modules[this.table.tags[hit.index]!]!,
      address: BigInt(hit.start) + this.base,
      offset: hit.offset,
    };
  }

  /** Address of a symbol by name (linear scan; for tests and diagnostics). */
  addressOf(name: string): bigint | undefined {
    const a = this.table.addressOf(name);
    return a === undefined ? undefined : BigInt(a) + this.base;
  }

  /**
   * Symbolizes one kernel address. `lookupAddr` may differ from `addr` (return address - 1) while the
   * reported offset stays relative to the original address.
   */
  frame(addr: bigint, lookupAddr: bigint = addr): Frame {
    const s = this.lookup(lookupAddr);
    if (!s) return { name: '[unknown]', module: KERNEL_MODULE, kind: 'kernel' };
    return { name: s.name, module: s.module, offset: Number(addr - s.address), kind: 'kernel' };
  }
}
