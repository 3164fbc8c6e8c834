// A compact, sorted symbol table with binary search over typed arrays. Addresses are JS numbers (exact
// below 2^53: user space virtual addresses, ELF vaddrs and kernel addresses relative to a base all fit).
// Names are resolved lazily through a name source (an ELF string table is kept as a Buffer and a name is
// decoded only when a lookup returns it), so building a table of 100k symbols creates no strings.

import type { SymbolHit } from './types.js';

export interface RawSymbol {
  addr: number;
  /** 0 means unknown: the symbol extends to the next symbol (bounded by `bound` and `limit`). */
  size: number;
  name: string;
  /** Lower is preferred when two symbols start at the same address. */
  rank?: number;
  /** For size-0 symbols: never extend past this address (e.g. the end of the containing section). */
  bound?: number;
  /** Free small integer carried along (kallsyms: module index). */
  tag?: number;
}

/** Turns a per-source reference (a string table offset, a list index) into a name. */
export type NameSource = (ref: number) => string;

/** Accumulates symbols column-wise before building a SymbolTable. */
export class SymbolCollector {
  count = 0;
  addr = new Float64Array(1024);
  size = new Float64Array(1024);
  bound = new Float64Array(1024);
  rank = new Int16Array(1024);
  tag = new Int32Array(1024);
  src = new Uint8Array(1024);
  ref = new Uint32Array(1024);
  readonly sources: NameSource[] = [];

  /** Registers a name source; returns its id for add(). At most 255 sources. */
  source(fn: NameSource): number {
    if (this.sources.length >= 255) throw new Error('too many name sources');
    this.sources.push(fn);
    return this.sources.length - 1;
  }

  reserve(extra: number): void {
    const need = this.count + extra;
    if (need <= this.addr.length) return;
    let cap = this.addr.length;
    while (cap < need) cap *= 2;
    const grow = <T extends Float64Array | Int16Array | Int32Array | Uint8Array | Uint32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      b.set(a);
      return b;
    };
    this.addr = grow(this.addr);
    this.size = grow(this.size);
    this.bound = grow(this.bound);
    this.rank = grow(this.rank);
    this.tag = grow(this.tag);
    this.src = grow(this.src);
    this.ref = grow(this.ref);
  }

  add(addr: number, size: number, src: number, ref: number, rank = 0, bound = Infinity, tag = 0): void {
    if (this.count === this.addr.length) this.reserve(1);
    const i = this.count++;
    this.addr[i] = addr;
    this.size[i] = size;
    this.src[i] = src;
    this.ref[i] = ref;
    this.rank[i] = rank;
    this.bound[i] = bound;
    this.tag[i] = tag;
  }

  /** Adds plain objects (names as strings). */
  addList(syms: readonly RawSymbol[]): void {
    const names = syms.map((s) => s.name);
    const id = this.source((ref) => names[ref]!);
    this.reserve(syms.length);
    for (let i = 0; i < syms.length; i++) {
      const s = syms[i]!;
      this.add(s.addr, s.size, id, i, s.rank ?? 0, s.bound ?? Infinity, s.tag ?? 0);
    }
  }

  /** Adds every entry of an existing table (keeping its lazy names). */
  addTable(t: SymbolTable, rank = 0): void {
    const id = this.source((ref) => t.nameAt(ref));
    this.reserve(t.size);
    for (let i = 0; i < t.size; i++) this.add(t.starts[i]!, t.ends[i]! - t.starts[i]!, id, i, rank, Infinity, t.tags[i]!);
  }
}

/**
 * Indices 0..count-1 ordered by address (stable LSD radix sort on 16-bit digits of the integer
 * address; digits that are the same for every entry are skipped). Non-integer or negative addresses
 * do not occur (symbol values, relative kernel addresses).
 */
function sortByAddress(addr: Float64Array, count: number): Uint32Array {
  let order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  if (count < 2) return order;
  let tmp = new Uint32Array(count);
  const digits = new Uint16Array(count);
  const counts = new Uint32Array(65536);
  for (let pass = 0; pass < 4; pass++) {
    // Digit `pass` of each address (bits 16*pass .. 16*pass+15).
    const div = 2 ** (16 * pass);
    let first = -1;
    let same = true;
    counts.fill(0);
    for (let i = 0; i < count; i++) {
      const d = Math.floor(addr[i]! / div) % 65536;
      digits[i] = d;
      counts[d]!++;
      if (first < 0) first = d;
      else if (d !== first) same = false;
    }
    if (same) continue;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let k = 0; k < count; k++) {
      const i = order[k]!;
      tmp[counts[digits[i]!]!++] = i;
    }
    const t = order;
    order = tmp;
    tmp = t;
  }
  return order;
}

/** How far a size-0 symbol may extend when no next symbol bounds it. */
const DEFAULT_OPEN_END = 1 << 20;

