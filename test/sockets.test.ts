// sockets: parsers on sample lines, and listSockets / the command against a real child process
// holding known sockets (runs as root; reads only /proc).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readdirSync, readlinkSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listSockets, type SocketRecord } from '../src/core/sockets.js';
import { runTool } from './helpers.js';
import { BpfkitError } from '../src/core/errors.js';

// ---------- a real process with known sockets

const CHILD = `
const net = require('net'), dgram = require('dgram');
const unixPath = process.argv[1];
const out = {};
const v4 = net.createServer().listen(0, '127.0.0.1', () => {
  out.v4Port = v4.address().port; out.v4Fd = v4._handle.fd;
  const v6 = net.createServer({ pauseOnConnect: true }, (conn) => {
    out.acceptedFd = conn._handle.fd;
    out.acceptedPort = conn.localPort;
    next();
  }).listen(0, '::1', () => {
    out.v6Port = v6.address().port; out.v6Fd = v6._handle.fd;
    const c = net.connect(out.v6Port, '::1', () => {
      out.clientPort = c.localPort; out.clientFd = c._handle.fd;
      c.write(Buffer.alloc(1000, 120), next);
    });
  });
});
let pending = 2;
function next() {
  if (--pending) return;
  const u = dgram.createSocket('udp4').bind(0, '127.0.0.1', () => {
    out.udpPort = u.address().port;
    const s = net.createServer().listen(unixPath, () => {
      out.unixFd = s._handle.fd;
      process.stdout.write(JSON.stringify(out) + '\\n');
    });
  });
}
setInterval(() => {}, 1000);
`;

interface ChildInfo {
  v4Port: number; v4Fd: number; v6Port: number; v6Fd: number; clientPort: number; clientFd: number;
  acceptedFd: number; acceptedPort: number; udpPort: number; unixFd: number;
}

let child: ChildProcess;
let info: ChildInfo;
let dir: string;
let unixPath: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bpfkit-sockets-'));
  unixPath = join(dir, 'test.sock');
  child = spawn(process.execPath, ['-e', CHILD, unixPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout! });
  info = await new Promise<ChildInfo>((resolve, reject) => {
    rl.once('line', (l) => resolve(JSON.parse(l) as ChildInfo));
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
});

