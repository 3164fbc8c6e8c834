// Clocks: the kernel's CLOCK_MONOTONIC (bpf_ktime_get_ns) turned into wall-clock time, and the
// time formats BCC's tools print.

let wallMinusMonoMs: number | undefined;
/** Nanoseconds of CLOCK_MONOTONIC (bpf_ktime_get_ns) to a wall-clock Date. */
export function monoToDate(ns: bigint): Date {
  // process.hrtime is CLOCK_MONOTONIC on Linux, the clock of bpf_ktime_get_ns; offset taken once.
  wallMinusMonoMs ??= Date.now() - Number(process.hrtime.bigint()) / 1e6;
  return new Date(wallMinusMonoMs + Number(ns) / 1e6);
}

/** "HH:MM:SS" local time, as BCC's tools print it. */
export function clockTime(d = new Date()): string {
  return d.toTimeString().slice(0, 8);
}
