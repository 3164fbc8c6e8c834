// JIT symbol maps: /tmp/perf-PID.map, one `START SIZE name` line per code blob (hex, with or without 0x),
// written by `node --perf-basic-prof`, Java agents (perf-map-agent), LuaJIT, .NET and others.
// Later lines win over earlier ones when ranges overlap (code moved or was re-JITted).

import { readFileSync, statSync } from 'node:fs';
import { SymbolTable, type RawSymbol } from './symtab.js';

export class PerfMap {
  readonly table: SymbolTable;
  /** Size of the file when read: a grown file is re-read. */
  readonly bytes: number;
  readonly path: string;

  private constructor(path: string, table: SymbolTable, bytes: number) {
    this.path = path;
    this.table = table;
    this.bytes = bytes;
  }

  static parse(text: string, path = '<perf map>'): PerfMap {
    const syms: RawSymbol[] = [];
    let lineNo = 0;
    for (const line of text.split('\n')) {
      lineNo++;
      const m = /^\s*(?:0x)?([0-9a-fA-F]+)\s+(?:0x)?([0-9a-fA-F]+)\s+(.*?)\s*$/.exec(line);
      if (!m) continue;
      const start = parseInt(m[1]!, 16);
      const size = parseInt(m[2]!, 16);
      if (!Number.isFinite(start) || !(size > 0) || m[3] === '') continue;
      // Newer lines rank first at the same address.
      syms.push({ addr: start, size, name: m[3]!, rank: -lineNo });
    }
    return new PerfMap(path, new SymbolTable(syms), Buffer.byteLength(text));
  }

  static load(path: string): PerfMap {
    return PerfMap.parse(readFileSync(path, 'utf8'), path);
  }

  /** Re-reads the file if it grew; returns this map when unchanged, undefined when it cannot be read. */
  refresh(): PerfMap | undefined {
    try {
      const st = statSync(this.path);
      if (st.size === this.bytes) return this;
      return PerfMap.load(this.path);
    } catch {
      return this;
    }
  }

  lookup(addr: number): { name: string; start: number; offset: number } | undefined {
    return this.table.lookup(addr);
  }
}
