// The tools `bpfkit` knows. Modules load lazily so that starting one tool does not load all.
import type { ToolCommand } from './command.js';

export interface ToolEntry {
  name: string;
  summary: string;
  load: () => Promise<{ command: ToolCommand }>;
}

export const TOOLS: ToolEntry[] = [
  { name: 'syscount', summary: 'count syscalls and their latency, by syscall or by process', load: () => import('../tools/syscount/index.js') },
  { name: 'sockets', summary: 'sockets of a process with addresses, state and queues (lsof -i -a -p)', load: () => import('../tools/sockets/index.js') },
  { name: 'profile', summary: 'sample on-CPU stack traces: text, folded stacks, SVG flame graph, speedscope', load: () => import('../tools/profile/index.js') },
  { name: 'tcptop', summary: 'TCP throughput per process and connection, every interval', load: () => import('../tools/tcptop/index.js') },
];

/** Names that run a tool with preset flags (BCC's per-filesystem tools). */
export const ALIASES: Record<string, { tool: string; args: string[] }> = {};
