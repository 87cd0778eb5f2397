/**
 * Shared pieces of the Kubernetes tests: the real test cluster (test/k8s/cluster.sh),
 * API clients on its admin kubeconfig, pod helpers, the watcher as a child
 * process, and real cgroups with real processes standing in for containers
 * (tier 1 has no kubelet).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { CLI } from '../helpers/daemon';

export const K8S_SCRIPTS = path.resolve(__dirname, '../../../test/k8s');
export const RUN_DIR = process.env.LIGHTFOOT_K8S_RUN ?? '/run/lightfoot-k8s';
export const ADMIN_KUBECONFIG = path.join(RUN_DIR, 'admin.kubeconfig');

/** Why the cluster tests cannot run here, or false. */
export function k8sSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root: runs etcd, kube-apiserver, containerd and the kubelet';
  return false;
}

function script(name: string, args: string[], timeoutMs: number): void {
  const r = spawnSync('bash', [path.join(K8S_SCRIPTS, name), ...args], { stdio: ['ignore', 'inherit', 'inherit'], timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`test/k8s/${name} ${args.join(' ')} failed (status ${r.status}, signal ${r.signal})`);
}

/** Builds the cluster binaries if needed (cold: ~8 min) and starts `up-api` or `up`. */
export function clusterUp(what: 'up-api' | 'up'): void {
  script('build.sh', [], 40 * 60_000);
  script('cluster.sh', [what], 5 * 60_000);
}
export function clusterDown(): void {
  script('cluster.sh', ['down'], 2 * 60_000);
}
export function images(which: 'lightfoot'): void {
  script('images.sh', [which], 10 * 60_000);
}

export function kubeClients(kubeconfig = ADMIN_KUBECONFIG): { kc: KubeConfig; core: CoreV1Api } {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, core: kc.makeApiClient(CoreV1Api) };
}

export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export async function ensureNamespace(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  // Without kube-controller-manager nobody creates the default ServiceAccount the admission needs.
  try {
    await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    await sleep(stepMs);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Lines of a child's stream, parsed as JSON where they are. */
function collectLines(stream: NodeJS.ReadableStream, into: Array<Record<string, unknown>>, raw: string[]): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      raw.push(line);
      try {
        into.push(JSON.parse(line));
      } catch {
        // not JSON
      }
    }
  });
}

export interface WatcherProc {
  proc: ChildProcess;
  url: string;
  logs: Array<Record<string, unknown>>;
  raw: string[];
  metrics(): Promise<string>;
  debugNodes(): Promise<{ leader: boolean; nodes: Array<{ node: string; url: string | null; pods: number; acked: { epoch: number; seq: number } | null; version: { epoch: number; seq: number } }> }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `lightfoot watcher` as a child process; resolves once it serves /healthz. */
export async function startWatcher(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<WatcherProc> {
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'watcher', '--log-format', 'json', '--metrics-addr', `127.0.0.1:${port}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  collectLines(proc.stderr!, logs, raw);
  collectLines(proc.stdout!, logs, raw);
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await eventually(
    `watcher serving ${url}`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`watcher exited ${proc.exitCode}:\n${raw.join('\n')}`);
      return (await fetch(`${url}/healthz`)).ok;
    },
    20_000,
  ).catch((err: Error) => {
    proc.kill('SIGKILL');
    throw new Error(`${err.message}\n${raw.join('\n')}`);
  });
  return {
    proc,
    url,
    logs,
    raw,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    debugNodes: async () => (await fetch(`${url}/debug/nodes`)).json() as never,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** A container stand-in: a real cgroup v2 directory where the kubelet would put it. */
export interface FakeContainer {
  id: string;
  dir: string;
  /** Moves a process into the container's cgroup. */
  adopt(pid: number): void;
  remove(): void;
}

export function unifiedMount(): string {
  const mi = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  for (const line of mi) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre!.split(' ')[4]!;
  }
  throw new Error('no cgroup v2 mount on this host');
}

/** `root`: the daemon's --kube-cgroup-root, private to a test so a real kubelet's /kubepods is never touched. */
export function fakeContainer(root: string, podUid: string, qos: 'besteffort' | 'burstable' | 'guaranteed' = 'besteffort'): FakeContainer {
  const id = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const podDir = path.join(unifiedMount(), root, 'kubepods', ...(qos === 'guaranteed' ? [] : [qos]), `pod${podUid}`);
  const dir = path.join(podDir, id);
  fs.mkdirSync(dir, { recursive: true });
  return {
    id,
    dir,
    adopt: (pid) => fs.writeFileSync(path.join(dir, 'cgroup.procs'), `${pid}\n`),
    remove: () => {
      for (const d of [dir, podDir, path.dirname(podDir)]) {
        try {
          fs.rmdirSync(d);
        } catch {
          // still has processes or children; the caller killed them first
        }
      }
    },
  };
}

export interface PodSpecOptions {
  name: string;
  namespace: string;
  node: string;
  labels?: Record<string, string>;
  containers?: string[];
  ports?: Array<{ name: string; containerPort: number }>;
}

export function podBody(o: PodSpecOptions): V1Pod {
  return {
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels ?? {} },
    spec: {
      nodeName: o.node,
      automountServiceAccountToken: false,
      containers: (o.containers ?? ['app']).map((c, i) => ({
        name: c,
        image: 'lightfoot:test',
        ...(i === 0 && o.ports ? { ports: o.ports } : {}),
      })),
    },
  };
}

/** Sets what the kubelet would report: phase, IP and container ids (status subresource). */
export async function patchStatus(core: CoreV1Api, ns: string, name: string, status: Record<string, unknown>): Promise<void> {
  await core.patchNamespacedPodStatus({ name, namespace: ns, body: { status } }, mergePatch);
}

export async function setLabel(core: CoreV1Api, ns: string, name: string, key: string, value: string | null): Promise<void> {
  await core.patchNamespacedPod({ name, namespace: ns, body: { metadata: { labels: { [key]: value } } } }, mergePatch);
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
