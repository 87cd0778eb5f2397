// What the watcher keeps of a pod, and how a pod becomes an entry of its
// node's desired set (the control API's `pods[]`). Pure: unit-tested without
// an API server.
//
// Memory bound: the informer cache holds every selected pod, so each object is
// stripped IN PLACE (the cache and the event handler share the reference) down
// to the few fields used here. A stripped pod costs a few hundred bytes
// instead of the 5-20 KB of a full one with managedFields.

/** The fields of a pod the watcher reads; everything else is deleted. */
export interface SlimPod {
  metadata: {
    uid?: string;
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  spec?: { nodeName?: string; containers?: Array<{ name: string; ports?: Array<{ name?: string; containerPort: number }> }> };
  status?: {
    phase?: string;
    podIP?: string;
    containerStatuses?: SlimContainerStatus[];
    initContainerStatuses?: SlimContainerStatus[];
  };
}

export interface SlimContainerStatus {
  name: string;
  containerID?: string;
  /** Kept only as a marker: a terminated container has no cgroup any more. */
  state?: { terminated?: object };
}

/** One pod of a node's desired set, as the control API expects it. */
export interface DesiredPod {
  uid: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  containers: Array<{ name: string; id: string }>;
}

export interface StripOptions {
  /** Keep `spec.containers[].ports` (daemon pods: the `control` port). */
  keepPorts?: boolean;
}

type Obj = Record<string, unknown>;

function keepOnly(o: Obj | undefined, keys: readonly string[]): void {
  if (o === undefined || o === null || typeof o !== 'object') return;
  for (const k of Object.keys(o)) if (!keys.includes(k)) delete o[k];
}

function slimStatuses(list: unknown): void {
  if (!Array.isArray(list)) return;
  for (const cs of list as Obj[]) {
    keepOnly(cs, ['name', 'containerID', 'state']);
    const state = cs.state as Obj | undefined;
    if (state && typeof state === 'object') {
      if (state.terminated) cs.state = { terminated: {} };
      else delete cs.state;
    }
  }
}

/**
 * Strip a pod (typed class instance or raw JSON from a watch) in place and
 * return it. Idempotent.
 */
export function stripPod<T extends object>(pod: T, opts: StripOptions = {}): T {
  const p = pod as unknown as Obj;
  keepOnly(p, ['metadata', 'spec', 'status']);
  keepOnly(p.metadata as Obj, ['uid', 'name', 'namespace', 'resourceVersion', 'labels']);
  const spec = p.spec as Obj | undefined;
  keepOnly(spec, opts.keepPorts ? ['nodeName', 'containers'] : ['nodeName']);
  if (opts.keepPorts && spec && Array.isArray(spec.containers)) {
    for (const c of spec.containers as Obj[]) {
      keepOnly(c, ['name', 'ports']);
      if (Array.isArray(c.ports)) for (const port of c.ports as Obj[]) keepOnly(port, ['name', 'containerPort']);
    }
  }
  const status = p.status as Obj | undefined;
  keepOnly(status, ['phase', 'podIP', 'containerStatuses', 'initContainerStatuses']);
  if (status) {
    slimStatuses(status.containerStatuses);
    slimStatuses(status.initContainerStatuses);
  }
  return pod;
}

export interface NamespaceFilter {
  /** Empty: every namespace. */
  include: readonly string[];
  exclude: readonly string[];
}

export function namespaceSelected(ns: string, f: NamespaceFilter): boolean {
  if (f.exclude.includes(ns)) return false;
  return f.include.length === 0 || f.include.includes(ns);
}

/** Pods that finished have no processes left to watch. */
export function isTerminal(pod: SlimPod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/**
 * The desired-set entry for a pod, or null when it is not on a node yet or
 * finished. Containers without an id (not started) are left out; they appear
 * on the pod's next status update. `labelKeys` are the pod labels chosen for
 * metric enrichment; other labels never leave the watcher.
 */
export function desiredPod(pod: SlimPod, labelKeys: readonly string[]): DesiredPod | null {
  const md = pod.metadata;
  if (!md.uid || !md.name || !md.namespace || !pod.spec?.nodeName || isTerminal(pod)) return null;
  const labels: Record<string, string> = {};
  for (const k of labelKeys) {
    const v = md.labels?.[k];
    if (v !== undefined) labels[k] = v;
  }
  const containers: Array<{ name: string; id: string }> = [];
  for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    if (cs.containerID && !cs.state?.terminated) containers.push({ name: cs.name, id: cs.containerID });
  }
  containers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { uid: md.uid, namespace: md.namespace, name: md.name, labels, containers };
}

/** Canonical JSON of a desired set (pods sorted by uid): equal sets, equal strings. */
export function canonicalSet(pods: readonly DesiredPod[]): string {
  const sorted = [...pods].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  return JSON.stringify(
    sorted.map((p) => ({
      uid: p.uid,
      namespace: p.namespace,
      name: p.name,
      labels: Object.fromEntries(Object.entries(p.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      containers: p.containers,
    })),
  );
}

/** A daemon found through its DaemonSet pod: node, and where its control API listens. */
export interface DaemonEndpoint {
  node: string;
  url: string;
  pod: string;
}

/**
 * The control endpoint of a daemon pod: `status.podIP` and the container port
 * named `control`. Null while the pod has no IP or no such port.
 */
export function daemonEndpoint(pod: SlimPod, scheme: 'http' | 'https', portName = 'control'): DaemonEndpoint | null {
  const node = pod.spec?.nodeName;
  const ip = pod.status?.podIP;
  if (!node || !ip || isTerminal(pod)) return null;
  for (const c of pod.spec?.containers ?? []) {
    for (const port of c.ports ?? []) {
      if (port.name === portName) {
        const host = ip.includes(':') ? `[${ip}]` : ip;
        return { node, url: `${scheme}://${host}:${port.containerPort}`, pod: `${pod.metadata.namespace}/${pod.metadata.name}` };
      }
    }
  }
  return null;
}