export class SymbolTable {
  readonly starts: Float64Array;
  readonly ends: Float64Array;
  readonly tags: Int32Array;
  private readonly src: Uint8Array;
  private readonly ref: Uint32Array;
  private readonly sources: NameSource[];
  /**
   * Bucket index: buckets[b] is the first symbol starting at or after base + b * 2^shift. A lookup
   * binary-searches only its bucket (a few entries) instead of the whole table: far fewer cache misses.
   */
  private readonly buckets: Uint32Array;
  private readonly bucketBase: number;
  private readonly bucketScale: number;
  /** Names decoded so far. */
  private readonly nameCache: (string | undefined)[];
  /** For each index, the greatest end among entries 0..i (lets lookups skip nested/overlapping symbols). */
  private readonly maxEnd: Float64Array;

  /**
   * @param input symbols (a collector, or plain objects)
   * @param limit optional upper bound of the address space covered (a size-0 symbol never ends past it)
   */
  constructor(input: SymbolCollector | readonly RawSymbol[], limit?: number) {
    let c: SymbolCollector;
    if (input instanceof SymbolCollector) c = input;
    else {
      c = new SymbolCollector();
      c.addList(input);
    }
    const { addr, size, rank } = c;
    const order = sortByAddress(addr, c.count);
    // One entry per start address: best rank, then largest size; a size-0 winner takes the size of a
    // sized duplicate.
    const keep = new Uint32Array(c.count);
    const keptSize = new Float64Array(c.count);
    let n = 0;
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      if (n > 0 && addr[keep[n - 1]!] === addr[i]) {
        const j = keep[n - 1]!;
        const sz = keptSize[n - 1]!;
        if (rank[i]! < rank[j]! || (rank[i] === rank[j] && size[i]! > size[j]!)) {
          keep[n - 1] = i;
          keptSize[n - 1] = size[i]! > 0 ? size[i]! : sz;
        } else if (sz === 0 && size[i]! > 0) keptSize[n - 1] = size[i]!;
        continue;
      }
      keep[n] = i;
      keptSize[n] = size[i]!;
      n++;
    }
    this.starts = new Float64Array(n);
    this.ends = new Float64Array(n);
    this.maxEnd = new Float64Array(n);
    this.tags = new Int32Array(n);
    this.src = new Uint8Array(n);
    this.ref = new Uint32Array(n);
    this.sources = c.sources;
    this.nameCache = new Array<string | undefined>(n);
    let running = 0;
    for (let j = 0; j < n; j++) {
      const i = keep[j]!;
      const start = addr[i]!;
      this.starts[j] = start;
      this.tags[j] = c.tag[i]!;
      this.src[j] = c.src[i]!;
      this.ref[j] = c.ref[i]!;
    }
    for (let j = 0; j < n; j++) {
      const i = keep[j]!;
      const start = this.starts[j]!;
      let end: number;
      if (keptSize[j]! > 0) end = start + keptSize[j]!;
      else {
        end = j + 1 < n ? this.starts[j + 1]! : (limit ?? start + DEFAULT_OPEN_END);
        if (limit !== undefined && end > limit && limit > start) end = limit;
        const b = c.bound[i]!;
        if (end > b && b > start) end = b;
        end = Math.max(end, start + 1);
      }
      this.ends[j] = end;
      running = Math.max(running, end);
      this.maxEnd[j] = running;
    }
    // Buckets: at most ~2 per symbol and at most 1M, with power-of-two sizes from 256 bytes up.
    this.bucketBase = n ? this.starts[0]! : 0;
    const span = n ? this.starts[n - 1]! - this.bucketBase + 1 : 1;
    let shift = 8;
    while (span / 2 ** shift > Math.min(1 << 20, 2 * n + 16)) shift++;
    this.bucketScale = 2 ** -shift;
    const nb = Math.ceil(span * this.bucketScale) + 1;
    this.buckets = new Uint32Array(nb + 1);
    let j = 0;
    for (let b = 0; b <= nb; b++) {
      const lim = this.bucketBase + b * 2 ** shift;
      while (j < n && this.starts[j]! < lim) j++;
      this.buckets[b] = j;
    }
  }

  get size(): number {
    return this.starts.length;
  }

  nameAt(i: number): string {
    let s = this.nameCache[i];
    if (s === undefined) {
      s = this.sources[this.src[i]!]!(this.ref[i]!);
      this.nameCache[i] = s;
    }
    return s;
  }

  /** All names, in address order (decodes every name: for tests and tools). */
  get names(): string[] {
    const out: string[] = new Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.nameAt(i);
    return out;
  }

  /** Index of the last symbol whose start <= addr, or -1. */
  private floor(addr: number): number {
    const a = this.starts;
    const rel = addr - this.bucketBase;
    if (rel < 0) return -1;
    const b = Math.floor(rel * this.bucketScale);
    const nb = this.buckets.length - 1;
    let lo: number;
    let hi: number;
    if (b >= nb) {
      lo = this.buckets[nb]!;
      hi = a.length - 1;
    } else {
      lo = this.buckets[b]!;
      hi = this.buckets[b + 1]! - 1;
    }
    let ans = lo - 1;
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
    return { name: this.nameAt(i), start, offset: addr - start, index: i };
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
    for (let i = 0; i < this.size; i++) if (this.nameAt(i) === name) return this.starts[i];
    return undefined;
  }
}
