// /proc readers (src/core/proc.ts) on sample text and on this process, no kernel BPF.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listPids, parseStat, parseStatus, processGone, readCmdline, readComm, readStat, readStatus } from '../../src/core/proc.js';

test('parseStat: comm with spaces and parentheses, state, ppid', () => {
  assert.deepEqual(parseStat('1234 (a (b) c) S 1 1234 1234 0 -1 4194560 0'), { comm: 'a (b) c', state: 'S', ppid: 1 });
  assert.deepEqual(parseStat('7 (kworker/0:1) I 2 0 0'), { comm: 'kworker/0:1', state: 'I', ppid: 2 });
});

test('parseStatus: key/value lines', () => {
  const s = parseStatus('Name:\tnode\nTgid:\t42\nNStgid:\t42\t7\nCapEff:\t000001ffffffffff\n');
  assert.equal(s.get('Tgid'), '42');
  assert.equal(s.get('NStgid'), '42\t7');
  assert.equal(s.get('CapEff'), '000001ffffffffff');
});

test('readers on this process; a gone process reads as undefined', () => {
  assert.equal(readStat(process.pid)?.ppid, process.ppid);
  assert.equal(readStatus(process.pid)?.get('Tgid'), String(process.pid));
  assert.equal(readComm(process.pid), readStat(process.pid)?.comm);
  assert.match(readCmdline(process.pid) ?? '', /node/);
  assert.ok(listPids().includes(process.pid));
  assert.equal(processGone(process.pid), false);
  assert.equal(readComm(0x3fffffff), undefined);
  assert.equal(processGone(0x3fffffff), true);
});
