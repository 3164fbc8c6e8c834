#!/usr/bin/env node
// Generates src/core/syscalls/table.generated.ts from the kernel's own UAPI headers
// (Debian/Ubuntu package linux-libc-dev), so no syscall or errno name is typed by hand:
//
//   x86_64: /usr/include/x86_64-linux-gnu/asm/unistd_64.h   (#define __NR_<name> <nr>)
//   arm64:  /usr/include/asm-generic/unistd.h                (the generic table arm64 uses)
//   errno:  /usr/include/asm-generic/errno-base.h, errno.h   (#define E<NAME> <n>)
//
// asm-generic/unistd.h is preprocessed here with arm64's 64-bit view: __BITS_PER_LONG == 64,
// no __SYSCALL_COMPAT, and the __ARCH_WANT_* macros that arch/arm64/include/uapi/asm/unistd.h
// defines before including it. `__NR_x __NR3264_y` indirections are resolved.
//
// It also generates src/core/syscalls/signatures.generated.ts, every syscall's arguments (C type
// and name), from the kernel's own description: the formats of the syscall tracepoints,
// /sys/kernel/tracing/events/syscalls/sys_enter_<name>/format (tracefs is mounted there if it is
// not; needs root). Those formats come from the kernel's SYSCALL_DEFINE macros, so they name
// the arguments as the kernel source does. The file records the kernel release it was read from;
// --check compares it only on that release (another kernel may add syscalls) and says so.
//
// Usage: node scripts/gen-syscalls.mjs [--check] [--include DIR]
//   --check    exit 1 if the committed file differs from what would be generated (for CI)
//   --include  root of the headers (default /usr/include)
import { readFileSync, writeFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { release } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const outFile = join(repo, 'src/core/syscalls/table.generated.ts');
const sigFile = join(repo, 'src/core/syscalls/signatures.generated.ts');

const args = process.argv.slice(2);
const check = args.includes('--check');
const incIdx = args.indexOf('--include');
const inc = incIdx >= 0 ? args[incIdx + 1] : '/usr/include';
if (!inc) fail('--include needs a directory');

const X86_64_CANDIDATES = ['x86_64-linux-gnu/asm/unistd_64.h', 'asm/unistd_64.h'];
const GENERIC = 'asm-generic/unistd.h';
const ERRNO_FILES = ['asm-generic/errno-base.h', 'asm-generic/errno.h'];

/** Macros arm64's uapi unistd.h defines before including asm-generic/unistd.h (64-bit ABI). */
const ARM64_DEFINES = new Map([
  ['__BITS_PER_LONG', 64],
  ['__ARCH_WANT_RENAMEAT', 1],
  ['__ARCH_WANT_NEW_STAT', 1],
  ['__ARCH_WANT_SET_GET_RLIMIT', 1],
  ['__ARCH_WANT_TIME32_SYSCALLS', 1],
  ['__ARCH_WANT_SYS_CLONE3', 1],
  ['__ARCH_WANT_MEMFD_SECRET', 1],
]);

function fail(msg) {
  process.stderr.write(`gen-syscalls: ${msg}\n`);
  process.exit(1);
}

function read(rel) {
  const p = join(inc, rel);
  if (!existsSync(p)) fail(`${p} not found (install linux-libc-dev, or pass --include DIR)`);
  return readFileSync(p, 'utf8');
}

/** Join backslash continuations and drop comments, keep line structure otherwise. */
function cleanSource(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/\/\/.*$/gm, '')
    .replace(/\\\n/g, ' ')
    .split('\n');
}

