// tcptop: pure unit tests (no kernel, no root), moved from test/tcptop.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTcptopArgs, renderText, sortRows, type TcptopOptions } from '../../src/tools/tcptop/index.js';
import type { ConnRow } from '../../src/tools/tcptop/tcptop.js';

test('flags: BCC positionals, -i, sort, rows, families', () => {
  const o = parseTcptopArgs([]);
  assert.deepEqual([o.intervalS, o.count, o.sort, o.rows, o.noclear, o.nosummary, o.json], [1, 0, 'all', 20, false, false, false]);
  const p = parseTcptopArgs(['-CS', '5', '3']);
  assert.deepEqual([p.intervalS, p.count, p.noclear, p.nosummary], [5, 3, true, true]);
  const i = parseTcptopArgs(['-i', '10', '-p', '1', '-s', 'sent', '-r', '5', '-6', '--json']);
  assert.deepEqual([i.intervalS, i.count, i.filters.tgid, i.sort, i.rows, i.filters.family, i.json], [10, 0, 1, 'sent', 5, 6, true]);
  assert.equal(parseTcptopArgs(['-i', '2', '7']).count, 7);
  assert.equal(parseTcptopArgs(['-4']).filters.family, 4);
  assert.deepEqual([parseTcptopArgs(['-6C']).filters.family, parseTcptopArgs(['-6C']).noclear], [6, true]);
  assert.equal(parseTcptopArgs(['-C4']).filters.family, 4);
});

test('text: BCC columns, IPv6 block, KB rounded down, sort and -r', () => {
  const row = (pid: number, family: 4 | 6, rx: number, tx: number): ConnRow => ({
    pid, comm: 'averyveryverylongcomm', family, laddr: family === 4 ? '10.0.0.1' : '2001:db8::1', lport: 22,
    raddr: family === 4 ? '10.0.0.2' : '2001:db8::2', rport: 40000 + pid, rxBytes: rx, txBytes: tx,
  });
  const rows = [row(1, 4, 2047, 0), row(2, 4, 0, 5000), row(3, 6, 1024, 1023), row(4, 4, 10, 10)];
  const opts: TcptopOptions = { ...parseTcptopArgs(['-C', '-S', '-r', '3']) };
  const text = renderText({ rows, dropped: 0 }, opts, false);
  assert.equal(text, [
    '',
    'PID     COMM         LADDR                 RADDR                  RX_KB  TX_KB',
    '2       averyveryver 10.0.0.1:22           10.0.0.2:40002             0      4',
    '1       averyveryver 10.0.0.1:22           10.0.0.2:40001             1      0',
    '',
    'PID     COMM         LADDR6                           RADDR6                            RX_KB  TX_KB',
    '3       averyveryver 2001:db8::1:22                   2001:db8::2:40003                     1      0',
    '',
  ].join('\n'));
  assert.deepEqual(sortRows(rows, 'sent', 10).map((r) => r.pid), [2, 3, 4, 1]);
  assert.deepEqual(sortRows(rows, 'received', 10).map((r) => r.pid), [1, 3, 4, 2]);
  const summary = renderText({ rows: [], dropped: 0 }, parseTcptopArgs(['-C']), false);
  assert.match(summary, /^\n\d\d:\d\d:\d\d loadavg: [\d.]+ [\d.]+ [\d.]+ \d+\/\d+ \d+\n\nPID {5}COMM/);
});
