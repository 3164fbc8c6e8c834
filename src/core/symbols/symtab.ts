// A compact, sorted symbol table with binary search. Addresses are JS numbers (exact below 2^53: user
// space virtual addresses, ELF vaddrs and kernel addresses relative to a base all fit).

import type { SymbolHit } from './types.js';

export interface RawSymbol {
  addr: number;
  /** 0 means unknown: the symbol extends to the next symbol (bounded by `limit`). */
  size: number;
  name: string;
  /** Lower is preferred when two symbols start at the same address. */
  rank?: number;
  /** For size-0 symbols: never extend past this address (e.g. the end of the containing section). */
  bound?: number;
  /** Free small integer carried along (kallsyms: module index). */
  tag?: number;
}

/** How far a size-0 symbol may extend when no next symbol bounds it. */
const DEFAULT_OPEN_END = 1 << 20;

export class SymbolTable {
  readonly starts: Float64Array;
  readonly ends: Float64Array;
  readonly names: string[];
  readonly tags: Int32Array;
  /** For each index, the greatest end among entries 0..i (lets lookups skip nested/overlapping symbols). */
  private readonly maxEnd: Float64Array;

  /**
   * @param syms unsorted symbols (consumed)
   * @param limit optional upper bound of the address space covered (a size-0 symbol never ends past it)
   */
  constructor(syms: RawSymbol[], limit?: number) {
    syms.sort((a, b) => a.addr - b.addr || (a.rank ?? 0) - (b.rank ?? 0) || b.size - a.size);
    // Deduplicate identical start addresses: keep the first (best rank, then largest size).
    const kept: RawSymbol[] = [];
    for (const s of syms) {
      const prev = kept[kept.length - 1];
      if (prev && prev.addr === s.addr) {
        if (prev.size === 0 && s.size > 0) prev.size = s.size;
        continue;
      }
      kept.push(s);
    }
    const n = kept.length;
    this.starts = new Float64Array(n);
    this.ends = new Float64Array(n);
    this.maxEnd = new Float64Array(n);
    this.names = new Array<string>(n);
    this.tags = new Int32Array(n);
    let running = 0;
    for (let i = 0; i < n; i++) {
      const s = kept[i]!;
      this.starts[i] = s.addr;
      this.names[i] = s.name;
      this.tags[i] = s.tag ?? 0;
      let end: number;
      if (s.size > 0) end = s.addr + s.size;
      else {
        const next = i + 1 < n ? kept[i + 1]!.addr : (limit ?? s.addr + DEFAULT_OPEN_END);
        end = next;
        if (limit !== undefined && end > limit && limit > s.addr) end = limit;
        if (s.bound !== undefined && end > s.bound && s.bound > s.addr) end = s.bound;
        end = Math.max(end, s.addr + 1);
      }
      this.ends[i] = end;
      running = Math.max(running, end);
      this.maxEnd[i] = running;
    }
  }

  get size(): number {
    return this.starts.length;
  }

  /** Index of the last symbol whose start <= addr, or -1. */
  private floor(addr: number): number {
    const a = this.starts;
    let lo = 0;
    let hi = a.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! <= addr) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  lookup(addr: number): SymbolHit | undefined {
    const i = this.lookupIndex(addr);
    if (i < 0) return undefined;
    const start = this.starts[i]!;
    return { name: this.names[i]!, start, offset: addr - start, index: i };
  }

  /** Index of the symbol containing addr, or -1. */
  lookupIndex(addr: number): number {
    let i = this.floor(addr);
    // Walk back over symbols that ended before addr, as long as some earlier symbol may still contain it
    // (nested or overlapping symbols); bounded so that one absurd size cannot make lookups linear.
    for (let steps = 0; i >= 0 && this.maxEnd[i]! > addr && steps < 64; steps++) {
      if (this.ends[i]! > addr) return i;
      i--;
    }
    return -1;
  }

  /** Address of the first symbol with this exact name (linear; for tests and tools). */
  addressOf(name: string): number | undefined {
    const i = this.names.indexOf(name);
    return i < 0 ? undefined : this.starts[i];
  }
}
