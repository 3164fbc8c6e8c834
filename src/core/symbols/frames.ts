// Turning frames into the strings that folded stacks, flame graphs and speedscope use.
//
// Convention (the one of flamegraph.pl / stackcollapse-perf): a kernel frame is suffixed `_[k]`, a JIT
// frame `_[j]`; renderers strip the suffix for display and use it for colour.

import { basename } from 'node:path';
import type { Frame } from './types.js';

export interface LabelOptions {
  /** Append `_[k]` / `_[j]` by frame kind. Default true. */
  kindSuffix?: boolean;
  /** Append ` (module)` (basename) to user frames that were resolved to a symbol. Default false. */
  module?: boolean;
  /** Append `+0xOFF` to resolved symbols. Default false. */
  offset?: boolean;
}

export function frameLabel(f: Frame, opts: LabelOptions = {}): string {
  let s = f.name;
  const resolved = f.kind === 'user' || f.kind === 'kernel' || f.kind === 'jit';
  if (opts.offset && resolved && f.offset !== undefined && !s.includes('+0x')) s += `+0x${f.offset.toString(16)}`;
  if (opts.module && f.kind === 'user' && f.module) s += ` (${basename(f.module)})`;
  if (opts.module && f.kind === 'kernel' && f.module && f.module !== 'kernel') s += ` [${f.module}]`;
  // Folded format separators cannot appear inside a frame.
  s = s.replace(/;/g, ':').replace(/[\r\n]/g, ' ');
  if (opts.kindSuffix ?? true) {
    if (f.kind === 'kernel') s += '_[k]';
    else if (f.kind === 'jit') s += '_[j]';
  }
  return s;
}

/**
 * Builds a root-first stack of strings from BPF stacks, which are leaf-first:
 * `[comm, user root .. user leaf, kernel root .. kernel leaf]`.
 */
export function buildStack(comm: string, user: readonly Frame[], kernel: readonly Frame[], opts: LabelOptions = {}): string[] {
  const out: string[] = [comm.replace(/;/g, ':')];
  for (let i = user.length - 1; i >= 0; i--) out.push(frameLabel(user[i]!, opts));
  for (let i = kernel.length - 1; i >= 0; i--) out.push(frameLabel(kernel[i]!, opts));
  return out;
}

/**
 * User frames leaf first, symbolized from [leaf, caller, ...rest] where `caller` came from the
 * leaf-caller recovery: drop that caller when it is in the leaf's own function. (On arm64 the
 * link register also points right after a call in a function with a frame record that has
 * called something; a function with no frame of its own cannot be its own caller.)
 */
export function dropSelfCaller(frames: Frame[]): Frame[] {
  const [leaf, caller] = frames;
  if (!leaf || !caller || leaf.kind !== 'user' || caller.kind !== 'user') return frames;
  return leaf.name === caller.name && leaf.module === caller.module ? [leaf, ...frames.slice(2)] : frames;
}
