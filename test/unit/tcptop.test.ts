// tcptop: pure unit tests (no kernel, no root), moved from test/tcptop.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, renderJson, renderText, sortRows, type TcptopOptions } from '../../src/tools/tcptop/index.js';
import type { ConnRow } from '../../src/tools/tcptop/tcptop.js';

const parseTcptopArgs = (argv: string[]) => command.parse(argv) as TcptopOptions;
const badArgs = (argv: string[], message: RegExp) =>
  assert.throws(() => command.parse(argv), (e: Error & { code?: string }) => e.code === 'BAD_ARGS' && message.test(e.message), argv.join(' '));

test('flags: BCC positionals, -i, sort, rows, families', () => {
  const o = parseTcptopArgs([]);
  assert.deepEqual([o.intervalS, o.count, o.sort, o.rows, o.noclear, o.nosummary], [1, 0, 'all', 20, false, false]);
  const p = parseTcptopArgs(['-CS', '5', '3']);
  assert.deepEqual([p.intervalS, p.count, p.noclear, p.nosummary], [5, 3, true, true]);
  const i = parseTcptopArgs(['-i', '10', '-p', '1', '-s', 'sent', '-r', '5', '-6', '--json', '-d', '2m', '-c', '/sys/fs/cgroup/x']);
  assert.deepEqual([i.intervalS, i.count, i.filters.tgid, i.sort, i.rows, i.filters.family], [10, 0, 1, 'sent', 5, 6]);
  assert.equal(parseTcptopArgs(['500ms']).intervalS, 0.5);
  assert.equal(parseTcptopArgs(['-i', '0.1']).intervalS, 0.1);
  assert.equal(parseTcptopArgs(['-i', '2', '7']).count, 7);
  assert.equal(parseTcptopArgs(['-4']).filters.family, 4);
  assert.deepEqual([parseTcptopArgs(['-6C']).filters.family, parseTcptopArgs(['-6C']).noclear], [6, true]);
  assert.equal(parseTcptopArgs(['-C4']).filters.family, 4);
});

test('flags: bad values are one BAD_ARGS error each', () => {
  badArgs(['-i', '0'], /^-i INTERVAL: must be more than 0/);
  badArgs(['-i', '0.01'], /^-i INTERVAL: at least 0.1 s/);
  badArgs(['0.05'], /^interval: at least 0.1 s/);
  badArgs(['abc'], /^interval: 'abc' is not a duration/);
  badArgs(['1', 'x'], /^count: 'x' is not an integer$/);
  badArgs(['1', '2', '3'], /^unexpected argument '3'/);
  badArgs(['-i', '1', '2', '3'], /^unexpected argument '3'/);
  badArgs(['-4', '-6'], /^-4 and -6 exclude each other/);
  badArgs(['-s', 'bytes'], /^-s: sort by all, sent or received, not 'bytes'$/);
  badArgs(['-r', '0'], /^-r ROWS: 0 is out of range/);
  badArgs(['--hooks', 'uprobe'], /^--hooks: one of tp_btf, fentry, kprobe/);
  badArgs(['-p', 'x'], /^-p PID: 'x' is not an integer/);
  badArgs(['--bogus'], /^unknown option --bogus/);
  assert.match(command.help, /^Usage: bpfkit tcptop \[options\] \[interval \[count\]\]/);
  assert.match(command.help, /\n  -C, --noclear +don't clear the screen/);
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
  // The screen is cleared only on a terminal and without -C.
  assert.ok(renderText({ rows: [], dropped: 0 }, parseTcptopArgs([]), true).startsWith('\x1b[2J\x1b[H'));
  assert.ok(renderText({ rows: [], dropped: 0 }, parseTcptopArgs([]), false).startsWith('\n'));
  assert.ok(renderText({ rows: [], dropped: 0 }, parseTcptopArgs(['-C']), true).startsWith('\n'));
});

test('text: a hostile comm is escaped; JSON keeps it exact under the column keys', () => {
  const evil: ConnRow = { pid: 7, comm: '\x1b[2J\nFAKE', family: 4, laddr: '127.0.0.1', lport: 1, raddr: '127.0.0.1', rport: 2, rxBytes: 5000, txBytes: 0 };
  const text = renderText({ rows: [evil], dropped: 0 }, parseTcptopArgs(['-CS']), false);
  assert.doesNotMatch(text, /\x1b/);
  assert.equal(text.split('\n').length, 4, text); // '', header, one row, ''
  assert.match(text, /^7 +\\x1b\[2J\\x0aFAKE /m);
  const rec = JSON.parse(renderJson({ rows: [evil], dropped: 0 }, parseTcptopArgs([]), 1)) as { rows: Array<Record<string, unknown>> };
  assert.deepEqual(rec.rows[0], { pid: 7, comm: evil.comm, family: 4, laddr: '127.0.0.1', lport: 1, raddr: '127.0.0.1', rport: 2, rx_kb: 4, tx_kb: 0, rx_bytes: 5000, tx_bytes: 0 });
});
