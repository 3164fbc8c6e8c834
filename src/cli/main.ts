#!/usr/bin/env node
// `bpfkit <tool> [flags]`: finds the tool and hands it to the runner (src/toolkit), which owns
// flags, signals, output and cleanup. Only this layer and the runner print.
import { TOOL_NAMES, ALIASES, loadTool } from './tools.js';
import { reportError } from '../toolkit/runner.js';

const VERSION = '0.1.0';

async function usage(): Promise<string> {
  const tools = await Promise.all(TOOL_NAMES.map(loadTool));
  const width = Math.max(...TOOL_NAMES.map((n) => n.length));
  const lines = tools.map((t) => `  ${t!.name.padEnd(width)}  ${t!.summary}`);
  const aliases = Object.keys(ALIASES);
  return `Usage: bpfkit <tool> [options]   (bpfkit <tool> --help for a tool's options)

eBPF observability for Linux: find out why a system is slow, from the outside.

Tools:
${lines.join('\n')}
${aliases.length ? `\nAliases: ${aliases.join(', ')}\n` : ''}
Every tool takes --json (NDJSON) and --verbose (which kernel hooks are used, libbpf's log).
Needs root (or CAP_BPF + CAP_PERFMON), kernel BTF and libbpf.so.1.
`;
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const first = args[0];
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(await usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`bpfkit ${VERSION}\n`);
    return 0;
  }
  let name = first;
  let toolArgs = args.slice(1);
  const alias = ALIASES[name];
  if (alias) {
    name = alias.tool;
    toolArgs = [...alias.args, ...toolArgs];
  }
  const command = await loadTool(name);
  if (!command) {
    process.stderr.write(`bpfkit: unknown tool '${first}' (bpfkit --help lists the tools)\n`);
    return 2;
  }
  if (toolArgs.includes('-h') || toolArgs.includes('--help')) {
    process.stdout.write(command.help);
    return 0;
  }
  return command.execute(toolArgs, { verbose });
}

// Nothing may outlive a closed stdout: `| head -1` ends the tool quietly (the runner stops it).
process.stdout.on('error', () => {});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => process.exit(reportError(err, '', true)),
);