// ---- a small #if expression evaluator: integers, identifiers, defined(X), ! && || == != < > <= >= ( )
function evalCondition(expr, macros) {
  const tokens = expr.match(/defined|[A-Za-z_]\w*|\d+[uUlL]*|&&|\|\||==|!=|<=|>=|[()!<>]/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const expect = (t) => { if (next() !== t) throw new Error(`expected ${t} in '${expr}'`); };
  const value = (name) => {
    const v = macros.get(name);
    return typeof v === 'number' ? v : 0; // undefined (or non-numeric) macros are 0, as in cpp
  };
  function primary() {
    const t = next();
    if (t === undefined) throw new Error(`unexpected end of '${expr}'`);
    if (t === '(') { const v = orExpr(); expect(')'); return v; }
    if (t === '!') return primary() ? 0 : 1;
    if (t === 'defined') {
      let name = next();
      if (name === '(') { name = next(); expect(')'); }
      return macros.has(name) ? 1 : 0;
    }
    if (/^\d/.test(t)) return parseInt(t, 10);
    if (/^[A-Za-z_]/.test(t)) return value(t);
    throw new Error(`unexpected '${t}' in '${expr}'`);
  }
  function relational() {
    let v = primary();
    for (;;) {
      const op = peek();
      if (op === '<' || op === '>' || op === '<=' || op === '>=') {
        next(); const r = primary();
        v = Number(op === '<' ? v < r : op === '>' ? v > r : op === '<=' ? v <= r : v >= r);
      } else return v;
    }
  }
  function equality() {
    let v = relational();
    while (peek() === '==' || peek() === '!=') {
      const op = next(); const r = relational();
      v = Number(op === '==' ? v === r : v !== r);
    }
    return v;
  }
  function andExpr() {
    let v = equality();
    while (peek() === '&&') { next(); const r = equality(); v = Number(Boolean(v) && Boolean(r)); }
    return v;
  }
  function orExpr() {
    let v = andExpr();
    while (peek() === '||') { next(); const r = andExpr(); v = Number(Boolean(v) || Boolean(r)); }
    return v;
  }
  const v = orExpr();
  if (i !== tokens.length) throw new Error(`trailing tokens in '${expr}'`);
  return v !== 0;
}

/**
 * Minimal preprocessor: follows #if/#ifdef/#ifndef/#elif/#else/#endif, records #define / #undef
 * in active regions. Returns the macros in definition order (name -> raw replacement text).
 */
function preprocess(text, predefined) {
  const macros = new Map(predefined);
  const raw = new Map();
  const stack = []; // { active, taken, parentActive }
  const active = () => stack.every((s) => s.active);
  for (const line of cleanSource(text)) {
    const m = /^\s*#\s*(\w+)\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, dir, rest] = m;
    switch (dir) {
      case 'if': case 'ifdef': case 'ifndef': {
        const parentActive = active();
        let cond = false;
        if (parentActive) {
          if (dir === 'ifdef') cond = macros.has(rest.split(/\s/)[0]);
          else if (dir === 'ifndef') cond = !macros.has(rest.split(/\s/)[0]);
          else cond = evalCondition(rest, macros);
        }
        stack.push({ active: cond, taken: cond, parentActive });
        break;
      }
      case 'elif': {
        const top = stack.at(-1);
        if (!top) throw new Error('#elif without #if');
        const cond = top.parentActive && !top.taken && evalCondition(rest, macros);
        top.active = cond;
        top.taken ||= cond;
        break;
      }
      case 'else': {
        const top = stack.at(-1);
        if (!top) throw new Error('#else without #if');
        top.active = top.parentActive && !top.taken;
        top.taken = true;
        break;
      }
      case 'endif':
        if (!stack.pop()) throw new Error('#endif without #if');
        break;
      case 'define': {
        if (!active()) break;
        const d = /^([A-Za-z_]\w*)(\([^)]*\))?\s*(.*)$/.exec(rest);
        if (!d) break;
        const [, name, params, body] = d;
        if (params) { macros.set(name, 'function-like'); break; }
        const num = /^\(?\s*(\d+)\s*\)?$/.exec(body);
        macros.set(name, num ? parseInt(num[1], 10) : body);
        raw.set(name, body);
        break;
      }
      case 'undef':
        if (active()) { macros.delete(rest.trim()); raw.delete(rest.trim()); }
        break;
      default:
        break; // #include, #error, #pragma: not needed here
    }
  }
  if (stack.length) throw new Error('unterminated #if');
  return { macros, raw };
}

