// trace: pure unit tests (no kernel, no root), moved from test/trace.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCall, planFor, quote, sockaddr, type TraceRecord } from '../../src/tools/trace/decode.js';
import { syscallNumber } from '../../src/core/syscalls/index.js';

test('decoders: sockaddr, quoting, poll/select results (no kernel)', () => {
  const v4 = Buffer.from([2, 0, 0x1f, 0x90, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(sockaddr(v4), '{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("10.0.0.1")}');
  const v6 = Buffer.alloc(28);
  v6.writeUInt16LE(10, 0); v6.writeUInt16BE(443, 2); v6[23] = 1;
  assert.equal(sockaddr(v6), '{sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}');
  const un = Buffer.concat([Buffer.from([1, 0]), Buffer.from('/run/x.sock\0')]);
  assert.equal(sockaddr(un), '{sa_family=AF_UNIX, sun_path="/run/x.sock"}');
  assert.equal(quote(Buffer.from('a"b\\\n\x01'), true), '"a\\"b\\\\\\n\\1"...');

  const nr = syscallNumber('poll');
  assert.ok(nr !== undefined);
  const plan = planFor(nr, 'poll', 32);
  const fds = Buffer.alloc(16);
  fds.writeInt32LE(3, 0); fds.writeUInt16LE(1, 4); fds.writeUInt16LE(1, 6);
  fds.writeInt32LE(4, 8); fds.writeUInt16LE(4, 12); fds.writeUInt16LE(0, 14);
  const rec: TraceRecord = { tsNs: 0n, durNs: 0, ret: 1n, args: [0x1000n, 2n, 500n, 0n, 0n, 0n], tgid: 1, tid: 1, nr, comm: 'x', noReturn: false, chunks: [fds] };
  assert.equal(formatCall(rec, plan), 'poll([{fd=3, events=POLLIN}, {fd=4, events=POLLOUT}], 2, 500) = 1 ([{fd=3, revents=POLLIN}])');

  const snr = syscallNumber('select')!;
  const splan = planFor(snr, 'select', 32);
  const inSet = Buffer.from([0b00011000]); const outSet = Buffer.from([0b00010000]);
  const tv = Buffer.alloc(16); tv.writeBigInt64LE(2n, 0); tv.writeBigInt64LE(0n, 8);
  // ops: entry readfds, entry timeval, exit readfds (NULL write/except sets are not copied)
  const chunks: TraceRecord['chunks'] = new Array(splan.ops.length).fill(null);
  chunks[splan.entryOp[1]!] = inSet; chunks[splan.entryOp[4]!] = tv; chunks[splan.exitOp[1]!] = outSet;
  const srec: TraceRecord = { ...rec, nr: snr, ret: 1n, args: [5n, 0x2000n, 0n, 0n, 0x3000n, 0n], chunks };
  assert.equal(formatCall(srec, splan), 'select(5, [3 4], NULL, NULL, {tv_sec=2, tv_usec=0}) = 1 (in [4])');
  const fnr = syscallNumber('futex')!;
  const fplan = planFor(fnr, 'futex', 32);
  const wake: TraceRecord = { ...rec, nr: fnr, ret: 1n, args: [0x5000n, 129n, 1n, 0n, 0x6000n, 7n], chunks: new Array(fplan.ops.length).fill(null) };
  assert.equal(formatCall(wake, fplan), 'futex(0x5000, FUTEX_WAKE_PRIVATE, 1) = 1');
  const fail: TraceRecord = { ...srec, ret: -4n };
  assert.equal(formatCall(fail, splan), 'select(5, [3 4], NULL, NULL, {tv_sec=2, tv_usec=0}) = -1 EINTR (Interrupted system call)');
});

test('quote: escapes as strace 6.1 prints them (octal padded before an octal digit)', () => {
  // the bytes strace 6.1 prints as "\0017\18\t\v\f\177\3779" (checked with strace -e read cat)
  const b = Buffer.from([0x01, 0x37, 0x01, 0x38, 0x09, 0x0b, 0x0c, 0x7f, 0xff, 0x39]);
  assert.equal(quote(b, false), '"\\0017\\18\\t\\v\\f\\177\\3779"');
  assert.equal(quote(Buffer.from([0x0f]), false), '"\\17"');
  assert.equal(quote(Buffer.from([0, 0x30, 0x0a, 0x0d, 0]), false), '"\\0000\\n\\r\\0"');
});

test('trace command line: -e lists (strace\'s trace=), -p/-t, --comm, -s, --min-ms (no kernel)', async () => {
  const { command } = await import('../../src/tools/trace/index.js');
  const o = command.parse(['-p', '42', '-e', 'trace=select,poll', '-e', 'select', '-x', '-T', '-s', '64', '--min-ms', '2.5', '--buffer-mb', '16']) as import('../../src/tools/trace/index.js').TraceOptions;
  assert.deepEqual(o.filters, { strsize: 64, failedOnly: true, tgid: 42, tid: undefined, bufferMb: 16, syscalls: [syscallNumber('select'), syscallNumber('poll')], minMs: 2.5 });
  assert.equal(o.timestamps, true);
  assert.throws(() => command.parse(['-e', 'selct']), /unknown syscall 'selct' \(did you mean .*select/);
  assert.throws(() => command.parse(['--comm', 'a-name-longer-than-15']), /--comm: a command name of 1 to 15/);
  assert.throws(() => command.parse(['-s', '0']), /-s SIZE/);
  const cmd = command.parse(['-f', '-o', '/tmp/t.txt', '--', 'ls', '-la']) as import('../../src/tools/trace/index.js').TraceOptions;
  assert.deepEqual(cmd.command, { path: cmd.command!.path, argv: ['ls', '-la'] });
  assert.match(cmd.command!.path, /\/ls$/);
  assert.equal(cmd.filters.follow, true);
  assert.equal(cmd.output, '/tmp/t.txt');
  assert.throws(() => command.parse(['-p', '1', '--', 'ls']), /not with -p/);
  assert.throws(() => command.parse(['--', 'no-such-command-bpfkit']), /not found in PATH/);
  assert.throws(() => command.parse(['-f']), /-f: needs -p PID or -- COMMAND/);
  assert.throws(() => command.parse(['-c', '-C', '--', 'ls']), /only one of -c and -C/);
  assert.throws(() => command.parse(['--buffer-mb', '3']), /not a power of two/);
});

test('fsslower command line: -t required, MIN_MS positional or -m, --csv xor --json (no kernel)', async () => {
  const { command } = await import('../../src/tools/fsslower/index.js');
  type O = import('../../src/tools/fsslower/index.js').FsslowerOptions;
  assert.deepEqual((command.parse(['-t', 'ext4']) as O).filters.minMs, 10);
  assert.deepEqual((command.parse(['-t', 'ext4', '0']) as O).filters, { fstype: 'ext4', minMs: 0, tgid: undefined, bufferMb: 8 });
  assert.equal((command.parse(['-t', 'ext4', '-m', '2.5', '-p', '7', '-j']) as O).csv, true);
  assert.throws(() => command.parse([]), /-t FSTYPE is required/);
  assert.throws(() => command.parse(['-t', 'nosuchfs']), /unknown file system type 'nosuchfs'/);
  assert.throws(() => command.parse(['-t', 'ext4', '-1']), /MIN_MS: must be >= 0, got -1/);
  assert.throws(() => command.parse(['-t', 'ext4', '--csv', '--json']), /only one of --csv and --json/);
  assert.throws(() => command.parse(['-t', 'ext4', '1', '2']), /unexpected argument '2'/);
});

test('decoders from the kernel\'s signatures: every syscall planned, strace\'s text for the common calls (no kernel)', async () => {
  const { specFor } = await import('../../src/tools/trace/kinds.js');
  const { allSyscalls } = await import('../../src/core/syscalls/index.js');
  const { summaryTable } = await import('../../src/tools/trace/summary.js');
  // every syscall of the table gets a plan the kernel side can carry
  const planned = allSyscalls().filter(({ nr, name }) => specFor(name) && planFor(nr, name, 32, { maxOps: 8, dataBudget: 1024 }));
  assert.ok(planned.length > 330, `only ${planned.length} syscalls have signatures`);
  const call = (name: string, args: bigint[], ret: bigint, fill: (plan: ReturnType<typeof planFor>, chunks: TraceRecord['chunks']) => void = () => {}, extra: Partial<TraceRecord> = {}) => {
    const nr = syscallNumber(name)!;
    const plan = planFor(nr, name, 32);
    const chunks: TraceRecord['chunks'] = new Array(plan.ops.length).fill(null);
    fill(plan, chunks);
    return formatCall({ tsNs: 0n, durNs: 0, ret, args: [...args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6), tgid: 1, tid: 1, nr, comm: 'x', noReturn: false, chunks, ...extra }, plan);
  };
  assert.equal(call('geteuid', [], 0n), 'geteuid() = 0');
  assert.equal(call('openat', [-100n & 0xffffffffn, 0x1000n, 0o2000000n], -2n, (p, c) => { c[p.entryOp[1]!] = Buffer.from('/etc/ld.so.preload\0'); }),
    'openat(AT_FDCWD, "/etc/ld.so.preload", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)');
  assert.equal(call('mmap', [0n, 8192n, 3n, 0x22n, 0xffffffffffffffffn, 0n], 0x7f2918fec000n), 'mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f2918fec000');
  const st = Buffer.alloc(56);
  if (process.arch === 'x64') { st.writeUInt32LE(0o100644, 24); st.writeBigInt64LE(39715n, 48); }
  assert.equal(call('newfstatat', [3n, 0x1000n, 0x2000n, 0x1000n], 0n, (p, c) => { c[p.entryOp[1]!] = Buffer.from('\0'); c[p.exitOp[2]!] = st; }),
    process.arch === 'x64' ? 'newfstatat(3, "", {st_mode=S_IFREG|0644, st_size=39715, ...}, AT_EMPTY_PATH) = 0' : 'newfstatat(3, "", {st_mode=0000, st_size=0, ...}, AT_EMPTY_PATH) = 0');
  const act = Buffer.alloc(32); act.writeBigUInt64LE(0x55d424e05360n, 0); act.writeBigUInt64LE(0x14000000n, 8); act.writeBigUInt64LE(0x7fdfe3c62050n, 16); act.writeBigUInt64LE(2n, 24);
  const oact = Buffer.alloc(32);
  assert.equal(call('rt_sigaction', [2n, 0x1000n, 0x2000n, 8n], 0n, (p, c) => { c[p.entryOp[1]!] = act; c[p.exitOp[2]!] = oact; }),
    'rt_sigaction(SIGINT, {sa_handler=0x55d424e05360, sa_mask=[INT], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x7fdfe3c62050}, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0');
  const most = Buffer.alloc(8, 0xff); most[4] = 0xfc; // all but 35, 36 (glibc's RT_3, RT_4 at 35/36 in the kernel's count)
  assert.equal(call('rt_sigprocmask', [0n, 0x1000n, 0x2000n, 8n], 0n, (p, c) => { c[p.entryOp[1]!] = most; c[p.exitOp[2]!] = Buffer.alloc(8); }),
    'rt_sigprocmask(SIG_BLOCK, ~[RT_1 RT_2], [], 8) = 0');
  const rl = Buffer.alloc(16); rl.writeBigUInt64LE(8192n * 1024n, 0); rl.writeBigUInt64LE(0xffffffffffffffffn, 8);
  assert.equal(call('prlimit64', [0n, 3n, 0n, 0x2000n], 0n, (p, c) => { c[p.exitOp[3]!] = rl; }),
    'prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0');
  const ws = Buffer.alloc(4); ws.writeInt32LE(9 /* SIGKILL */);
  assert.equal(call('wait4', [0xffffffffn, 0x1000n, 1n, 0n], 9633n, (p, c) => { c[p.exitOp[1]!] = ws; }), 'wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], WNOHANG, NULL) = 9633');
  assert.equal(call('wait4', [0xffffffffn, 0x1000n, 1n, 0n], -10n), 'wait4(-1, 0x1000, WNOHANG, NULL) = -1 ECHILD (No child processes)');
  assert.equal(call('fcntl', [255n, 3n, 0n], 0x8000n), 'fcntl(255, F_GETFL) = 0x8000 (flags O_RDONLY|O_LARGEFILE)');
  assert.equal(call('fcntl', [255n, 2n, 1n], 0n), 'fcntl(255, F_SETFD, FD_CLOEXEC) = 0');
  // execve: argv strings (count first), envp counted
  const argv = Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('ls\0-la\0/etc\0')]);
  const envc = Buffer.from([39, 0, 0, 0]);
  assert.equal(call('execve', [0x1000n, 0x2000n, 0x7ffe05e2f540n], 0n, (p, c) => { c[p.entryOp[0]!] = Buffer.from('/usr/bin/ls\0'); c[p.entryOp[1]!] = argv; c[p.entryOp[2]!] = envc; }),
    'execve("/usr/bin/ls", ["ls", "-la", "/etc"], 0x7ffe05e2f540 /* 39 vars */) = 0');
  const many = Buffer.concat([Buffer.from([40, 0, 0, 0]), Buffer.from('a'.repeat(40) + '\0b\0')]);
  assert.equal(call('execve', [0x1000n, 0x2000n, 0n], -2n, (p, c) => { c[p.entryOp[1]!] = many; }),
    `execve(0x1000, ["${'a'.repeat(32)}"..., "b", ...], NULL) = -1 ENOENT (No such file or directory)`);
  assert.equal(call('getdents64', [4n, 0x55d449b49480n, 32768n], 128n, (p, c) => { c[p.exitOp[1]!] = Buffer.from([5, 0, 0, 0]); }), 'getdents64(4, 0x55d449b49480 /* 5 entries */, 32768) = 128');
  assert.equal(call('getrandom', [0x1000n, 8n, 1n], 8n, (p, c) => { c[p.exitOp[0]!] = Buffer.from([0xca, 0xff, 0xc8, 0x47, 0x54, 0x4d, 0x0c, 0x88]); }), 'getrandom("\\xca\\xff\\xc8\\x47\\x54\\x4d\\x0c\\x88", 8, GRND_NONBLOCK) = 8');
  assert.equal(call('arch_prctl', [0x1002n, 0x7f2918dfd740n], 0n), 'arch_prctl(ARCH_SET_FS, 0x7f2918dfd740) = 0');
  assert.equal(call('rseq', [0x7f2918dfe060n, 0x20n, 0n, 0x53053053n], 0n), 'rseq(0x7f2918dfe060, 0x20, 0, 0x53053053) = 0');
  assert.equal(call('setsockopt', [3n, 6n, 1n, 0x1000n, 4n], 0n, (p, c) => { c[p.entryOp[3]!] = Buffer.from([1, 0, 0, 0]); }), 'setsockopt(3, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0');
  assert.equal(call('pipe2', [0x1000n, 0n], 0n, (p, c) => { c[p.exitOp[0]!] = Buffer.from([3, 0, 0, 0, 4, 0, 0, 0]); }), 'pipe2([3, 4], 0) = 0');
  assert.equal(call('getcwd', [0x1000n, 4096n], 15n, (p, c) => { c[p.exitOp[0]!] = Buffer.from('/work/wt-trace\0'); }), 'getcwd("/work/wt-trace", 4096) = 15');
  if (process.arch === 'x64') assert.equal(call('clone', [0x1200011n, 0n, 0n, 0x7f94b2329a10n, 0n], 9633n), 'clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f94b2329a10) = 9633');
  const si = Buffer.alloc(112); si.writeBigInt64LE(3149n, 0); si.writeBigUInt64LE(116576n, 8); si.writeBigUInt64LE(25276157952n, 32); si.writeUInt16LE(143, 80); si.writeUInt32LE(1, 104);
  assert.equal(call('sysinfo', [0x1000n], 0n, (p, c) => { c[p.exitOp[0]!] = si; }),
    'sysinfo({uptime=3149, loads=[116576, 0, 0], totalram=25276157952, freeram=0, sharedram=0, bufferram=0, totalswap=0, freeswap=0, procs=143, totalhigh=0, freehigh=0, mem_unit=1}) = 0');
  // restart codes by name; calls cut short by the thread's exit
  assert.equal(call('rt_sigsuspend', [0x1000n, 8n], -514n, (p, c) => { c[p.entryOp[0]!] = Buffer.alloc(8); }), 'rt_sigsuspend([], 8) = -1 ERESTARTNOHAND (To be restarted if no handler)');
  assert.equal(call('read', [0n, 0x1000n, 10n], -512n), 'read(0, 0x1000, 10) = -1 ERESTARTSYS (To be restarted if SA_RESTART is set)');
  assert.equal(call('restart_syscall', [], -516n), 'restart_syscall() = -1 ERESTART_RESTARTBLOCK (Interrupted by signal)');
  assert.equal(call('futex', [0x5000n, 0n, 2n, 0n], 0n, undefined, { noReturn: true, cut: true }), 'futex(0x5000, FUTEX_WAIT, 2, NULL) = ?');
  // strace -c's table
  const table = summaryTable([{ nr: 0, name: 'read', calls: 4, errors: 0, ns: 3000 }, { nr: 1, name: 'openat', calls: 2, errors: 1, ns: 1000 }]);
  assert.equal(table, [
    '% time     seconds  usecs/call     calls    errors syscall',
    '------ ----------- ----------- --------- --------- ----------------',
    ' 75.00    0.000003           0         4           read',
    ' 25.00    0.000001           0         2         1 openat',
    '------ ----------- ----------- --------- --------- ----------------',
    '100.00    0.000004           0         6         1 total',
  ].join('\n') + '\n');
});

test('-y: /proc/net addresses as strace -y prints sockets (no kernel)', async () => {
  const { procNetAddr } = await import('../../src/tools/trace/fdpaths.js');
  assert.equal(procNetAddr('0100007F:1538'), '127.0.0.1:5432');
  assert.equal(procNetAddr('00000000000000000000000001000000:0050'), '[::1]:80');
  assert.equal(procNetAddr('0000000000000000FFFF00000100007F:1F90'), '[::ffff:127.0.0.1]:8080');
});
