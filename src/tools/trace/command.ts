// trace -- CMD: the command is started stopped, before its execve, so that its pid can be put
// in the traced set first; then it is let go and traced from that execve on (the kernel side
// ignores the shell's own calls until then). Node cannot fork without exec, so a shell waits on
// a pipe (fd 3) and then execs the command with its argv[0] (bash's exec -a).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsc, existsSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { badArgs } from '../../core/errors.js';

/** [path, argv]: the program found as execvp would (strace resolves it before its execve too). */
export function resolveCommand(argv: string[]): { path: string; argv: string[] } {
  const name = argv[0]!;
  const ok = (p: string) => { try { accessSync(p, fsc.X_OK); return statSync(p).isFile(); } catch { return false; } };
  if (name.includes('/')) {
    if (!existsSync(name)) throw badArgs(`cannot run '${name}': no such file`);
    if (!ok(name)) throw badArgs(`cannot run '${name}': not an executable file`);
    return { path: name, argv };
  }
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const p = join(dir || '.', name);
    if (ok(p)) return { path: p, argv };
  }
  throw badArgs(`cannot run '${name}': not found in PATH`);
}

const BASH = '/bin/bash';
// read from fd 3 (EOF: trace went away, do not run untraced), close it, exec with argv[0]
const SCRIPT_BASH = 'read -r -u 3 _ || exit 127; exec 3<&-; exec -a "$0" "$@"';
const SCRIPT_SH = 'read _ <&3 || exit 127; exec 3<&-; shift; exec "$0" "$@"';

export interface StoppedCommand { proc: ChildProcess; pid: number; go(): void }

export function startStopped(path: string, argv: string[]): StoppedCommand {
  const bash = existsSync(BASH);
  const args = bash ? ['-c', SCRIPT_BASH, argv[0]!, path, ...argv.slice(1)] : ['-c', SCRIPT_SH, path, path, ...argv.slice(1)];
  const proc = spawn(bash ? BASH : '/bin/sh', args, { stdio: ['inherit', 'inherit', 'inherit', 'pipe'] });
  if (proc.pid === undefined) throw badArgs(`cannot start ${path}`);
  const gate = proc.stdio[3] as NodeJS.WritableStream;
  return { proc, pid: proc.pid, go: () => gate.end('go\n') };
}
