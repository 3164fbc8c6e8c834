// The CONTAINER column and the container fields of JSON records, the same in every tool: shown
// with --containers, or when a traced process is in a container. On a host with no container
// runtime nothing is read and nothing changes (the resolver is inactive).
import { containerJson, containerLabel, hostContainers, type Container, type ContainerResolver } from '../core/containers.js';
import { padR, safe } from '../render/text.js';

const WIDTH = 16;

export class ContainerView {
  /**
   * forced (--containers): the column whatever the rows. lookEverywhere (also --container): read
   * cgroups even where no runtime directory exists (a runtime installed somewhere unusual).
   */
  constructor(readonly forced: boolean, lookEverywhere = forced, private r: ContainerResolver = hostContainers(lookEverywhere)) {}

  /** Anything to resolve at all (--containers, or a runtime on this host). */
  get active(): boolean {
    return this.r.active;
  }

  of(pid: number): Container | undefined {
    return this.r.ofPid(pid);
  }

  /** A task by pid and, where the kernel reported it, its cgroup2 id (right after it exited too). */
  ofTask(pid: number, cgroupId?: number): Container | undefined {
    return cgroupId ? this.r.ofCgroupId(cgroupId, pid) : this.r.ofPid(pid);
  }

  /** Interval tools: a column for this report's rows? */
  shown(pids: Iterable<number>): boolean {
    if (this.forced) return true;
    if (!this.r.active) return false;
    for (const p of pids) if (this.r.ofPid(p)) return true;
    return false;
  }

  /** Streaming tools decide once, at start: is any container running? */
  anyRunning(): boolean {
    return this.forced || (this.r.active && this.r.running().size > 0);
  }

  header(): string {
    return `${padR('CONTAINER', WIDTH)} `;
  }

  /** The cell (with its separator) for a process. */
  cell(pid: number, cgroupId?: number): string {
    return `${padR(safe(containerLabel(this.ofTask(pid, cgroupId))).slice(0, WIDTH), WIDTH)} `;
  }

  /** A JSON record (one line, an object) with the process's container first, when it has one. */
  jsonLine(pid: number, line: string, cgroupId?: number): string {
    const c = containerJson(this.ofTask(pid, cgroupId)).container;
    return c ? `{"container":${JSON.stringify(c)},${line.slice(1)}` : line;
  }

  /** `container: {id, name, runtime}` for a process in a container, else nothing. */
  json(pid: number): ReturnType<typeof containerJson> {
    return containerJson(this.of(pid));
  }
}
