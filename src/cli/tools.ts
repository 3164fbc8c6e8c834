// The tools `bpfkit` knows, in the order of the debugging workflow. Modules load lazily so that
// starting one tool does not load all; a tool's summary lives in its own definition.
import type { ToolCommand } from '../toolkit/runner.js';

type Loader = () => Promise<{ command: ToolCommand }>;

const LOADERS: Array<[string, Loader]> = [
  ['syscount', () => import('../tools/syscount/index.js')],
  ['tcptop', () => import('../tools/tcptop/index.js')],
  ['sockets', () => import('../tools/sockets/index.js')],
  ['biotop', () => import('../tools/biotop/index.js')],
  ['biolatency', () => import('../tools/biolatency/index.js')],
  ['fsslower', () => import('../tools/fsslower/index.js')],
  ['profile', () => import('../tools/profile/index.js')],
  ['trace', () => import('../tools/trace/index.js')],
  ['execsnoop', () => import('../tools/execsnoop/index.js')],
  ['threadsnoop', () => import('../tools/threadsnoop/index.js')],
  ['exitsnoop', () => import('../tools/exitsnoop/index.js')],
  ['opensnoop', () => import('../tools/opensnoop/index.js')],
  ['tcplife', () => import('../tools/tcplife/index.js')],
  ['diagnose', () => import('../tools/diagnose/index.js')],
  ['serve', () => import('../tools/serve/index.js')],
];

export const TOOL_NAMES = LOADERS.map(([name]) => name);

export async function loadTool(name: string): Promise<ToolCommand | undefined> {
  const loader = LOADERS.find(([n]) => n === name)?.[1];
  if (!loader) return undefined;
  return (await loader()).command;
}

/** Names that run a tool with preset flags (BCC's per-filesystem tools). */
export const ALIASES: Record<string, { tool: string; args: string[] }> = {
  ext4slower: { tool: 'fsslower', args: ['-t', 'ext4'] },
};
