// Containers without a daemon: which container a cgroup path belongs to (the path conventions of
// Docker, Podman, containerd, CRI-O and Kubernetes, cgroup v1 and v2), the container's name from
// the runtime's state on disk (or its conmon's command line), and cgroup ids (the inode of a
// cgroup2 directory, what bpf_get_current_cgroup_id() returns) to and from paths.
// Parsers are pure; readers never throw and do nothing on a host with no runtime.
import { existsSync, readdirSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { parseProcCgroup, readCgroupMounts } from './cgroups.js';

export type ContainerRuntime = 'docker' | 'podman' | 'containerd' | 'crio' | 'kubernetes';

/** A container found in a cgroup path. */
export interface ContainerRef {
  runtime: ContainerRuntime;
  /** Full id (64 hex digits as the runtime wrote it). */
  id: string;
  /** The container's own cgroup: the path up to and including its segment (subcgroups are inside). */
  cgroup: string;
  /** Kubernetes: the pod's UID (dashes, as kubectl shows it) and QoS class. */
  podUid?: string;
  qos?: 'guaranteed' | 'burstable' | 'besteffort';
}

export interface Container extends ContainerRef {
  /** 12 digits, as `docker ps` shows it. */
  shortId: string;
  /** From the runtime's state when readable; else undefined. */
  name?: string;
  /** Kubernetes names, when a runtime's state file carries them. */
  pod?: string;
  namespace?: string;
}

const ID = '[0-9a-f]{64}';
// systemd scope units: <prefix>-<id>.scope. conmon (Podman's and CRI-O's monitor) runs in its
// own *-conmon-<id>.scope: it watches the container from outside, so it is not the container.
const SCOPE = new RegExp(`^(docker|libpod|cri-containerd|crio|containerd|nerdctl)-(${ID})\\.scope$`);
const CGROUPFS_PARENT: Record<string, ContainerRuntime> = { docker: 'docker', libpod_parent: 'podman' };
// Pod UIDs are UUIDs (systemd slices write their dashes as underscores).
const POD = /^(?:kubepods(?:-(besteffort|burstable))?-)?pod([0-9a-f][0-9a-f_-]*)(?:\.slice)?$/;

/** The container whose cgroup holds this path (as in /proc/PID/cgroup), or undefined. */
export function parseContainerCgroup(path: string): ContainerRef | undefined {
  const segs = path.split('/');
  let podUid: string | undefined;
  let qos: ContainerRef['qos'];
  let inKube = false;
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!;
    const prefix = segs.slice(0, i + 1).join('/');
    if (s === 'kubepods' || s === 'kubepods.slice') { inKube = true; qos = 'guaranteed'; continue; }
    if (inKube && (s === 'burstable' || s === 'besteffort')) { qos = s; continue; }
    if (inKube && /^kubepods-(burstable|besteffort)\.slice$/.test(s)) { qos = s.slice(9, -6) as 'burstable' | 'besteffort'; continue; }
    const pod = inKube ? POD.exec(s) : null;
    if (pod) { podUid = pod[2]!.replace(/_/g, '-'); if (pod[1]) qos = pod[1] as 'burstable' | 'besteffort'; continue; }
    const kube = podUid ? { podUid, qos } : {};
    const scope = SCOPE.exec(s);
    if (scope) {
      const kind = scope[1]!;
      const runtime: ContainerRuntime = kind === 'libpod' ? 'podman' : kind === 'cri-containerd' || kind === 'containerd' || kind === 'nerdctl' ? 'containerd' : kind === 'crio' ? 'crio' : 'docker';
      return { runtime, id: scope[2]!, cgroup: prefix, ...kube };
    }
    // cgroupfs layouts: /docker/<id>, /libpod_parent/libpod-<id>, /kubepods/<qos>/pod<uid>/<id>.
    if (new RegExp(`^${ID}$`).test(s)) {
      const parent = segs[i - 1] ?? '';
      if (podUid) return { runtime: 'kubernetes', id: s, cgroup: prefix, ...kube };
      if (CGROUPFS_PARENT[parent]) return { runtime: CGROUPFS_PARENT[parent]!, id: s, cgroup: prefix };
    }
    const lp = new RegExp(`^libpod-(${ID})$`).exec(s);
    if (lp) return { runtime: 'podman', id: lp[1]!, cgroup: prefix };
  }
  return undefined;
}

