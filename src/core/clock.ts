// Clocks: the kernel's CLOCK_MONOTONIC (bpf_ktime_get_ns) turned into wall-clock time, and the
// time formats BCC's tools print.

// process.hrtime is CLOCK_MONOTONIC on Linux, the clock of bpf_ktime_get_ns; offset taken once.
let wallMinusMonoNs: bigint | undefined;
const offsetNs = (): bigint => (wallMinusMonoNs ??= BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint());

/** Nanoseconds of CLOCK_MONOTONIC to wall-clock milliseconds, exact to the microsecond. */
export function monoToWallMs(ns: bigint): number {
  return Number((ns + offsetNs()) / 1000n) / 1000;
}

/** Nanoseconds of CLOCK_MONOTONIC (bpf_ktime_get_ns) to a wall-clock Date. */
export function monoToDate(ns: bigint): Date {
  return new Date(monoToWallMs(ns));
}

/**
 * `monoToDate(ns).toISOString()` for nanoseconds given as a plain number (exact below 2^53 ns,
 * 104 days of uptime; beyond, rounded as Number(bigint) rounds), with the last string kept:
 * a stream of events spends nothing on the hundreds that share a millisecond.
 */
export function monoIsoString(ns: number): string {
  const ms = Math.trunc(Number(offsetNs()) / 1e6 + ns / 1e6); // what new Date(x) keeps of x
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