after(() => {
  child?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const pidOf = () => child.pid!;
const find = (rs: SocketRecord[], fd: number) => {
  const r = rs.find((x) => x.fd === fd);
  assert.ok(r, `no socket with fd ${fd} in ${JSON.stringify(rs.map((x) => x.fd))}`);
  return r;
};

/** The kernel delivers loopback data at once, but poll briefly so the assertion is not racy. */
async function settled(pred: (rs: SocketRecord[]) => boolean): Promise<SocketRecord[]> {
  let rs = listSockets({ pids: [pidOf()] });
  for (let i = 0; i < 50 && !pred(rs); i++) {
    await new Promise((r) => setTimeout(r, 20));
    rs = listSockets({ pids: [pidOf()] });
  }
  return rs;
}

// fds 0-2 of the child are socketpairs too (libuv's stdio pipes); the test looks at the others.
const own = (rs: SocketRecord[]) => rs.filter((r) => r.fd > 2);

test('listSockets: exact sockets of a child process', async () => {
  const all = await settled((x) => x.find((r) => r.fd === info.acceptedFd)?.recvQ === 1000);
  const rs = own(all);
  assert.equal(rs.length, 6, JSON.stringify(rs, null, 1));
  // stdout (fd 1) is the pipe we spawned it with: an unnamed, connected unix stream socket
  const stdout = find(all, 1);
  assert.deepEqual([stdout.proto, stdout.type, stdout.local, stdout.state], ['unix', 'stream', '', 'CONNECTED']);
  for (const r of all) {
    assert.equal(r.pid, pidOf());
    assert.equal(r.comm, 'node');
    // the fd really is that socket
    assert.equal(readlinkSync(`/proc/${pidOf()}/fd/${r.fd}`), `socket:[${r.inode}]`);
  }
  const v4 = find(rs, info.v4Fd);
  assert.deepEqual([v4.proto, v4.local, v4.remote, v4.state, v4.localAddr, v4.localPort],
    ['tcp', `127.0.0.1:${info.v4Port}`, '*:*', 'LISTEN', '127.0.0.1', info.v4Port]);
  assert.equal(v4.recvQ, 0);

  const v6 = find(rs, info.v6Fd);
  assert.deepEqual([v6.proto, v6.local, v6.remote, v6.state], ['tcp6', `[::1]:${info.v6Port}`, '*:*', 'LISTEN']);

  const client = find(rs, info.clientFd);
  assert.deepEqual([client.proto, client.local, client.remote, client.state],
    ['tcp6', `[::1]:${info.clientPort}`, `[::1]:${info.v6Port}`, 'ESTABLISHED']);
  assert.equal(client.sendQ, 0); // acked by the peer's kernel

  const acc = find(rs, info.acceptedFd);
  assert.deepEqual([acc.proto, acc.local, acc.remote, acc.state, acc.remoteAddr, acc.remotePort],
    ['tcp6', `[::1]:${info.v6Port}`, `[::1]:${info.clientPort}`, 'ESTABLISHED', '::1', info.clientPort]);
  assert.equal(acc.recvQ, 1000); // written by the client, never read (pauseOnConnect)

  const udp = rs.find((r) => r.proto === 'udp')!;
  assert.deepEqual([udp.local, udp.remote, udp.state], [`127.0.0.1:${info.udpPort}`, '*:*', 'UNCONN']);

  const ux = find(rs, info.unixFd);
  assert.deepEqual([ux.proto, ux.type, ux.local, ux.state, ux.sendQ], ['unix', 'stream', unixPath, 'LISTEN', null]);

  // ordered by fd
  assert.deepEqual(rs.map((r) => r.fd), [...rs.map((r) => r.fd)].sort((a, b) => a - b));
});

test('listSockets --listening and -a', () => {
  const ls = listSockets({ pids: [pidOf()], listening: true });
  assert.deepEqual(ls.map((r) => r.state).sort(), ['LISTEN', 'LISTEN', 'LISTEN', 'UNCONN']);
  const all = listSockets({ all: true });
  const mine = all.filter((r) => r.pid === pidOf());
  assert.deepEqual(mine, listSockets({ pids: [pidOf()] }));
  assert.equal(own(mine).length, 6);
});

function nonexistentPid(): number {
  for (let p = 4194303; p > 1; p--) if (!existsSync(`/proc/${p}`)) return p;
  throw new Error('no free pid');
}

test('nonexistent PID: NO_SUCH_PROCESS', () => {
  const pid = nonexistentPid();
  assert.throws(() => listSockets({ pids: [pid] }), (e: unknown) =>
    e instanceof BpfkitError && e.code === 'NO_SUCH_PROCESS' && e.message === `no such process: ${pid}` && e.exitCode === 2);
});

// ---------- the command, end to end through the CLI

async function run(argv: string[]): Promise<string> {
  const r = await runTool(['sockets', ...argv]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout;
}

test('command: text table', async () => {
  const text = await run(['-p', String(pidOf())]);
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0]!, /^\s*PID\s+COMM\s+FD\s+PROTO\s+LOCAL\s+REMOTE\s+STATE\s+SEND-Q\s+RECV-Q\s+INODE$/);
  assert.equal(lines.length, 1 + listSockets({ pids: [pidOf()] }).length);
  const accepted = lines.find((l) => l.includes(`[::1]:${info.v6Port}`) && l.includes(`[::1]:${info.clientPort}`) && /^\s*\d+\s+node\s+(\d+)/.exec(l)?.[1] === String(info.acceptedFd));
  assert.ok(accepted, text);
  assert.match(accepted, /ESTABLISHED\s+0\s+1000\s+\d+$/);
  // columns aligned: every row has the INODE column ending at the same place
  const ends = new Set(lines.map((l) => l.length));
  assert.equal(ends.size, 1, text);
});

test('command: --json is NDJSON, one object per socket, keys as the columns', async () => {
  const text = await run(['--json', `--pid=${pidOf()}`, '--listening']);
  const objs = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(objs.length, 4);
  for (const o of objs) {
    assert.deepEqual(Object.keys(o).slice(0, 10), ['pid', 'comm', 'fd', 'proto', 'local', 'remote', 'state', 'send_q', 'recv_q', 'inode']);
  }
  assert.ok(objs.some((o) => o.proto === 'tcp' && o.local_port === info.v4Port && o.state === 'LISTEN' && o.local === `127.0.0.1:${info.v4Port}`));
  const ux = objs.find((o) => o.proto === 'unix')!;
  assert.deepEqual([ux.local, ux.send_q, ux.recv_q, ux.type], [unixPath, null, null, 'stream']);
});

test('command: -p with a list, repeated; -a', async () => {
  const self = await run(['-p', `${pidOf()},${pidOf()}`, '-p', String(pidOf()), '--json']);
  assert.equal(self.trimEnd().split('\n').length, listSockets({ pids: [pidOf()] }).length);
  const all = await run(['-a', '--json']);
  const mine = all.trimEnd().split('\n').map((l) => JSON.parse(l) as { pid: number }).filter((o) => o.pid === pidOf());
  assert.equal(mine.length, listSockets({ pids: [pidOf()] }).length);
});

test('command: errors are one line, status 2', async () => {
  const missing = nonexistentPid();
  const cases: Array<[string[], RegExp]> = [
    [['--bogus'], /^bpfkit sockets: unknown option --bogus/],
    [[], /^bpfkit sockets: give -p PID or -a/],
    [['-p', 'abc'], /^bpfkit sockets: -p PID: 'abc' is not an integer/],
    [['-p', '1', '-a'], /^bpfkit sockets: -p and -a cannot be used together$/],
    [['-a', 'extra'], /^bpfkit sockets: unexpected argument 'extra'/],
    [['-p', String(missing)], new RegExp(`^bpfkit sockets: no such process: ${missing}$`)],
  ];
  for (const [args, pattern] of cases) {
    const r = await runTool(['sockets', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trimEnd(), pattern);
  }
  const help = await runTool(['sockets', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: bpfkit sockets \(-p PID\[,PID\.\.\.\] \| -a\)/);
});

test('command: a thread id given to -p is named as such', async () => {
  const tids = readdirSync(`/proc/${process.pid}/task`).map(Number).filter((t) => t !== process.pid);
  assert.ok(tids.length > 0, 'node has worker threads');
  const r = await runTool(['sockets', '-p', String(tids[0])]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trimEnd(), `bpfkit sockets: ${tids[0]} is a thread of process ${process.pid}, not a process: use -p ${process.pid}`);
});

test('command: names a process controls (comm, unix socket path) are escaped in text, exact in JSON', async () => {
  // (A newline in a unix socket path would break /proc/net/unix itself, which prints paths raw.)
  const evilPath = join(dir, 'evil\x1b[2JFAKE.sock');
  const evil = spawn(process.execPath, ['-e', `
require('fs').writeFileSync('/proc/self/comm', 'ev\\x1b[31m\\nil');
require('net').createServer().listen(process.argv[1], () => process.stdout.write('ok\\n'));
setInterval(() => {}, 1000);`, evilPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: evil.stdout! }).once('line', () => resolve());
      evil.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    const text = await run(['-p', String(evil.pid)]);
    assert.doesNotMatch(text, /\x1b/);
    assert.equal(text.trimEnd().split('\n').length, 1 + listSockets({ pids: [evil.pid!] }).length, text);
    assert.ok(text.includes('evil\\x1b[2JFAKE.sock'), text);
    assert.ok(text.includes('ev\\x1b[31m\\x0ail'), text);
    const objs = (await run(['-p', String(evil.pid), '--json', '-l'])).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(objs.map((o) => [o.comm, o.local]), [['ev\x1b[31m\nil', evilPath]]);
  } finally {
    evil.kill('SIGKILL');
  }
});

// A socket stays in the netns it was created in: a process that unshared its netns afterwards
// still holds it, and /proc/PID/net no longer lists it.
const NS_CHILD = `
import socket, ctypes, sys, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
if ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0: sys.exit('unshare(CLONE_NEWNET) failed')
print(s.getsockname()[1], s.fileno(), flush=True)
time.sleep(120)
`;

test('socket created before unshare(CLONE_NEWNET) is still found', { skip: !existsSync('/usr/bin/python3') && !process.env.CI }, async () => {
  const py = spawn('python3', ['-c', NS_CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: py.stdout! }).once('line', resolve);
      py.once('exit', (code) => reject(new Error(`python3 exited ${code}`)));
    });
    const [port, fd] = line.split(' ').map(Number) as [number, number];
    assert.notEqual(readlinkSync(`/proc/${py.pid}/ns/net`), readlinkSync('/proc/self/ns/net'));
    const rs = own(listSockets({ pids: [py.pid!] }));
    assert.equal(rs.length, 1, JSON.stringify(rs));
    assert.deepEqual([rs[0]!.fd, rs[0]!.proto, rs[0]!.local, rs[0]!.state], [fd, 'tcp', `127.0.0.1:${port}`, 'LISTEN']);
  } finally {
    py.kill('SIGKILL');
  }
});
