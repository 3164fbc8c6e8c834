// Print this kernel's BPF features as bpfkit probes them (JSON), e.g. under another kernel.
import { hasBtfTracepoint, hasFentry, hasKprobes, hasRingbuf, hasTaskStorage, hasTpBtf } from '../dist/src/core/features.js';

console.log(JSON.stringify({
  tp_btf: hasTpBtf(), fentry: hasFentry(), kprobes: hasKprobes(), ringbuf: hasRingbuf(), taskStorage: hasTaskStorage(),
  sock_send_length: hasBtfTracepoint('sock_send_length'), block_io_start: hasBtfTracepoint('block_io_start'),
  sys_enter: hasBtfTracepoint('sys_enter'),
}));