// ---- names, from the runtimes' files ----

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

type Names = Pick<Container, 'name' | 'pod' | 'namespace'>;

/** Kubernetes names in an OCI config's annotations (containerd's CRI plugin and CRI-O). */
export function namesFromAnnotations(a: Record<string, string> | undefined): Names | undefined {
  if (!a) return undefined;
  const name = a['io.kubernetes.cri.container-name'] ?? a['io.kubernetes.container.name'] ?? a['nerdctl/name'];
  const pod = a['io.kubernetes.cri.sandbox-name'] ?? a['io.kubernetes.pod.name'];
  const namespace = a['io.kubernetes.cri.sandbox-namespace'] ?? a['io.kubernetes.pod.namespace'];
  // A pod's sandbox (pause) container has no container name: name it after the pod.
  if (!name && !pod) return undefined;
  return { name: name ?? (pod ? `${pod}/sandbox` : undefined), pod, namespace };
}

/** `conmon ... -c ID ... -n NAME`: Podman's and CRI-O's monitor names the container it runs. */
export function parseConmonArgs(argv: string[]): { id: string; name: string } | undefined {
  if (!/(^|\/)conmon$/.test(argv[0] ?? '')) return undefined;
  let id: string | undefined;
  let name: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, value] = eq > 0 && a.startsWith('--') ? [a.slice(0, eq), a.slice(eq + 1)] : [a, argv[i + 1]];
    if (flag === '-c' || flag === '--cid') id = value;
    else if (flag === '-n' || flag === '--name') name = value;
    else continue;
    if (eq <= 0 || !a.startsWith('--')) i++;
  }
  return id && name ? { id, name } : undefined;
}

/** Where a host keeps its runtimes' state (tests point this at a fixture tree). */
export interface RuntimeRoots { root: string; proc: string }
const HOST: RuntimeRoots = { root: '/', proc: '/proc' };

