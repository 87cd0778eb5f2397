// The pods a Kubernetes watcher asked this node to monitor, resolved to cgroup
// directories and kept in the probe's in-kernel selection.
//
// With a cgroup v2 hierarchy (pure v2, or the "unified" mount of a hybrid
// host) each container's directory is allowed by its cgroup id, so every
// process the container starts later is selected from its first connection.
// On a v1-only host there is no kernel cgroup id to match: the container's
// processes (cgroup.procs of a v1 controller) are allowed by pid at every
// rescan instead.
//
// Containers whose directory does not exist yet (the watcher can be faster
// than the runtime) stay desired and are retried on every rescan.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log/logger';
import { parseMountInfo } from './cgroup';
import { containerCgroupCandidates, parseContainerId, parseKubeCgroupPath, type ContainerRef } from './kube-cgroups';

/** A pod of the pushed desired state (runtime/control/desired-state.ts). */
export interface DesiredPod {
  uid: string;
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  containers: readonly { name: string; id: string }[];
}

/** Who a connection belongs to, for labels (runtime/enrich/). */
export interface WorkloadIdentity {
  namespace: string;
  pod: string;
  podUid: string;
  container: string;
  labels: Readonly<Record<string, string>>;
}

export interface ContainerStatus {
  name: string;
  id: string;
  /** Directory relative to the hierarchy root, as in /proc/PID/cgroup. */
  cgroup: string | null;
  /** Kernel cgroup id (v2 directory inode) as a decimal string. */
  cgroupId: string | null;
  pids: number[];
  attached: boolean;
  error: string | null;
}

export interface PodStatus {
  uid: string;
  namespace: string;
  pod: string;
  containers: ContainerStatus[];
}

export interface Unresolved {
  uid: string;
  container: string;
  reason: string;
}

/** The selection calls this needs (runtime/probes/selection-maps.ts). */
export interface PodSelection {
  allowCgroup(id: bigint): void;
  forgetCgroup(id: bigint): boolean;
  allowTgid(pid: number): void;
  forgetTgid(pid: number): boolean;
}

/** File system calls, injected so tests can use a temporary tree. */
export interface PodCgroupFs {
  readMountInfo(): string;
  /** Inode of a directory; undefined when it does not exist or is not a directory. */
  dirIno(p: string): bigint | undefined;
  readDir(p: string): string[];
  /** Text of a file; undefined when missing. */
  readFile(p: string): string | undefined;
}

