// libbpf's own log: captured (for error details) and shown only with --verbose.
import { native, registerPrint, type Ptr } from './libbpf.js';

let verboseSink: ((line: string) => void) | undefined;
let captured: string[] = [];
const MAX_LINES = 4000;
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const buf = Buffer.alloc(8192);
  const cb = registerPrint((level: number, fmt: Ptr, args: Ptr) => {
    const n = native.vsnprintf(buf, buf.length, fmt, args) as number;
    const text = buf.toString('utf8', 0, Math.max(0, Math.min(n, buf.length - 1)));
    for (const line of text.split('\n')) {
      if (line === '') continue;
      captured.push(line);
      if (captured.length > MAX_LINES) captured = captured.slice(-MAX_LINES / 2);
      // level 2 = LIBBPF_DEBUG: very chatty; shown with --verbose only like the rest.
      if (verboseSink && level <= 2) verboseSink(`libbpf: ${line}`);
    }
    return 0;
  });
  native.libbpf_set_print(cb);
}

export function setLibbpfVerbose(sink: ((line: string) => void) | undefined): void {
  verboseSink = sink;
  install();
}

/** Start capturing for one operation; returns a function that yields the lines since. */
export function captureLog(): () => string[] {
  install();
  const start = captured.length;
  const snapshot = captured;
  return () => (snapshot === captured ? captured.slice(start) : captured.slice());
}

let noteSink: ((line: string) => void) | undefined;
/** --verbose diagnostics from the core (which hooks were chosen, tracefs mounted, ...). */
export function setVerboseNotes(sink: ((line: string) => void) | undefined): void { noteSink = sink; }
export function note(line: string): void { noteSink?.(line); }