/** Read the name of a container from whatever its runtime left on disk. */
export function readContainerNames(ref: ContainerRef, roots: RuntimeRoots = HOST, conmon?: () => Map<string, string>): Names {
  const at = (p: string) => join(roots.root, p);
  if (ref.runtime === 'docker') {
    const cfg = readJson(at(`var/lib/docker/containers/${ref.id}/config.v2.json`)) as { Name?: string; Config?: { Labels?: Record<string, string> } } | undefined;
    const k = namesFromAnnotations(cfg?.Config?.Labels);
    if (k) return k;
    if (cfg?.Name) return { name: cfg.Name.replace(/^\//, '') };
  }
  for (const base of ['var/lib/containers/storage', 'run/containers/storage']) {
    const oci = readJson(at(`${base}/overlay-containers/${ref.id}/userdata/config.json`)) as { annotations?: Record<string, string> } | undefined;
    const k = namesFromAnnotations(oci?.annotations);
    if (k) return k;
  }
  if (ref.runtime === 'containerd' || ref.runtime === 'kubernetes') {
    for (const ns of listDir(at('run/containerd/io.containerd.runtime.v2.task'))) {
      const oci = readJson(at(`run/containerd/io.containerd.runtime.v2.task/${ns}/${ref.id}/config.json`)) as { annotations?: Record<string, string> } | undefined;
      const k = namesFromAnnotations(oci?.annotations);
      if (k) return k;
    }
  }
  // Podman's storage names its containers (not those started with --rootfs, which have no layer).
  const store = readJson(at('var/lib/containers/storage/overlay-containers/containers.json')) as Array<{ id?: string; names?: string[] }> | undefined;
  const entry = Array.isArray(store) ? store.find((c) => c.id === ref.id) : undefined;
  if (entry?.names?.[0]) return { name: entry.names[0] };
  const fromConmon = (conmon ?? (() => conmonNames(roots.proc)))().get(ref.id);
  return fromConmon ? { name: fromConmon } : {};
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** container id -> name, from every conmon's command line. */
export function conmonNames(procRoot = '/proc'): Map<string, string> {
  const out = new Map<string, string>();
  for (const pid of listDir(procRoot)) {
    if (!/^\d+$/.test(pid)) continue;
    let argv: string[];
    try {
      // Cheap first look: only conmon's comm is "conmon".
      if (readFileSync(`${procRoot}/${pid}/comm`, 'utf8').trim() !== 'conmon') continue;
      argv = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const c = parseConmonArgs(argv);
    if (c) out.set(c.id, c.name);
  }
  return out;
}

/** The runtimes' state directories: none of them means no container can be running. */
const RUNTIME_DIRS = ['var/lib/docker', 'var/lib/containers', 'run/containers', 'run/libpod', 'run/containerd', 'run/crio', 'run/docker', 'var/run/docker.sock'];

export function anyRuntime(roots: RuntimeRoots = HOST): boolean {
  return RUNTIME_DIRS.some((d) => existsSync(join(roots.root, d)));
}

// ---- the resolver a tool uses: pid -> container, cached ----

/** The cgroup path that names a process's container: v2 first, else any v1 hierarchy's. */
export function containerPathsOf(cgroupText: string): string[] {
  const cg = parseProcCgroup(cgroupText);
  const out = cg.v2 !== undefined ? [cg.v2] : [];
  for (const p of cg.v1.values()) out.push(p);
  return out;
}

export class ContainerResolver {
  private byPath = new Map<string, Container | null>();
  private byPid = new Map<number, Container | null>();
  private conmon?: Map<string, string>;
  /** false on a host with no runtime: every lookup answers undefined without reading anything. */
  readonly active: boolean;

  constructor(private roots: RuntimeRoots = HOST, force = false) {
    this.active = force || anyRuntime(roots);
  }

  /** The container of a cgroup path (cached per path). */
  ofCgroup(path: string): Container | undefined {
    if (!this.active) return undefined;
    const known = this.byPath.get(path);
    if (known !== undefined) return known ?? undefined;
    const ref = parseContainerCgroup(path);
    let c: Container | null = null;
    if (ref) {
      const same = [...this.byPath.values()].find((x) => x && x.id === ref.id);
      c = same ?? { ...ref, shortId: ref.id.slice(0, 12), ...readContainerNames(ref, this.roots, () => (this.conmon ??= conmonNames(this.roots.proc))) };
    }
    this.byPath.set(path, c);
    return c ?? undefined;
  }

  /** The container of a process (cached per pid: a process does not change container). */
  ofPid(pid: number): Container | undefined {
    if (!this.active) return undefined;
    const known = this.byPid.get(pid);
    if (known !== undefined) return known ?? undefined;
    let c: Container | undefined;
    try {
      for (const p of containerPathsOf(readFileSync(`${this.roots.proc}/${pid}/cgroup`, 'utf8'))) if ((c = this.ofCgroup(p))) break;
    } catch {
      return undefined; // gone: ask again next time (the pid may be reused)
    }
    this.byPid.set(pid, c ?? null);
    return c;
  }

  private byId = new Map<number, Container | null>();
  private idPaths?: Map<bigint, string>;
  private idPathsAt = 0;

  /**
   * The container of a cgroup2 id as the kernel reported it (cached per id): a process that
   * already exited still names its container. The live process's own cgroup is tried first
   * (one stat); else the cgroup2 tree is walked, at most once a second.
   */
  ofCgroupId(id: number, pid?: number): Container | undefined {
    if (!this.active || !id) return pid === undefined ? undefined : this.ofPid(pid);
    const known = this.byId.get(id);
    if (known !== undefined) return known ?? undefined;
    const mount = cgroup2Mount();
    if (!mount) return pid === undefined ? undefined : this.ofPid(pid);
    let path: string | undefined;
    if (pid !== undefined) {
      try {
        const p = parseProcCgroup(readFileSync(`${this.roots.proc}/${pid}/cgroup`, 'utf8')).v2;
        if (p !== undefined && statSync(join(mount, p), { bigint: true }).ino === BigInt(id)) path = p;
      } catch {
        // gone, or moved: look the id up
      }
    }
    if (path === undefined) {
      let found = this.idPaths?.get(BigInt(id));
      if (found === undefined && Date.now() - this.idPathsAt > 1000) {
        this.idPaths = cgroupPathsById(mount);
        this.idPathsAt = Date.now();
        found = this.idPaths.get(BigInt(id));
      }
      path = found;
      if (path === undefined) return undefined; // removed already: unknown (asked again later)
    }
    const c = this.ofCgroup(path) ?? null;
    this.byId.set(id, c);
    return c ?? undefined;
  }

  /** Every container with a live process, by id. */
  running(): Map<string, Container> {
    const out = new Map<string, Container>();
    if (!this.active) return out;
    this.conmon = undefined; // names of containers started since
    for (const pid of listDir(this.roots.proc)) {
      if (!/^\d+$/.test(pid)) continue;
      const c = this.ofPid(Number(pid));
      if (c) out.set(c.id, c);
    }
    return out;
  }
}

/** The JSON fields a tool adds to a record of a process in a container. */
export function containerJson(c: Container | undefined): { container?: { id: string; name?: string; runtime: ContainerRuntime; pod_uid?: string } } {
  if (!c) return {};
  return { container: { id: c.shortId, ...(c.name ? { name: c.name } : {}), runtime: c.runtime, ...(c.podUid ? { pod_uid: c.podUid } : {}) } };
}

/** What a CONTAINER column shows: the name, else the short id ('-': not in a container). */
export function containerLabel(c: Container | undefined): string {
  return c ? c.name ?? c.shortId : '-';
}

// ---- cgroup ids ----

const CGROUP2_MAGIC = 0x63677270;
const CGROUP1_MAGIC = 0x27e0eb;

/** The cgroup2 mount point (hybrid hosts: /sys/fs/cgroup/unified), or undefined. */
export function cgroup2Mount(): string | undefined {
  return readCgroupMounts().v2;
}

/** A cgroup2 directory's id: its inode, what bpf_get_current_cgroup_id() returns. */
export interface CgroupId { id: bigint; dir: string }

/** A cgroup2 directory -> its id. Throws a message for -c when the path is not a cgroup2 directory. */
export function cgroupIdOf(dir: string): CgroupId {
  let st;
  try {
    st = statSync(dir, { bigint: true });
    if (!st.isDirectory()) throw new Error('not a directory');
  } catch {
    throw new Error(`${dir} is not a cgroup directory (cgroup v2, e.g. ${cgroup2Mount() ?? '/sys/fs/cgroup'}/...)`);
  }
  const type = Number(statfsSync(dir).type);
  if (type === CGROUP1_MAGIC) throw new Error(`${dir} is a cgroup v1 directory: only cgroup v2 can be filtered in the kernel (${cgroup2Mount() ?? 'no cgroup2 mounted'})`);
  if (type !== CGROUP2_MAGIC) throw new Error(`${dir} is not a cgroup directory (cgroup v2, e.g. ${cgroup2Mount() ?? '/sys/fs/cgroup'}/...)`);
  return { id: st.ino, dir };
}

/** cgroup id -> path relative to the cgroup2 root ("/system.slice/x.scope"), by walking the tree. */
export function cgroupPathsById(mount = cgroup2Mount(), maxDirs = 20000): Map<bigint, string> {
  const out = new Map<bigint, string>();
  if (!mount) return out;
  const walk = (rel: string) => {
    if (out.size >= maxDirs) return;
    try {
      out.set(statSync(join(mount, rel), { bigint: true }).ino, rel || '/');
    } catch {
      return;
    }
    for (const e of (() => { try { return readdirSync(join(mount, rel), { withFileTypes: true }); } catch { return []; } })()) {
      if (e.isDirectory()) walk(`${rel}/${e.name}`);
    }
  };
  walk('');
  return out;
}

// ---- -c CGROUP_PATH and --container NAME|ID: the cgroup ids the kernel checks ----

/** What the kernel filter lets through: cgroup2 ids (wanted cgroups and all below them). */
export interface CgroupScope { ids: bigint[]; what: string; containers: Container[] }

/** A cgroup2 directory and every directory below it, as ids. */
export function cgroupTreeIds(dir: string, max = 4096): bigint[] {
  const out: bigint[] = [];
  const walk = (d: string) => {
    if (out.length >= max) return;
    try {
      out.push(statSync(d, { bigint: true }).ino);
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      // removed while we walked: nothing inside to observe
    }
  };
  walk(dir);
  return out;
}

/** The containers that NAME|ID names: a name, a full id or a unique id prefix. */
export function matchContainers(wanted: string, running: Iterable<Container>): Container[] {
  const all = [...running];
  const byName = all.filter((c) => c.name === wanted || (c.pod && `${c.namespace}/${c.pod}/${c.name}` === wanted));
  if (byName.length) return byName;
  if (/^[0-9a-f]{3,64}$/.test(wanted)) {
    const byId = all.filter((c) => c.id.startsWith(wanted));
    if (byId.length > 1) throw new Error(`--container ${wanted}: id prefix matches ${byId.length} containers (${byId.map((c) => c.shortId).join(', ')})`);
    if (byId.length) return byId;
  }
  // Kubernetes: a pod UID names all of the pod's containers.
  return all.filter((c) => c.podUid === wanted);
}

/**
 * Resolve -c and --container into the ids the kernel checks. Throws a one-line message on a
 * bad path or an unknown container (the runner turns it into exit status 2).
 */
export function resolveScope(cgroupPath: string | undefined, containers: string[]): CgroupScope | undefined {
  if (cgroupPath === undefined && containers.length === 0) return undefined;
  const ids = new Set<bigint>();
  const what: string[] = [];
  const found: Container[] = [];
  if (cgroupPath !== undefined) {
    const c = cgroupIdOf(cgroupPath);
    for (const id of cgroupTreeIds(c.dir)) ids.add(id);
    what.push(`cgroup ${cgroupPath}`);
  }
  if (containers.length) {
    const mount = cgroup2Mount();
    if (!mount) throw new Error('--container needs cgroup v2 (no cgroup2 file system is mounted)');
    // Asked for by name: look even where no runtime directory says one exists.
    const running = new ContainerResolver(undefined, true).running();
    for (const w of containers) {
      const match = matchContainers(w, running.values());
      if (!match.length) {
        const names = [...running.values()].map((c) => c.name ?? c.shortId);
        throw new Error(`--container ${w}: no running container has this name or id${names.length ? ` (running: ${names.slice(0, 8).join(', ')})` : ' (none is running)'}`);
      }
      for (const c of match) {
        const dir = join(mount, c.cgroup);
        if (!existsSync(dir)) throw new Error(`--container ${w}: its cgroup ${c.cgroup} is not in the cgroup2 hierarchy (${mount}); v1-only containers cannot be filtered in the kernel`);
        for (const id of cgroupTreeIds(dir)) ids.add(id);
        found.push(c);
        what.push(`container ${c.name ?? c.shortId}`);
      }
    }
  }
  return { ids: [...ids], what: what.join(', '), containers: found };
}

let shared: ContainerResolver | undefined;
/**
 * The process-wide resolver (its caches are shared by every part of a tool). force (--containers):
 * look at cgroups even where no runtime directory exists.
 */
export function hostContainers(force = false): ContainerResolver {
  if (!shared || (force && !shared.active)) shared = new ContainerResolver(undefined, force);
  return shared;
}
