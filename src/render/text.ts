import { readFileSync } from 'node:fs';
import { clockTime } from '../core/clock.js';
import { escapeControl } from '../core/sanitize.js';

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

/** Text a traced process controls, made safe for a terminal: control characters as \xNN. */
export const safe = escapeControl;

// a control character other than the line's final newline
// eslint-disable-next-line no-control-regex
const LINE_HAS_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]|\n(?!$)/;

/** One output line (ending in a newline) with every control character inside it escaped. */
export function safeLine(line: string): string {
  if (!LINE_HAS_CONTROL.test(line)) return line; // the common case, without a copy
  const body = line.endsWith('\n') ? line.slice(0, -1) : line;
  const clean = escapeControl(body);
  return clean === body ? line : clean + '\n';
}
