// The tools `bpfkit` knows. Modules load lazily so that starting one tool does not load all.
import type { ToolCommand } from './command.js';

export interface ToolEntry {
  name: string;
  summary: string;
  load: () => Promise<{ command: ToolCommand }>;
}

export const TOOLS: ToolEntry[] = [
  { name: 'syscount', summary: 'count syscalls and their latency, by syscall or by process', load: () => import('../tools/syscount/index.js') },
  { name: 'tcptop', summary: 'TCP throughput per process and connection, every interval', load: () => import('../tools/tcptop/index.js') },
  { name: 'sockets', summary: 'sockets of a process with addresses, state and queues (lsof -i -a -p)', load: () => import('../tools/sockets/index.js') },
  { name: 'biotop', summary: 'block device I/O by process, top-style', load: () => import('../tools/biotop/index.js') },
  { name: 'biolatency', summary: 'block I/O latency as a log2 histogram', load: () => import('../tools/biolatency/index.js') },
  { name: 'fsslower', summary: 'file system operations slower than a threshold (ext4slower = fsslower -t ext4)', load: () => import('../tools/fsslower/index.js') },
  { name: 'profile', summary: 'sample on-CPU stack traces: text, folded stacks, SVG flame graph, speedscope', load: () => import('../tools/profile/index.js') },
  { name: 'trace', summary: 'strace at eBPF cost: syscalls with decoded arguments, results and durations', load: () => import('../tools/trace/index.js') },
  { name: 'execsnoop', summary: 'trace new processes (exec) with argv, PPID and result', load: () => import('../tools/execsnoop/index.js') },
  { name: 'threadsnoop', summary: 'trace thread creation and exit, with thread lifetimes', load: () => import('../tools/threadsnoop/index.js') },
  { name: 'exitsnoop', summary: 'trace process exits with age and exit code or signal', load: () => import('../tools/exitsnoop/index.js') },
  { name: 'opensnoop', summary: 'trace open()/openat()/openat2() with path, flags and result', load: () => import('../tools/opensnoop/index.js') },
  { name: 'tcplife', summary: 'trace TCP connections with duration and bytes sent/received', load: () => import('../tools/tcplife/index.js') },
  { name: 'diagnose', summary: 'watch a pipeline for seconds and name its bottleneck, with evidence', load: () => import('../tools/diagnose/index.js') },
];

/** Names that run a tool with preset flags (BCC's per-filesystem tools). */
export const ALIASES: Record<string, { tool: string; args: string[] }> = {
  ext4slower: { tool: 'fsslower', args: ['-t', 'ext4'] },
};