/** Resolve a macro body to a number: numbers, other macros, and `A + N` sums. */
function resolve(body, macros, depth = 0) {
  if (depth > 16) throw new Error(`macro recursion resolving '${body}'`);
  const s = String(body).trim().replace(/^\((.*)\)$/, '$1').trim();
  if (/^\d+$/.test(s)) return parseInt(s, 10);
  const sum = /^(.+?)\s*\+\s*(.+)$/.exec(s);
  if (sum) {
    const a = resolve(sum[1], macros, depth + 1);
    const b = resolve(sum[2], macros, depth + 1);
    return a === undefined || b === undefined ? undefined : a + b;
  }
  if (/^[A-Za-z_]\w*$/.test(s)) {
    const v = macros.get(s);
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v !== 'function-like') return resolve(v, macros, depth + 1);
  }
  return undefined;
}

/** Names that look like __NR_x but are not syscalls. */
const NOT_SYSCALLS = new Set(['syscalls', 'arch_specific_syscall']);

function syscallTable(macros, what) {
  const byNr = [];
  for (const [name, body] of macros) {
    const m = /^__NR_(\w+)$/.exec(name);
    if (!m || NOT_SYSCALLS.has(m[1])) continue;
    const nr = resolve(body, macros);
    if (nr === undefined) fail(`${what}: cannot resolve __NR_${m[1]} (${body})`);
    if (byNr[nr] && byNr[nr] !== m[1]) fail(`${what}: syscall ${nr} is both ${byNr[nr]} and ${m[1]}`);
    byNr[nr] = m[1];
  }
  return Array.from(byNr, (n) => n ?? '');
}

// ---- x86_64
const x86Rel = X86_64_CANDIDATES.find((r) => existsSync(join(inc, r)));
if (!x86Rel) fail(`none of ${X86_64_CANDIDATES.map((r) => join(inc, r)).join(', ')} found`);
const x86 = syscallTable(preprocess(read(x86Rel), new Map([['__x86_64__', 1]])).macros, 'x86_64');

// ---- arm64 (generic table, 64-bit view)
const arm64 = syscallTable(preprocess(read(GENERIC), ARM64_DEFINES).macros, 'arm64');

// ---- errno
const errnoMacros = preprocess(ERRNO_FILES.map(read).join('\n'), new Map()).macros;
const errnoNames = [];
const errnoAliases = {};
for (const [name, body] of errnoMacros) {
  if (!/^E[A-Z0-9]+$/.test(name)) continue;
  const n = resolve(body, errnoMacros);
  if (n === undefined) fail(`errno: cannot resolve ${name} (${body})`);
  if (/^[A-Za-z_]/.test(String(body).trim())) errnoAliases[name] = n; // EWOULDBLOCK = EAGAIN
  else if (errnoNames[n]) errnoAliases[name] = n;
  else errnoNames[n] = name;
}
const errnoList = Array.from(errnoNames, (n) => n ?? '');
// The text strace prints after the name, `-1 ENOENT (No such file or directory)`, is the C
// library's strerror(), not the headers' comments: read from glibc through perl (perl-base is
// Essential on Debian), in the C locale.
const errnoText = execFileSync('perl', ['-e', `for $n (0..${errnoList.length - 1}) { $! = $n; print "$!\\n" }`], { env: { ...process.env, LC_ALL: 'C' }, encoding: 'utf8' })
  .split('\n').slice(0, errnoList.length).map((t, n) => (errnoList[n] ? t : ''));

