#!/usr/bin/env node
// `bpfkit <tool> [flags]`: the only layer that prints. Runs one tool, turns expected failures
// into one line and an exit code, and makes sure every BPF object is released on the way out.
import { BpfkitError } from '../core/errors.js';
import { TOOLS, ALIASES } from './tools.js';
import type { ToolContext } from './command.js';

const VERSION = '0.1.0';

function usage(): string {
  const width = Math.max(...TOOLS.map((t) => t.name.length));
  const lines = TOOLS.map((t) => `  ${t.name.padEnd(width)}  ${t.summary}`);
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

function fail(err: unknown, tool: string, verbose: boolean): number {
  const prefix = tool ? `bpfkit ${tool}` : 'bpfkit';
  if (err instanceof BpfkitError) {
    process.stderr.write(`${prefix}: ${err.message}\n`);
    if (verbose && err.detail) process.stderr.write(err.detail + '\n');
    return err.exitCode;
  }
  process.stderr.write(`${prefix}: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
  return 1;
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const first = args[0];
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(usage());
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
  const entry = TOOLS.find((t) => t.name === name);
  if (!entry) {
    process.stderr.write(`bpfkit: unknown tool '${first}' (bpfkit --help lists the tools)\n`);
    return 2;
  }
  const { command } = await entry.load();
  if (toolArgs.includes('-h') || toolArgs.includes('--help')) {
    process.stdout.write(command.help);
    return 0;
  }

  const controller = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) controller.abort();
    else process.exit(130); // second Ctrl-C: the exit hook still releases everything
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  const { closeAll } = await import('../core/bpf.js');
  const { setLibbpfVerbose, setVerboseNotes } = await import('../core/log.js');
  process.on('exit', () => closeAll());
  const say = (line: string) => process.stderr.write(line.endsWith('\n') ? line : line + '\n');
  setLibbpfVerbose(verbose ? say : undefined);
  setVerboseNotes(verbose ? say : undefined);

  const ctx: ToolContext = {
    out: (text) => { process.stdout.write(text); },
    verbose: verbose ? say : () => {},
    signal: controller.signal,
    isTTY: Boolean(process.stdout.isTTY),
    // BPFKIT_READY=1 (tests, benchmarks): announce on stderr when the programs are attached.
    ready: () => { if (process.env.BPFKIT_READY === '1') process.stderr.write('BPFKIT_READY\n'); },
  };
  try {
    await command.run(toolArgs, ctx);
    return 0;
  } catch (err) {
    return fail(err, name, verbose);
  } finally {
    closeAll();
  }
}

// Piping into `head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Flush stdout, then leave even if a handle (a poller, a timer) is still open.
    process.stdout.write('', () => process.exit(code));
  },
  (err) => {
    process.exitCode = fail(err, '', true);
    process.exit(process.exitCode);
  },
);
