// Shared types of the symbolization layer.

/** Where a frame comes from: used by renderers for colouring. */
export type FrameKind = 'kernel' | 'user' | 'jit' | 'unknown';

/**
 * One resolved stack frame.
 * - Resolved: `name` is the symbol, `module` the binary (kernel: `kernel` or the module name, user: the
 *   mapping's path, JIT: `perf-PID.map`), `offset` the byte offset of the address inside the symbol.
 * - Unresolved inside a known mapping: `name` is `basename+0xOFF` where OFF is the ELF virtual address
 *   (usable with `addr2line -e`), or the file offset when the file could not be read; `offset` is OFF.
 * - Not even the mapping is known: `name` is `[unknown]`.
 */
export interface Frame {
  name: string;
  module: string;
  offset?: number;
  /** Optional extra: kind of frame (always set by Symbolizer). */
  kind?: FrameKind;
  /** Optional extra: the original address, in hex (set by Symbolizer with `addresses: true`). */
  addr?: string;
}

/** A symbol lookup result inside one symbol table. */
export interface SymbolHit {
  name: string;
  /** Symbol start address (same address space as the query). */
  start: number;
  /** Offset of the query from the symbol start. */
  offset: number;
  /** Index in the table (internal). */
  index: number;
}
