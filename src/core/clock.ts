// Clocks: the kernel's CLOCK_MONOTONIC (bpf_ktime_get_ns) turned into wall-clock time, and the
// time formats BCC's tools print.

let wallMinusMonoMs: number | undefined;
/** Nanoseconds of CLOCK_MONOTONIC (bpf_ktime_get_ns) to a wall-clock Date. */
export function monoToDate(ns: bigint): Date {
  // process.hrtime is CLOCK_MONOTONIC on Linux, the clock of bpf_ktime_get_ns; offset taken once.
  wallMinusMonoMs ??= Date.now() - Number(process.hrtime.bigint()) / 1e6;
  return new Date(wallMinusMonoMs + Number(ns) / 1e6);
}

/**
 * `monoToDate(ns).toISOString()` for nanoseconds given as a plain number (exact below 2^53 ns,
 * 104 days of uptime; beyond, rounded as Number(bigint) rounds), with the last string kept:
 * a stream of events spends nothing on the hundreds that share a millisecond.
 */
export function monoIsoString(ns: number): string {
  wallMinusMonoMs ??= Date.now() - Number(process.hrtime.bigint()) / 1e6;
  const ms = Math.trunc(wallMinusMonoMs + ns / 1e6); // what new Date(x) keeps of x
  if (ms !== lastIsoMs) {
    lastIsoMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
let lastIsoMs = NaN;
let lastIso = '';

/** "HH:MM:SS" local time, as BCC's tools print it. */
export function clockTime(d = new Date()): string {
  return d.toTimeString().slice(0, 8);
}
