// Kernel symbols from /proc/kallsyms: a sorted typed array of addresses (relative to the lowest kernel
// address, so they fit exactly in a double) and binary search.

import { readFileSync } from 'node:fs';
import { SymbolTable, type RawSymbol } from './symtab.js';
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

/** Text symbol types (perf keeps the same set). */
const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);

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
    const entries: { addr: bigint; name: string; module: string }[] = [];
    let base = -1n;
    let top = 0n;
    let pos = 0;
    const len = text.length;
    while (pos < len) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = len;
      const line = text.slice(pos, nl);
      pos = nl + 1;
      const sp1 = line.indexOf(' ');
      if (sp1 <= 0) continue;
      const type = line[sp1 + 1];
      if (type === undefined || !TEXT_TYPES.has(type) || line[sp1 + 2] !== ' ') continue;
      const rest = line.slice(sp1 + 3);
      let name = rest;
      let module = KERNEL_MODULE;
      const tab = rest.search(/[\t ]/);
      if (tab >= 0) {
        name = rest.slice(0, tab);
        const m = /\[([^\]]+)\]/.exec(rest.slice(tab));
        if (m) module = m[1]!;
      }
      const addr = BigInt('0x' + line.slice(0, sp1));
      if (addr === 0n) continue;
      if (base < 0n || addr < base) base = addr;
      if (addr > top) top = addr;
      entries.push({ addr, name, module });
    }
    if (base < 0n) return new KernelSymbols(new SymbolTable([]), [], 0n, 0n, false);
    const raw: RawSymbol[] = [];
    const modIndex = new Map<string, number>();
    const modules: string[] = [];
    for (const e of entries) {
      let mi = modIndex.get(e.module);
      if (mi === undefined) {
        mi = modules.length;
        modules.push(e.module);
        modIndex.set(e.module, mi);
      }
      raw.push({ addr: Number(e.addr - base), size: 0, name: e.name, tag: mi });
    }
    const limit = Number(top - base) + 0x10000; // the last symbol may extend at most 64 KiB
    return new KernelSymbols(new SymbolTable(raw, limit), modules, base, top + 0x10000n, true);
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
    const hex = '0x' + addr.toString(16);
    const s = this.lookup(lookupAddr);
    if (!s) return { name: '[unknown]', module: KERNEL_MODULE, kind: 'kernel', addr: hex };
    return { name: s.name, module: s.module, offset: Number(addr - s.address), kind: 'kernel', addr: hex };
  }
}
