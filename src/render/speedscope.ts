// speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json): one "sampled"
// profile whose samples are root-first arrays of indices into the shared frame table, with one weight
// per sample. Identical stacks are merged (weight = summed count).

import { mergeStacks, splitKind, type StackCount } from './folded.js';

export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

export type SpeedscopeUnit = 'none' | 'nanoseconds' | 'microseconds' | 'milliseconds' | 'seconds' | 'bytes';

export interface SpeedscopeFrame {
  name: string;
  file?: string;
  line?: number;
  col?: number;
}

export interface SpeedscopeSampledProfile {
  type: 'sampled';
  name: string;
  unit: SpeedscopeUnit;
  startValue: number;
  endValue: number;
  samples: number[][];
  weights: number[];
}

export interface SpeedscopeFile {
  $schema: typeof SPEEDSCOPE_SCHEMA;
  shared: { frames: SpeedscopeFrame[] };
  profiles: SpeedscopeSampledProfile[];
  name?: string;
  activeProfileIndex?: number;
  exporter?: string;
}

export interface SpeedscopeOptions {
  /** Name of the file's profile group and of the profile. Default `bpfkit profile`. */
  name?: string;
  /** Unit of the weights. Default `none` (sample counts). */
  unit?: SpeedscopeUnit;
  /** Multiply counts by this (e.g. the sampling period in ns with unit `nanoseconds`). Default 1. */
  weightPerCount?: number;
  /** One profile per root frame (per comm) instead of one for everything. Default false. */
  profilePerRoot?: boolean;
  exporter?: string;
}

/**
 * Builds the speedscope document. Kind suffixes (`_[k]`, `_[j]`, `_[i]`) are moved from the frame name
 * into its `file` field (`[kernel]`, `[jit]`, `[inline]`) which speedscope shows next to the name.
 */
export function toSpeedscope(input: Iterable<StackCount>, opts: SpeedscopeOptions = {}): SpeedscopeFile {
  const name = opts.name ?? 'bpfkit profile';
  const unit = opts.unit ?? 'none';
  const mul = opts.weightPerCount ?? 1;
  const frames: SpeedscopeFrame[] = [];
  const frameIndex = new Map<string, number>();
  const idx = (label: string): number => {
    let i = frameIndex.get(label);
    if (i === undefined) {
      i = frames.length;
      const { name: n, kind } = splitKind(label);
      const f: SpeedscopeFrame = { name: n };
      if (kind === 'kernel' || kind === 'jit' || kind === 'inline') f.file = `[${kind}]`;
      frames.push(f);
      frameIndex.set(label, i);
    }
    return i;
  };
  const profiles = new Map<string, SpeedscopeSampledProfile>();
  const profileFor = (key: string): SpeedscopeSampledProfile => {
    let p = profiles.get(key);
    if (!p) {
      p = { type: 'sampled', name: key, unit, startValue: 0, endValue: 0, samples: [], weights: [] };
      profiles.set(key, p);
    }
    return p;
  };
  for (const s of mergeStacks(input)) {
    if (s.stack.length === 0) continue;
    const p = profileFor(opts.profilePerRoot ? s.stack[0]! : name);
    const w = s.count * mul;
    p.samples.push(s.stack.map(idx));
    p.weights.push(w);
    p.endValue += w;
  }
  const list = [...profiles.values()];
  if (list.length === 0) list.push(profileFor(name));
  if (opts.profilePerRoot) list.sort((a, b) => b.endValue - a.endValue);
  return {
    $schema: SPEEDSCOPE_SCHEMA,
    shared: { frames },
    profiles: list,
    name,
    activeProfileIndex: 0,
    exporter: opts.exporter ?? 'bpfkit',
  };
}

/** The speedscope document as JSON text. */
export function renderSpeedscope(input: Iterable<StackCount>, opts: SpeedscopeOptions = {}): string {
  return JSON.stringify(toSpeedscope(input, opts)) + '\n';
}
