import { readFileSync } from 'node:fs';
import { clockTime } from '../core/clock.js';

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

// Control characters (C0 but tab/newline... all of them, DEL, C1): a traced process chooses its
// comm, paths and argv, and must not be able to move the cursor or forge a line of our output.
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
const CONTROL_ALL = /[\x00-\x1f\x7f-\x9f]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\x1b': '\\e' };

/** Text a traced process controls, made safe for a terminal: control characters as escapes. */
export function safe(text: string): string {
  if (!CONTROL.test(text)) return text;
  return text.replace(CONTROL_ALL, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One output line (ending in a newline) with every control character inside it escaped. */
export function safeLine(line: string): string {
  const body = line.endsWith('\n') ? line.slice(0, -1) : line;
  return CONTROL.test(body) ? safe(body) + '\n' : line;
}
