import { readFileSync } from 'node:fs';
import { clockTime } from '../cli/runtime.js';

// Column formatting shared by the text renderers (BCC-style fixed-width columns).
export const padL = (s: string | number, w: number): string => String(s).padStart(w);
export const padR = (s: string | number, w: number): string => String(s).padEnd(w);

/** Load average line as BCC's top-style tools print it: "HH:MM:SS loadavg: 0.10 0.20 0.30 1/200 1234". */
export function loadavgLine(): string {
  let la = '';
  try { la = readFileSync('/proc/loadavg', 'utf8').trim(); } catch { /* not on Linux */ }
  return `${clockTime()} loadavg: ${la}`;
}

/** ANSI clear screen (top-style tools without -C, only on a terminal). */
export const CLEAR_SCREEN = '\x1b[2J\x1b[H';