// sanity checks against well-known numbers, so a parser bug cannot slip into the tree
const expect = (cond, msg) => { if (!cond) fail(`sanity check failed: ${msg}`); };
expect(x86[0] === 'read' && x86[39] === 'getpid' && x86[110] === 'getppid' && x86[257] === 'openat', 'x86_64 table');
expect(arm64[63] === 'read' && arm64[172] === 'getpid' && arm64[173] === 'getppid' && arm64[56] === 'openat', 'arm64 table');
expect(arm64[80] === 'fstat' && arm64[79] === 'newfstatat' && arm64[222] === 'mmap' && arm64[62] === 'lseek', 'arm64 __NR3264 indirections');
expect(arm64[38] === 'renameat' && arm64[163] === 'getrlimit' && arm64[435] === 'clone3', 'arm64 __ARCH_WANT_* view');
expect(errnoList[2] === 'ENOENT' && errnoList[11] === 'EAGAIN' && errnoAliases.EWOULDBLOCK === 11, 'errno table');
expect(errnoText[2] === 'No such file or directory' && errnoText[25] === 'Inappropriate ioctl for device', 'strerror texts');

// ---- output
const fmtList = (list) => {
  const lines = [];
  for (let i = 0; i < list.length; i += 8) {
    lines.push('    ' + list.slice(i, i + 8).map((s) => JSON.stringify(s)).join(', ') + ',');
  }
  return lines.join('\n');
};
const sources = [x86Rel, GENERIC, ...ERRNO_FILES].map((r) => join(inc, r));
const out = `// GENERATED FILE: do not edit. Regenerate with \`node scripts/gen-syscalls.mjs\`.
// Sources (linux-libc-dev, generated by the kernel from its syscall tables):
${sources.map((s) => `//   ${s}`).join('\n')}
// x86_64 from unistd_64.h; arm64 from asm-generic/unistd.h preprocessed with arm64's 64-bit view
// (__BITS_PER_LONG == 64, ${[...ARM64_DEFINES.keys()].filter((k) => k.startsWith('__ARCH')).join(', ')}).
// Index = number; '' marks a hole.

export const syscallTables: { readonly x86_64: readonly string[]; readonly arm64: readonly string[] } = {
  x86_64: [
${fmtList(x86)}
  ],
  arm64: [
${fmtList(arm64)}
  ],
};

/** Linux errno names by number (asm-generic; x86_64 and arm64 share it). '' marks a hole. */
export const errnoNames: readonly string[] = [
${fmtList(errnoList).replace(/^    /gm, '  ')}
];

/** strerror() of each errno (glibc, C locale), as strace prints it after the name. */
export const errnoMessages: readonly string[] = [
${fmtList(errnoText).replace(/^    /gm, '  ')}
];

/** Second names for an errno number (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK). */
export const errnoAliases: Readonly<Record<string, number>> = ${JSON.stringify(errnoAliases)};
`;

// ---- signatures, from the syscall tracepoints' formats
const TRACEFS = '/sys/kernel/tracing';
/** Table names whose kernel function (and tracepoint) has another name. */
const KERNEL_NAMES = { stat: 'newstat', fstat: 'newfstat', lstat: 'newlstat', uname: 'newuname', sendfile: 'sendfile64', umount2: 'umount' };

function tracefsEvents() {
  const dir = join(TRACEFS, 'events/syscalls');
  if (!existsSync(dir)) {
    try {
      mkdirSync(TRACEFS, { recursive: true });
      execFileSync('mount', ['-t', 'tracefs', 'tracefs', TRACEFS], { stdio: 'ignore' });
    } catch { /* not root, or no tracefs: the caller says so */ }
  }
  return existsSync(dir) ? dir : undefined;
}

/** `field:const char * filename;` lines after __syscall_nr: [[type, name], ...]. */
function parseFormat(text) {
  const args = [];
  for (const m of text.matchAll(/^\s*field:([^;]+);/gm)) {
    const decl = m[1].trim();
    const name = /([A-Za-z_]\w*)$/.exec(decl)?.[1];
    if (!name || name.startsWith('common_') || name === '__syscall_nr') continue;
    args.push([decl.slice(0, decl.length - name.length).trim(), name]);
  }
  return args;
}

function signatureTable(dir) {
  const names = [...new Set([...x86, ...arm64].filter(Boolean))].sort();
  const sigs = {};
  for (const name of names) {
    const f = join(dir, `sys_enter_${KERNEL_NAMES[name] ?? name}`, 'format');
    if (existsSync(f)) sigs[name] = parseFormat(readFileSync(f, 'utf8'));
  }
  return sigs;
}

function signaturesSource(sigs, kernel) {
  const rows = Object.entries(sigs).map(([n, a]) => `  ${JSON.stringify(n)}: [${a.map(([t, an]) => `[${JSON.stringify(t)}, ${JSON.stringify(an)}]`).join(', ')}],`);
  return `// GENERATED FILE: do not edit. Regenerate with \`node scripts/gen-syscalls.mjs\` (as root).
