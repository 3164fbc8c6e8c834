// Timing helpers for tools that print per interval and stop on Ctrl-C.

/** Sleep `ms`, or less if `signal` aborts. Resolves true if the full time elapsed. */
export function sleepOrAbort(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
    const onAbort = () => { clearTimeout(timer); resolve(false); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** "HH:MM:SS" local time, as BCC tools print it. */
export function clockTime(d = new Date()): string {
  return d.toTimeString().slice(0, 8);
}

/**
 * Drive an interval tool: call `report` every `intervalS` seconds, `count` times (0 = forever),
 * stop after `durationS` if set; on Ctrl-C report once more (the partial interval) and return.
 * Without interval and duration, report once when the signal aborts.
 */
export async function runIntervals(
  opts: { intervalS?: number; count?: number; durationS?: number },
  signal: AbortSignal,
  report: (final: boolean) => void,
): Promise<void> {
  const start = Date.now();
  const deadline = opts.durationS !== undefined ? start + opts.durationS * 1000 : Infinity;
  const intervalMs = opts.intervalS !== undefined ? opts.intervalS * 1000 : undefined;
  let reports = 0;
  for (;;) {
    const now = Date.now();
    const untilDeadline = deadline - now;
    const wait = Math.min(intervalMs ?? Infinity, untilDeadline);
    const full = await sleepOrAbort(Number.isFinite(wait) ? Math.max(0, wait) : 2 ** 31 - 1, signal);
    const done = !full || Date.now() >= deadline || (opts.count !== undefined && opts.count > 0 && reports + 1 >= opts.count);
    report(done);
    reports++;
    if (done) return;
  }
}