export const realPodCgroupFs: PodCgroupFs = {
  readMountInfo: () => fs.readFileSync('/proc/self/mountinfo', 'utf8'),
  dirIno(p) {
    try {
      const st = fs.statSync(p, { bigint: true });
      return st.isDirectory() ? st.ino : undefined;
    } catch {
      return undefined;
    }
  },
  readDir(p) {
    try {
      return fs.readdirSync(p, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return [];
    }
  },
  readFile(p) {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  },
};

export interface CgroupHierarchy {
  version: 1 | 2;
  mountPoint: string;
}

/**
 * The hierarchies to resolve pods in: every cgroup v2 mount (a daemon in a pod
 * may see its own namespaced one and the host's), else one v1 controller
 * (pids, memory, cpu, or name=systemd, whichever is mounted first).
 */
export function podHierarchies(mountInfo: string): CgroupHierarchy[] {
  const mounts = parseMountInfo(mountInfo);
  const v2 = mounts.filter((m) => m.fsType === 'cgroup2').map((m) => ({ version: 2 as const, mountPoint: m.mountPoint }));
  if (v2.length > 0) {
    // /sys/fs/cgroup first: it is the host's on a pure v2 host.
    return v2.sort((a, b) => Number(b.mountPoint === '/sys/fs/cgroup') - Number(a.mountPoint === '/sys/fs/cgroup'));
  }
  const v1 = mounts.filter((m) => m.fsType === 'cgroup');
  for (const want of ['pids', 'memory', 'cpu', 'systemd']) {
    const m = v1.find((x) => path.basename(x.mountPoint).split(',').includes(want));
    if (m) return [{ version: 1, mountPoint: m.mountPoint }];
  }
  return v1.length > 0 ? [{ version: 1, mountPoint: v1[0]!.mountPoint }] : [];
}

const SEARCH_MAX_DIRS = 20_000;
const SEARCH_MAX_DEPTH = 8;

/**
 * The container's directory under one hierarchy mount: first every known
 * layout (both drivers, three QoS classes, the runtimes' naming), then a
 * bounded walk for a directory named after the container id below one named
 * after the pod (kubelets with an unusual --cgroup-root, nested clusters).
 */
export function locateContainerCgroup(
  cgfs: PodCgroupFs,
  mountPoint: string,
  podUid: string,
  ref: ContainerRef,
  cgroupRoot = '/',
): string | undefined {
  for (const rel of containerCgroupCandidates(podUid, ref, cgroupRoot)) {
    if (cgfs.dirIno(path.join(mountPoint, rel)) !== undefined) return rel;
  }
  let budget = SEARCH_MAX_DIRS;
  const queue: { rel: string; depth: number }[] = [{ rel: '/', depth: 0 }];
  while (queue.length > 0 && budget > 0) {
    const { rel, depth } = queue.shift()!;
    for (const name of cgfs.readDir(path.join(mountPoint, rel))) {
      if (--budget <= 0) break;
      const child = rel === '/' ? `/${name}` : `${rel}/${name}`;
      if (name.includes(ref.id)) {
        const parsed = parseKubeCgroupPath(child);
        if (parsed?.containerId === ref.id && parsed.podUid === podUid) return child;
        continue;
      }
      // Only descend into the kubelet's part of the tree.
      if (depth + 1 < SEARCH_MAX_DEPTH && (depth < 2 || /kubepods|kubelet|burstable|besteffort|^pod|-pod/.test(child))) {
        queue.push({ rel: child, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** Pids in a cgroup directory and its descendants (bounded). */
export function cgroupPids(cgfs: PodCgroupFs, dir: string, maxDirs = 256): number[] {
  const pids = new Set<number>();
  const queue = [dir];
  let seen = 0;
  while (queue.length > 0 && seen++ < maxDirs) {
    const d = queue.shift()!;
    const text = cgfs.readFile(path.join(d, 'cgroup.procs'));
    for (const line of (text ?? '').split('\n')) if (/^[0-9]+$/.test(line)) pids.add(Number(line));
    for (const name of cgfs.readDir(d)) queue.push(path.join(d, name));
  }
  return [...pids].sort((a, b) => a - b);
}

interface ContainerState {
  pod: DesiredPod;
  name: string;
  id: string;
  ref: ContainerRef | undefined;
  hierarchy?: CgroupHierarchy;
  cgroup?: string;
  cgroupId?: bigint;
  pids: number[];
  attached: boolean;
  error: string | null;
}

export interface PodTargetsOptions {
  selection: PodSelection;
  cgfs?: PodCgroupFs;
  /** The kubelet's --cgroup-root; default "/". */
  cgroupRoot?: string;
  logger?: Logger;
  /** Cgroup ids the user selected with --cgroup: never forgotten here. */
  pinnedCgroups?: readonly bigint[];
  /** Identities of removed containers are kept this long for late events (ms). */
  identityGraceMs?: number;
  clock?: () => number;
}

const keyOf = (uid: string, container: string): string => `${uid}/${container}`;

/**
 * @example
 * const pods = new PodTargets({ selection });
 * pods.update(desired.pods);   // from PUT /v1/desired-state; returns what is unresolved
 * setInterval(() => pods.rescan(), 1000);
 * pods.identityOfCgroup(cgroupId);  // labels of a connection's owner
 */
export class PodTargets {
  readonly #sel: PodSelection;
  readonly #fs: PodCgroupFs;
  readonly #root: string;
  readonly #log: Logger | undefined;
  readonly #pinned: Set<bigint>;
  readonly #graceMs: number;
  readonly #clock: () => number;
  #containers = new Map<string, ContainerState>();
  #pods: readonly DesiredPod[] = [];
  /** cgroup id → identity, for attached containers and recently removed ones. */
  readonly #byCgroup = new Map<bigint, WorkloadIdentity>();
  readonly #byPid = new Map<number, WorkloadIdentity>();
  readonly #retired = new Map<bigint, { identity: WorkloadIdentity; until: number }>();

  constructor(opts: PodTargetsOptions) {
    this.#sel = opts.selection;
    this.#fs = opts.cgfs ?? realPodCgroupFs;
    this.#root = opts.cgroupRoot ?? '/';
    this.#log = opts.logger;
    this.#pinned = new Set(opts.pinnedCgroups ?? []);
    this.#graceMs = opts.identityGraceMs ?? 300_000;
    this.#clock = opts.clock ?? Date.now;
  }

  /**
   * Make `pods` the complete desired set: containers no longer in it are
   * detached, new ones resolved and attached now. Returns the containers
   * that could not be attached (they are retried on every rescan).
   */
  update(pods: readonly DesiredPod[]): Unresolved[] {
    const next = new Map<string, ContainerState>();
    for (const pod of pods) {
      for (const c of pod.containers) {
        const key = keyOf(pod.uid, c.name);
        const old = this.#containers.get(key);
        if (old && old.id === c.id) {
          old.pod = pod; // labels or names may have changed
          next.set(key, old);
          if (old.cgroupId !== undefined) this.#byCgroup.set(old.cgroupId, identityOf(old));
          continue;
        }
        next.set(key, { pod, name: c.name, id: c.id, ref: parseContainerId(c.id), pids: [], attached: false, error: null });
      }
    }
    for (const [key, old] of this.#containers) {
      const now = next.get(key);
      if (now === old) continue;
      this.#detach(old);
    }
    this.#containers = next;
    this.#pods = pods;
    this.rescan();
    return this.unresolved();
  }

  /** Retry unresolved containers, notice removed directories, refresh pids. */
  rescan(): void {
    const hierarchies = podHierarchies(this.#fs.readMountInfo());
    const now = this.#clock();
    for (const [id, r] of this.#retired) if (r.until <= now) this.#retired.delete(id);
    this.#byPid.clear();
    for (const c of this.#containers.values()) {
      if (c.cgroup !== undefined && c.hierarchy !== undefined) {
        const ino = this.#fs.dirIno(path.join(c.hierarchy.mountPoint, c.cgroup));
        if (ino === undefined || (c.hierarchy.version === 2 && ino !== c.cgroupId)) {
          this.#log?.info('container cgroup is gone', { pod: `${c.pod.namespace}/${c.pod.name}`, container: c.name, cgroup: c.cgroup });
          this.#detach(c);
          c.error = `cgroup ${c.cgroup} no longer exists (container exited?)`;
        }
      }
      if (c.cgroup === undefined) this.#resolve(c, hierarchies);
      if (c.cgroup !== undefined && c.hierarchy !== undefined) this.#refreshPids(c);
    }
  }

  #resolve(c: ContainerState, hierarchies: CgroupHierarchy[]): void {
    if (c.ref === undefined) {
      c.error = c.id === '' ? 'the container has no id yet (not started)' : `unsupported container id ${JSON.stringify(c.id)}`;
      return;
    }
    if (hierarchies.length === 0) {
      c.error = 'no cgroup hierarchy is mounted';
      return;
    }
    for (const h of hierarchies) {
      const rel = locateContainerCgroup(this.#fs, h.mountPoint, c.pod.uid, c.ref, this.#root);
      if (rel === undefined) continue;
      const ino = this.#fs.dirIno(path.join(h.mountPoint, rel));
      if (ino === undefined) continue;
      c.hierarchy = h;
      c.cgroup = rel;
      if (h.version === 2) {
        try {
          this.#sel.allowCgroup(ino);
        } catch (err) {
          c.error = `could not select cgroup ${rel}: ${(err as Error).message}`;
          c.cgroup = undefined;
          c.hierarchy = undefined;
          return;
        }
        c.cgroupId = ino;
        this.#retired.delete(ino);
        this.#byCgroup.set(ino, identityOf(c));
      }
      c.attached = true;
      c.error = null;
      this.#log?.info('container attached', {
        pod: `${c.pod.namespace}/${c.pod.name}`,
        container: c.name,
        cgroup: rel,
        cgroupId: c.cgroupId,
        by: h.version === 2 ? 'cgroup id' : 'pid',
      });
      return;
    }
    c.error = `no cgroup directory for container ${c.ref.id.slice(0, 12)} of pod ${c.pod.uid} yet (retried on every rescan)`;
  }

  #refreshPids(c: ContainerState): void {
    const pids = cgroupPids(this.#fs, path.join(c.hierarchy!.mountPoint, c.cgroup!));
    if (c.hierarchy!.version === 1) {
      // No kernel cgroup id on a v1-only host: select the processes themselves.
      const before = new Set(c.pids);
      for (const p of pids) if (!before.delete(p)) this.#allowPid(p);
      for (const p of before) this.#sel.forgetTgid(p);
    }
    c.pids = pids;
    const identity = identityOf(c);
    for (const p of pids) this.#byPid.set(p, identity);
  }

  #allowPid(pid: number): void {
    try {
      this.#sel.allowTgid(pid);
    } catch (err) {
      this.#log?.warn('could not select a pod process', { pid, reason: (err as Error).message });
    }
  }

  #detach(c: ContainerState): void {
    if (c.cgroupId !== undefined) {
      if (!this.#pinned.has(c.cgroupId)) this.#sel.forgetCgroup(c.cgroupId);
      const identity = this.#byCgroup.get(c.cgroupId);
      this.#byCgroup.delete(c.cgroupId);
      if (identity) this.#retired.set(c.cgroupId, { identity, until: this.#clock() + this.#graceMs });
    }
    if (c.hierarchy?.version === 1) for (const p of c.pids) this.#sel.forgetTgid(p);
    if (c.attached) this.#log?.info('container detached', { pod: `${c.pod.namespace}/${c.pod.name}`, container: c.name });
    c.cgroup = undefined;
    c.cgroupId = undefined;
    c.hierarchy = undefined;
    c.pids = [];
    c.attached = false;
  }

  /** Detach everything (daemon shutdown leaves the maps to be freed with the probe). */
  clear(): void {
    this.update([]);
  }

  unresolved(): Unresolved[] {
    return [...this.#containers.values()]
      .filter((c) => !c.attached)
      .map((c) => ({ uid: c.pod.uid, container: c.name, reason: c.error ?? 'not resolved yet' }));
  }

  /** The identity of a kernel cgroup id (attached, or removed within the grace period). */
  identityOfCgroup(id: bigint): WorkloadIdentity | undefined {
    return this.#byCgroup.get(id) ?? this.#retired.get(id)?.identity;
  }

  /** The identity of a pid seen in a container at the last rescan. */
  identityOfPid(pid: number): WorkloadIdentity | undefined {
    return this.#byPid.get(pid);
  }

  get attachedCount(): number {
    let n = 0;
    for (const c of this.#containers.values()) if (c.attached) n++;
    return n;
  }

  /** GET /v1/targets: every desired pod with its containers' state. */
  status(): PodStatus[] {
    const pods = new Map<string, PodStatus>();
    for (const pod of this.#pods) pods.set(pod.uid, { uid: pod.uid, namespace: pod.namespace, pod: pod.name, containers: [] });
    for (const c of this.#containers.values()) {
      const p = pods.get(c.pod.uid);
      if (!p) continue;
      p.containers.push({
        name: c.name,
        id: c.id,
        cgroup: c.cgroup ?? null,
        cgroupId: c.cgroupId?.toString() ?? null,
        pids: [...c.pids],
        attached: c.attached,
        error: c.error,
      });
    }
    return [...pods.values()];
  }
}

function identityOf(c: ContainerState): WorkloadIdentity {
  return { namespace: c.pod.namespace, pod: c.pod.name, podUid: c.pod.uid, container: c.name, labels: c.pod.labels };
}
