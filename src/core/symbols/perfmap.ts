// JIT symbol maps: /tmp/perf-PID.map, one `START SIZE name` line per code blob (hex, with or without 0x),
// written by `node --perf-basic-prof`, Java agents (perf-map-agent), LuaJIT, .NET and others.
// Later lines win over earlier ones when ranges overlap (code moved or was re-JITted).
//
// The file sits in a world-writable directory and is read by root: any local user can put anything
// at that path. So a map is opened with O_NOFOLLOW|O_NONBLOCK (no symlink to /dev/zero or
// /etc/shadow, no FIFO to hang on), must be a regular file owned by the process's own uid (or root),
// at most PERF_MAP_MAX_BYTES are read, and control characters in names are escaped (no terminal
// escapes, no forged output lines).

import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { SymbolTable, type RawSymbol } from './symtab.js';
import { escapeControl } from '../sanitize.js';

/**
 * Bytes of a JIT map read at most (64 MiB: a long-running Node.js process with --perf-basic-prof
 * writes a few MiB; more is a runaway or hostile file). Lines past the limit are ignored.
 */
export const PERF_MAP_MAX_BYTES = 64 << 20;

/** O_CLOEXEC on Linux (not in fs.constants; libuv sets it anyway, this makes it explicit). */
const O_CLOEXEC = 0o2000000;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | O_CLOEXEC;

export interface PerfMapLoadOptions {
  /**
   * Uids that may own the file besides root (0). Default: the uid of this process. A symbolizer
   * passes the uids of the process the map belongs to (/proc/PID/status `Uid:`).
   */
  owners?: readonly number[];
  /** Read at most this many bytes (default PERF_MAP_MAX_BYTES). */
  maxBytes?: number;
}

/** A JIT map that cannot be used: why (not a regular file, wrong owner, unreadable). */
export class PerfMapError extends Error {
  readonly code = 'EPERFMAP';
}

export class PerfMap {
  readonly table: SymbolTable;
  /** Size of the file when read: a grown file is re-read. */
  readonly bytes: number;
  readonly path: string;
  private readonly opts: PerfMapLoadOptions;

  private constructor(path: string, table: SymbolTable, bytes: number, opts: PerfMapLoadOptions) {
    this.path = path;
    this.table = table;
    this.bytes = bytes;
    this.opts = opts;
  }

  /** Parses map text. Names are trimmed; control characters in them are escaped as `\xNN`. */
  static parse(text: string, path = '<perf map>', bytes = Buffer.byteLength(text), opts: PerfMapLoadOptions = {}): PerfMap {
    const syms: RawSymbol[] = [];
    let lineNo = 0;
    for (const line of text.split('\n')) {
      lineNo++;
      const m = /^[ \t]*(?:0x)?([0-9a-fA-F]+)[ \t]+(?:0x)?([0-9a-fA-F]+)[ \t]+(.*?)\s*$/.exec(line);
      if (!m) continue;
      const start = parseInt(m[1]!, 16);
      const size = parseInt(m[2]!, 16);
      if (!Number.isFinite(start) || !(size > 0) || m[3] === '') continue;
      // Newer lines rank first at the same address.
      syms.push({ addr: start, size, name: escapeControl(m[3]!), rank: -lineNo });
    }
    return new PerfMap(path, new SymbolTable(syms), bytes, opts);
  }

  /**
   * Opens and parses a JIT map safely (see the top of this file). Throws PerfMapError when the path
   * is a symlink, FIFO, device or directory, or is owned by another user; a filesystem error otherwise.
   */
  static load(path: string, opts: PerfMapLoadOptions = {}): PerfMap {
    const max = opts.maxBytes ?? PERF_MAP_MAX_BYTES;
    const owners = opts.owners ?? [process.geteuid?.() ?? 0];
    const fd = openSync(path, OPEN_FLAGS);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new PerfMapError(`${path}: not a regular file`);
      if (st.uid !== 0 && !owners.includes(st.uid)) throw new PerfMapError(`${path}: owned by uid ${st.uid}, not by the process (uid ${owners.join('/')}) or root`);
      const want = Math.min(st.size, max);
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const n = readSync(fd, buf, got, want - got, got);
        if (n <= 0) break;
        got += n;
      }
      let end = got;
      // Cut at the limit: drop the partial last line.
      if (st.size > max) end = buf.lastIndexOf(0x0a, got - 1) + 1;
      return PerfMap.parse(buf.toString('utf8', 0, end), path, st.size, opts);
    } finally {
      closeSync(fd);
    }
  }

  /** Re-reads the file if its size changed; returns this map when unchanged or when it cannot be re-read. */
  refresh(): PerfMap {
    try {
      const st = lstatSync(this.path);
      if (st.size === this.bytes || !st.isFile()) return this;
      return PerfMap.load(this.path, this.opts);
    } catch {
      return this;
    }
  }

  lookup(addr: number): { name: string; start: number; offset: number } | undefined {
    return this.table.lookup(addr);
  }
}