// Every syscall's arguments (C type, name) from the kernel's syscall tracepoints:
//   ${TRACEFS}/events/syscalls/sys_enter_<name>/format  (Linux ${kernel}, ${process.arch})
// Names are the syscall table's; ${Object.entries(KERNEL_NAMES).map(([a, b]) => `${a} is the kernel's ${b}`).join(', ')}.
// Syscalls without a tracepoint there (not built in that kernel) are missing.

export const signatureKernel = ${JSON.stringify(kernel)};

export const signatures: Readonly<Record<string, ReadonlyArray<readonly [type: string, name: string]>>> = {
${rows.join('\n')}
};
`;
}

const events = tracefsEvents();
let sigOut;
let sigNote;
if (events) {
  const sigs = signatureTable(events);
  expect(sigs.openat?.map((a) => a[1]).join() === 'dfd,filename,flags,mode' && sigs.getpid?.length === 0 && sigs.stat?.[1]?.[0] === 'struct stat *', 'tracepoint formats');
  sigOut = signaturesSource(sigs, release());
  sigNote = `${Object.keys(sigs).length} signatures from Linux ${release()}`;
} else {
  sigNote = `no ${TRACEFS}/events/syscalls (not root?): ${relative(repo, sigFile)} left as it is`;
}

if (check) {
  const cur = existsSync(outFile) ? readFileSync(outFile, 'utf8') : '';
  if (cur !== out) fail(`${relative(repo, outFile)} is out of date; run node scripts/gen-syscalls.mjs`);
  process.stdout.write(`${relative(repo, outFile)} is up to date\n`);
  const curSig = existsSync(sigFile) ? readFileSync(sigFile, 'utf8') : '';
  const from = /signatureKernel = "([^"]*)"/.exec(curSig)?.[1];
  if (!from) fail(`${relative(repo, sigFile)} is missing; run node scripts/gen-syscalls.mjs as root`);
  if (sigOut && from === release()) {
    if (curSig !== sigOut) fail(`${relative(repo, sigFile)} is out of date; run node scripts/gen-syscalls.mjs as root`);
    process.stdout.write(`${relative(repo, sigFile)} is up to date (Linux ${from})\n`);
  } else {
    process.stdout.write(`${relative(repo, sigFile)}: generated on Linux ${from}, not compared here (${sigOut ? `this is ${release()}` : sigNote})\n`);
  }
} else {
  writeFileSync(outFile, out);
  process.stdout.write(`wrote ${relative(repo, outFile)}: x86_64 ${x86.filter(Boolean).length} syscalls (max ${x86.length - 1}), arm64 ${arm64.filter(Boolean).length} (max ${arm64.length - 1}), ${errnoList.filter(Boolean).length} errnos\n`);
  if (sigOut) writeFileSync(sigFile, sigOut);
  process.stdout.write(`${sigOut ? `wrote ${relative(repo, sigFile)}: ` : ''}${sigNote}\n`);
}
