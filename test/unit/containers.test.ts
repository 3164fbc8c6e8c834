// Container resolution: cgroup paths as each runtime writes them (taken from real hosts: Docker
// with the systemd and cgroupfs drivers, Podman rootful/rootless/cgroupfs, containerd and CRI-O
// under Kubernetes in every QoS class, cgroup v1 and v2), names from the runtimes' state files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContainerResolver, containerJson, containerLabel, containerPathsOf, matchContainers, namesFromAnnotations,
  parseConmonArgs, parseContainerCgroup, readContainerNames, type Container,
} from '../../src/core/containers.js';

const A = '4f1e2a3b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f';
const B = 'b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9';
const UID = '8a2f5b8c-1d2e-4f3a-9b8c-7d6e5f4a3b2c';
const UID_ = UID.replace(/-/g, '_');

test('cgroup paths of each runtime name the container, its cgroup and its pod', () => {
  const cases: Array<[string, Partial<ReturnType<typeof parseContainerCgroup>> | undefined]> = [
    // Docker, systemd driver (v2 and the v1 name=systemd line) and cgroupfs driver (v1 and v2)
    [`/system.slice/docker-${A}.scope`, { runtime: 'docker', id: A, cgroup: `/system.slice/docker-${A}.scope` }],
    [`/docker/${A}`, { runtime: 'docker', id: A, cgroup: `/docker/${A}` }],
    [`/docker/${A}/init.scope`, { runtime: 'docker', id: A, cgroup: `/docker/${A}` }],
    // Podman: rootful, rootless (under the user's manager), split cgroups, cgroupfs manager
    [`/machine.slice/libpod-${A}.scope`, { runtime: 'podman', id: A, cgroup: `/machine.slice/libpod-${A}.scope` }],
    [`/machine.slice/libpod-${A}.scope/container`, { runtime: 'podman', id: A, cgroup: `/machine.slice/libpod-${A}.scope` }],
    [`/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${A}.scope`, { runtime: 'podman', id: A }],
    [`/libpod_parent/libpod-${A}`, { runtime: 'podman', id: A, cgroup: `/libpod_parent/libpod-${A}` }],
    // conmon watches from outside: not the container
    [`/machine.slice/libpod-conmon-${A}.scope`, undefined],
    [`/libpod_parent/conmon`, undefined],
    // containerd (CRI) under Kubernetes, systemd driver: burstable, besteffort, guaranteed
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${A}.scope`,
      { runtime: 'containerd', id: A, podUid: UID, qos: 'burstable' }],
    [`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${B}.scope`,
      { runtime: 'containerd', id: B, podUid: UID, qos: 'besteffort' }],
    [`/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${A}.scope`, { runtime: 'containerd', id: A, podUid: UID, qos: 'guaranteed' }],
    // CRI-O, and its conmon
    [`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${A}.scope`,
      { runtime: 'crio', id: A, podUid: UID, qos: 'besteffort', cgroup: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${A}.scope` }],
    [`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-conmon-${A}.scope`, undefined],
    // Kubernetes cgroupfs driver (v1): /kubepods[/qos]/pod<uid>/<id>
    [`/kubepods/burstable/pod${UID}/${A}`, { runtime: 'kubernetes', id: A, podUid: UID, qos: 'burstable', cgroup: `/kubepods/burstable/pod${UID}/${A}` }],
    [`/kubepods/besteffort/pod${UID}/${B}`, { runtime: 'kubernetes', id: B, podUid: UID, qos: 'besteffort' }],
    [`/kubepods/pod${UID}/${A}`, { runtime: 'kubernetes', id: A, podUid: UID, qos: 'guaranteed' }],
    // Docker as the kubelet's runtime (dockershim)
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/docker-${A}.scope`, { runtime: 'docker', id: A, podUid: UID }],
    // A pod's own cgroup (no container segment yet) and ordinary services: no container
    [`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`, undefined],
    ['/system.slice/docker.service', undefined],
    ['/system.slice/containerd.service', undefined],
    ['/user.slice/user-0.slice/session-3.scope', undefined],
    ['/init.scope', undefined],
    ['/', undefined],
    [`/system.slice/${A}`, undefined], // a bare id under an unknown parent is not guessed at
  ];
  for (const [path, want] of cases) {
    const got = parseContainerCgroup(path);
    if (want === undefined) assert.equal(got, undefined, path);
    else {
      assert.ok(got, path);
      for (const [k, v] of Object.entries(want)) assert.equal((got as unknown as Record<string, unknown>)[k], v, `${path}: ${k}`);
      if (!('qos' in want)) assert.equal(got.podUid === undefined, !('podUid' in want), `${path}: podUid`);
    }
  }
});

test('/proc/PID/cgroup: the v2 line first, then the v1 hierarchies (v1-only hosts)', () => {
  const hybrid = `12:memory:/docker/${A}\n1:name=systemd:/docker/${A}\n0::/docker/${A}\n`;
  assert.deepEqual(containerPathsOf(hybrid)[0], `/docker/${A}`);
  const v1only = `11:cpu,cpuacct:/kubepods/burstable/pod${UID}/${A}\n4:memory:/kubepods/burstable/pod${UID}/${A}\n`;
  const paths = containerPathsOf(v1only);
  assert.ok(paths.length >= 1);
  assert.equal(parseContainerCgroup(paths[0]!)?.id, A);
});

test('conmon command lines name the container (Podman and CRI-O)', () => {
  const podman = ['/usr/bin/conmon', '--api-version', '1', '-c', A, '-u', A, '-r', '/usr/bin/crun', '-b',
    `/var/lib/containers/storage/overlay-containers/${A}/userdata`, '-p', '/run/pidfile', '-n', 'web', '--exit-dir', '/run/libpod/exits'];
  assert.deepEqual(parseConmonArgs(podman), { id: A, name: 'web' });
  assert.deepEqual(parseConmonArgs(['/usr/libexec/crio/conmon', `--cid=${B}`, '--name=k8s_app_pod_ns_1', '-r', 'runc']), { id: B, name: 'k8s_app_pod_ns_1' });
  assert.equal(parseConmonArgs(['/usr/bin/sleep', '-c', A, '-n', 'x']), undefined);
  assert.equal(parseConmonArgs(['/usr/bin/conmon', '-c', A]), undefined);
});

test('Kubernetes names from OCI annotations (containerd CRI and CRI-O); a sandbox is named after its pod', () => {
  assert.deepEqual(namesFromAnnotations({ 'io.kubernetes.cri.container-name': 'app', 'io.kubernetes.cri.sandbox-name': 'web-7d9', 'io.kubernetes.cri.sandbox-namespace': 'prod' }),
    { name: 'app', pod: 'web-7d9', namespace: 'prod' });
  assert.deepEqual(namesFromAnnotations({ 'io.kubernetes.container.name': 'db', 'io.kubernetes.pod.name': 'pg-0', 'io.kubernetes.pod.namespace': 'data' }),
    { name: 'db', pod: 'pg-0', namespace: 'data' });
  assert.deepEqual(namesFromAnnotations({ 'io.kubernetes.cri.sandbox-name': 'web-7d9', 'io.kubernetes.cri.sandbox-namespace': 'prod' }),
    { name: 'web-7d9/sandbox', pod: 'web-7d9', namespace: 'prod' });
  assert.equal(namesFromAnnotations({ 'org.opencontainers.image.stopSignal': '15' }), undefined);
});

/** A fixture root with each runtime's state files, and a /proc with one conmon. */
function fixture(): { root: string; proc: string } {
  const root = mkdtempSync(join(tmpdir(), 'bpfkit-ct-'));
  const put = (p: string, text: string) => { mkdirSync(join(root, p, '..'), { recursive: true }); writeFileSync(join(root, p), text); };
  put(`var/lib/docker/containers/${A}/config.v2.json`, JSON.stringify({ ID: A, Name: '/nginx-1', Config: { Labels: {} } }));
  put(`run/containers/storage/overlay-containers/${B}/userdata/config.json`, JSON.stringify({ annotations: { 'io.kubernetes.container.name': 'api', 'io.kubernetes.pod.name': 'api-5f', 'io.kubernetes.pod.namespace': 'shop' } }));
  const C = 'c'.repeat(64);
  put(`run/containerd/io.containerd.runtime.v2.task/k8s.io/${C}/config.json`, JSON.stringify({ annotations: { 'io.kubernetes.cri.container-name': 'worker', 'io.kubernetes.cri.sandbox-name': 'jobs-1', 'io.kubernetes.cri.sandbox-namespace': 'batch' } }));
  const D = 'd'.repeat(64);
  put('var/lib/containers/storage/overlay-containers/containers.json', JSON.stringify([{ id: D, names: ['redis'], image: 'x' }]));
  const E = 'e'.repeat(64);
  put('proc/4242/comm', 'conmon\n');
  put('proc/4242/cmdline', ['/usr/bin/conmon', '-c', E, '-n', 'rootfs-one', ''].join('\0'));
  put('proc/4243/comm', 'sleep\n');
  put('proc/4243/cmdline', ['sleep', '300', ''].join('\0'));
  put('proc/4243/cgroup', `0::/libpod_parent/libpod-${E}/container\n`);
  put('proc/4244/comm', 'bash\n');
  put('proc/4244/cgroup', '0::/user.slice/user-0.slice/session-1.scope\n');
  return { root, proc: join(root, 'proc') };
}

test('names: Docker config.v2.json, CRI-O and containerd annotations, Podman storage, conmon', () => {
  const roots = fixture();
  const ref = (runtime: Container['runtime'], id: string) => ({ runtime, id, cgroup: '/x' });
  assert.deepEqual(readContainerNames(ref('docker', A), roots), { name: 'nginx-1' });
  assert.deepEqual(readContainerNames(ref('crio', B), roots), { name: 'api', pod: 'api-5f', namespace: 'shop' });
  assert.deepEqual(readContainerNames(ref('containerd', 'c'.repeat(64)), roots), { name: 'worker', pod: 'jobs-1', namespace: 'batch' });
  assert.deepEqual(readContainerNames(ref('podman', 'd'.repeat(64)), roots), { name: 'redis' });
  assert.deepEqual(readContainerNames(ref('podman', 'e'.repeat(64)), roots), { name: 'rootfs-one' });
  assert.deepEqual(readContainerNames(ref('docker', 'f'.repeat(64)), roots), {}); // nothing readable: id only
});

test('resolver: pid -> container (cached), labels and JSON; --container matching', () => {
  const roots = fixture();
  const r = new ContainerResolver(roots);
  assert.equal(r.active, true);
  const c = r.ofPid(4243)!;
  assert.equal(c.shortId, 'e'.repeat(12));
  assert.equal(c.name, 'rootfs-one');
  assert.equal(c.cgroup, `/libpod_parent/libpod-${'e'.repeat(64)}`);
  assert.equal(r.ofPid(4244), undefined);
  assert.equal(r.ofPid(99999), undefined);
  assert.equal(containerLabel(c), 'rootfs-one');
  assert.equal(containerLabel(undefined), '-');
  assert.deepEqual(containerJson(c), { container: { id: 'eeeeeeeeeeee', name: 'rootfs-one', runtime: 'podman' } });
  assert.deepEqual(containerJson(undefined), {});
  const running = [...r.running().values()];
  assert.deepEqual(running.map((x) => x.name), ['rootfs-one']);
  assert.deepEqual(matchContainers('rootfs-one', running).map((x) => x.id), ['e'.repeat(64)]);
  assert.deepEqual(matchContainers('eeee', running).map((x) => x.name), ['rootfs-one']);
  assert.deepEqual(matchContainers('nope', running), []);
  assert.deepEqual(matchContainers('ee', running), []); // two digits are too few to be an id
  assert.throws(() => matchContainers('aba', [{ ...c, id: 'aba' + '1'.repeat(61) }, { ...c, id: 'aba' + '2'.repeat(61) }]), /matches 2 containers/);
});

test('no runtime on the host: the resolver reads nothing and answers nothing', () => {
  const empty = mkdtempSync(join(tmpdir(), 'bpfkit-ct-none-'));
  const r = new ContainerResolver({ root: empty, proc: '/proc' });
  assert.equal(r.active, false);
  assert.equal(r.ofPid(process.pid), undefined);
  assert.equal(r.running().size, 0);
});

test('profile --containers: each stack starts at its container, [host] outside; without it stacks are as before', async () => {
  const { toStackCounts } = await import('../../src/tools/profile/index.js');
  const { ContainerView } = await import('../../src/toolkit/containers.js');
  const roots = fixture();
  const frame = (name: string) => ({ name }) as never;
  const stack = (pid: number, comm: string) => ({ pid, comm, count: 5, user: [frame('leaf'), frame('main')], kernel: null, userMissed: false, kernelMissed: false });
  const result = { stacks: [stack(4243, 'sleep'), stack(4244, 'bash')], stats: {} as never };
  const o = { annotate: false, delimited: false };
  const r = new ContainerResolver(roots, true);
  const forced = toStackCounts(result, o, new ContainerView(true, true, r)).map((s) => s.stack[0]);
  assert.deepEqual(forced, ['rootfs-one', '[host]']);
  const plain = toStackCounts(result, o, new ContainerView(false, false, r)).map((s) => s.stack[0]);
  assert.deepEqual(plain, ['sleep', 'bash']);
});
