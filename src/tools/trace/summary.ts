// trace -c: strace -c's table from the kernel's per-syscall counters. The time is the wall-clock
// time inside each call (strace -c -w); strace -c without -w shows system CPU time.

export interface SummaryRow { nr: number; name: string; calls: number; errors: number; ns: number }

/** The table, by time spent (then calls, then name), with a total line. */
export function summaryTable(rows: SummaryRow[]): string {
  const sorted = [...rows].sort((a, b) => b.ns - a.ns || b.calls - a.calls || (a.name < b.name ? -1 : 1));
  const totalNs = rows.reduce((s, r) => s + r.ns, 0);
  const line = '------ ----------- ----------- --------- --------- ----------------';
  const row = (pct: number, ns: number, calls: number, errors: number, name: string) =>
    `${pct.toFixed(2).padStart(6)} ${(ns / 1e9).toFixed(6).padStart(11)} ${String(calls ? Math.floor(ns / 1e3 / calls) : 0).padStart(11)} ${String(calls).padStart(9)} ${(errors ? String(errors) : '').padStart(9)} ${name}`;
  const out = ['% time     seconds  usecs/call     calls    errors syscall', line];
  for (const r of sorted) out.push(row(totalNs ? (100 * r.ns) / totalNs : 0, r.ns, r.calls, r.errors, r.name));
  out.push(line);
  out.push(row(100, totalNs, rows.reduce((s, r) => s + r.calls, 0), rows.reduce((s, r) => s + r.errors, 0), 'total'));
  return out.join('\n') + '\n';
}
