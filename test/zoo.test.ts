// The diagnose zoo: every pipeline in examples/zoo/ is a real bottleneck (or none) with a ground
// truth its own counters prove. For each: start it, check the ground truth, run
// `diagnose -d 10 --json -p <head pid>` 3 times and want the documented stage and kind every time
// (nothing saturated on healthy and timer-limited), then check that the ground truth still holds.
// ZOO=name1,name2 runs only those (development); a pipeline missing from the tree fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelTest, leftoverPrograms } from './helpers.js';
import { diagnose, exists, expectedCell, got, headPid, judge, PIPELINES, selected, status, zoo } from './zoo.js';

const RUNS = 3;
const SECONDS = 10;

for (const { name, kind } of PIPELINES) {
  const opts = selected(name) ? { ...kernelTest(), timeout: 300_000 } : { skip: `not in ZOO=${process.env.ZOO}` };
  test(`zoo ${name}: diagnose names ${kind ?? 'nothing'} in ${RUNS} of ${RUNS} runs`, opts, async () => {
    assert.ok(exists(name), `examples/zoo/${name}/run.sh is missing`);
    try {
      zoo(name, 'start');
      const st = status(name);
      assert.equal(st.running, true, `${name} is not running`);
      assert.equal(st.expected.kind, kind, `${name}: run.sh expects ${st.expected.kind}, the table ${kind}`);
      assert.equal(st.truthHolds, true, `${name}: ground truth does not hold before diagnose: ${st.groundTruth}`);
      console.log(`zoo ${name}: ${st.throughput.msgsPerS} msgs/s; ${st.groundTruth}`);
      const pid = headPid(st);
      const wrong: string[] = [];
      for (let i = 1; i <= RUNS; i++) {
        const run = await diagnose(pid, SECONDS);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(leftoverPrograms('diagnose_'), []);
        const why = judge(st, run.report);
        console.log(`zoo ${name} run ${i}: expected ${expectedCell(st)} | got ${got(st, run.report)} | ${run.seconds.toFixed(1)} s${why ? ` | WRONG: ${why}` : ''}`);
        if (why) wrong.push(`run ${i}: ${why}\n  conclusion: ${run.report?.conclusion}`);
      }
      const after = status(name);
      assert.equal(after.truthHolds, true, `${name}: ground truth does not hold after diagnose: ${after.groundTruth}`);
      assert.deepEqual(wrong, [], `${name}: diagnose was wrong`);
    } finally {
      zoo(name, 'stop');
    }
  });
}
