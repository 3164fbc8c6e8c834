// The BTF readers (src/core/btf.ts) against the committed objects: enum constants and array
// sizes are the numbers written in bpf/*.h. Opening an object needs no kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, bpfObjectPath } from '../../src/core/bpf.js';
import { fileEnumValues } from '../../src/core/btf.js';
import { waitKindValues, WAIT_KINDS } from '../../src/tools/diagnose/collect.js';

test('enum diag_wait and diag_thread.wait_ns[DIAG_WAIT_KINDS] from diagnose.bpf.o', () => {
  const obj = BpfObject.openFile(bpfObjectPath('diagnose'));
  try {
    assert.deepEqual(obj.enumValues('diag_wait'), {
      DIAG_OTHER: 0, DIAG_INPUT: 1, DIAG_SLEEP: 2, DIAG_SELECT_SLEEP: 3, DIAG_READ: 4, DIAG_WRITE: 5,
      DIAG_SYNC: 6, DIAG_LOCK: 7, DIAG_WAIT_KINDS: 8, DIAG_SELECT_LIKE: 9, DIAG_POLL_LIKE: 10, DIAG_ON_CPU: 11,
    });
    const t = obj.struct('diag_thread');
    assert.equal(t.count('wait_ns'), 8);
    assert.equal(t.count('comm'), 16);
    assert.throws(() => t.count('tgid'), /not an array/);
    assert.equal(obj.struct('diag_flow_key').count('laddr'), 16);
    assert.throws(() => obj.enumValues('no_such_enum'), /has no BTF for enum no_such_enum/);
    // the TS names line up with the C enum
    const idx = waitKindValues(obj.enumValues('diag_wait'), t.count('wait_ns'));
    assert.deepEqual(WAIT_KINDS.map((k) => idx[k]), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.throws(() => waitKindValues({ ...obj.enumValues('diag_wait'), DIAG_WAIT_KINDS: 9 }, 9), /9 wait kinds/);
  } finally {
    obj.close();
  }
});

test('trace.bpf.o: copy kinds, op flags, counters, limits and TRACE_MAX_OPS', () => {
  const obj = BpfObject.openFile(bpfObjectPath('trace'));
  try {
    assert.deepEqual(obj.enumValues('trace_copy_kind'), {
      TRACE_COPY_NONE: 0, TRACE_COPY_FIXED: 1, TRACE_COPY_STR: 2, TRACE_COPY_ARGLEN: 3, TRACE_COPY_RETLEN: 4, TRACE_COPY_LENPTR: 5,
      TRACE_COPY_STRARRAY: 6, TRACE_COPY_DIRENTS: 7,
    });
    assert.deepEqual(obj.enumValues('trace_op_when'), { TRACE_OP_EXIT: 1, TRACE_OP_RETRY: 2 });
    assert.deepEqual(obj.enumValues('trace_flags'), { TRACE_F_NORETURN: 1, TRACE_F_FAULT_SHIFT: 8, TRACE_F_CUT: 2 });
    assert.deepEqual(obj.enumValues('trace_limits'), { TRACE_MAX_SYSCALLS: 1024, TRACE_DATA_USED: 1024, TRACE_ARRAY_MAX: 4096, TRACE_DIRENTS_MAX: 1024 });
    assert.deepEqual(obj.enumValues('trace_task_state'), { TRACE_TASK_ACTIVE: 1, TRACE_TASK_EXEC: 2, TRACE_TASK_ADOPT: 3 });
    assert.deepEqual(obj.enumValues('trace_counter'), { TRACE_CNT_SENT: 0, TRACE_CNT_LOST_RINGBUF: 1, TRACE_CNT_LOST_SLOT: 2, TRACE_CNT_N: 4 });
    const rec = obj.struct('trace_rec');
    assert.equal(rec.count('lens'), 8);
    assert.equal(rec.count('args'), 6);
    // TRACE_DATA sent at most, plus room for the verifier's bounds on STRARRAY positions
    assert.equal(rec.count('data'), 2048 + 1024);
  } finally {
    obj.close();
  }
});

test('fileEnumValues reads an object file without opening it as a BpfObject', () => {
  assert.deepEqual(fileEnumValues(bpfObjectPath('execsnoop'), 'exec_limits'), { EXEC_ARG_LEN: 256, EXEC_MAX_ARGS: 64 });
  assert.equal(fileEnumValues(bpfObjectPath('execsnoop'), 'diag_wait'), undefined);
  assert.equal(fileEnumValues('/nonexistent.bpf.o', 'exec_limits'), undefined);
});
