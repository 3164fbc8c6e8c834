// The zoo's accuracy table: each pipeline of examples/zoo/ once, started, diagnosed for 10 s
// (scoped to its head stage), stopped. Prints pipeline | expected | got | time to verdict, and
// how many were right. Run as root, alone on the machine (under the ktest lock). ZOO=a,b limits.
import { fmt } from './common.js';
import { diagnose, exists, expectedCell, got, headPid, judge, PIPELINES, selected, status, zoo } from '../test/zoo.js';

async function main() {
  const rows: string[][] = [['pipeline', 'expected', 'got', 'start s', 'verdict s', 'right']];
  let right = 0;
  let total = 0;
  for (const { name, kind } of PIPELINES) {
    if (!selected(name)) continue;
    total++;
    if (!exists(name)) { rows.push([name, kind ?? 'none', 'missing', '-', '-', 'no']); continue; }
    try {
      const t0 = Date.now();
      zoo(name, 'start');
      const startS = (Date.now() - t0) / 1000;
      const st = status(name);
      const run = await diagnose(headPid(st), 10);
      const ok = judge(st, run.report) === null && st.truthHolds === true;
      if (ok) right++;
      rows.push([name, expectedCell(st), got(st, run.report), fmt(startS, 1), fmt(run.seconds, 1), ok ? 'yes' : 'no']);
    } catch (err) {
      rows.push([name, kind ?? 'none', `error: ${(err as Error).message.split('\n')[0]}`, '-', '-', 'no']);
    } finally {
      try { zoo(name, 'stop'); } catch (err) { console.error(err); }
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => c.padEnd(widths[j]!)).join(' | '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  }
  console.log(`${right} of ${total} right (target: all; time to verdict < 12 s)`);
}

main().catch((err) => { console.error(err); process.exit(1); });
