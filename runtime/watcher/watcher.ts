// `lightfoot watcher`: follows the selected pods through one watch, keeps each
// node's desired set, finds the node daemons through their DaemonSet pods and,
// while it holds the leader Lease, pushes every node its complete desired set.

import * as fs from 'node:fs';
import * as http from 'node:http';
import { CoordinationV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { ConfigError } from '../errors';
import { createLogger, type Logger } from '../log/logger';
import { formatAddr } from '../cli/options';
import { DaemonClient } from './daemon-client';
import { StrippedInformer } from './informer';
import { LeaderElector } from './leader';
import { createWatcherMetrics, type WatcherMetrics } from './metrics';
import { daemonEndpoint, desiredPod, namespaceSelected, stripPod, type DesiredPod, type SlimPod } from './pod-model';
import { Pusher } from './pusher';
import type { WatcherOptions } from './options';

export interface WatcherHandle {
  metrics: WatcherMetrics;
  pusher: Pusher;
  address: string;
  stop(): Promise<void>;
}

function loadKubeConfig(opts: WatcherOptions): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (opts.kubeconfig !== undefined) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new ConfigError(`cannot load the kubeconfig: ${(err as Error).message}`, {
      hint: 'pass --kubeconfig FILE, or run in a pod with a ServiceAccount token mounted',
    });
  }
  if (!kc.getCurrentCluster()) {
    throw new ConfigError('no Kubernetes cluster configured', { hint: 'pass --kubeconfig FILE or run in a pod' });
  }
  return kc;
}

function readToken(file: string): string {
  let token: string;
  try {
    token = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`--token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'point --token-file at the control-API token file shared with the daemons',
    });
  }
  if (token === '') throw new ConfigError(`--token-file ${file} is empty`, { hint: 'write the shared control-API token into it' });
  return token;
}

/** Start everything; resolves once the HTTP endpoint listens. */
export async function startWatcher(opts: WatcherOptions, logger: Logger): Promise<WatcherHandle> {
  const kc = loadKubeConfig(opts);
  const token = readToken(opts.tokenFile);
  const ca = opts.daemonCa !== undefined ? fs.readFileSync(opts.daemonCa) : undefined;
  const core = kc.makeApiClient(CoreV1Api);
  const metrics = createWatcherMetrics();
  const client = new DaemonClient({ token, ...(ca ? { ca } : {}) });
  const pusher = new Pusher({ client, metrics, logger: logger.child('push'), resyncIntervalMs: opts.resyncIntervalMs });

  // node -> uid -> desired pod; uid -> node (a pod's node never changes, but be safe).
  const byNode = new Map<string, Map<string, DesiredPod>>();
  const nodeOf = new Map<string, string>();
  const touched = (node: string, at: number): void => {
    pusher.setDesired(node, [...(byNode.get(node)?.values() ?? [])], at);
    if (!byNode.get(node)?.size) {
      byNode.delete(node);
      pusher.forget(node);
    }
  };
  const removePod = (uid: string, at: number): void => {
    const node = nodeOf.get(uid);
    if (node === undefined) return;
    nodeOf.delete(uid);
    byNode.get(node)?.delete(uid);
    touched(node, at);
  };
  const upsertPod = (pod: SlimPod): void => {
    const at = Date.now();
    const uid = pod.metadata.uid;
    if (!uid) return;
    const entry = namespaceSelected(pod.metadata.namespace ?? '', { include: opts.includeNamespaces, exclude: opts.excludeNamespaces })
      ? desiredPod(pod, opts.podLabels)
      : null;
    const prev = nodeOf.get(uid);
    if (entry === null || (prev !== undefined && prev !== pod.spec!.nodeName)) removePod(uid, at);
    if (entry !== null) {
      const node = pod.spec!.nodeName!;
      nodeOf.set(uid, node);
      let m = byNode.get(node);
      if (!m) byNode.set(node, (m = new Map()));
      m.set(uid, entry);
      touched(node, at);
    }
    metrics.podsSelected.set(nodeOf.size);
  };

  // Excluded namespaces are filtered by the server too (a field selector), so their pods never arrive.
  const fieldSelector = opts.excludeNamespaces.map((n) => `metadata.namespace!=${n}`).join(',') || undefined;
  const onlyNs = opts.includeNamespaces.length === 1 ? opts.includeNamespaces[0] : undefined;
  const pods = new StrippedInformer<V1Pod>({
    kc,
    path: onlyNs ? `/api/v1/namespaces/${onlyNs}/pods` : '/api/v1/pods',
    list: () =>
      onlyNs
        ? core.listNamespacedPod({ namespace: onlyNs, labelSelector: opts.selector, ...(fieldSelector ? { fieldSelector } : {}) })
        : core.listPodForAllNamespaces({ labelSelector: opts.selector, ...(fieldSelector ? { fieldSelector } : {}) }),
    labelSelector: opts.selector,
    ...(fieldSelector ? { fieldSelector } : {}),
    strip: (p) => stripPod(p),
    onUpsert: (p) => upsertPod(p as SlimPod),
    onDelete: (p) => {
      if (p.metadata?.uid) removePod(p.metadata.uid, Date.now());
      metrics.podsSelected.set(nodeOf.size);
    },
    onRestart: () => metrics.watchRestarts.inc({ resource: 'pods' }),
    logger: logger.child('pods'),
  });

  // Daemon pods: node -> pod name -> url.
  const daemonsByNode = new Map<string, Map<string, string>>();
  const daemonNode = new Map<string, string>();
  const scheme = opts.daemonTls ? 'https' : 'http';
  const refreshDaemon = (node: string): void => {
    const urls = daemonsByNode.get(node);
    const url = urls && urls.size > 0 ? [...urls.values()].at(-1)! : null;
    pusher.setEndpoint(node, url);
    if (url === null) {
      daemonsByNode.delete(node);
      pusher.forget(node);
    }
    metrics.daemons.set(daemonsByNode.size);
  };
  const removeDaemon = (name: string): void => {
    const node = daemonNode.get(name);
    if (node === undefined) return;
    daemonNode.delete(name);
    daemonsByNode.get(node)?.delete(name);
    refreshDaemon(node);
  };
  const daemons = new StrippedInformer<V1Pod>({
    kc,
    path: `/api/v1/namespaces/${opts.daemonNamespace}/pods`,
    list: () => core.listNamespacedPod({ namespace: opts.daemonNamespace, labelSelector: opts.daemonSelector }),
    labelSelector: opts.daemonSelector,
    strip: (p) => stripPod(p, { keepPorts: true }),
    onUpsert: (p) => {
      const name = p.metadata?.name ?? '';
      const ep = daemonEndpoint(p as SlimPod, scheme, opts.daemonPortName);
      if (ep === null) return removeDaemon(name);
      if (daemonNode.get(name) !== ep.node) removeDaemon(name);
      daemonNode.set(name, ep.node);
      let m = daemonsByNode.get(ep.node);
      if (!m) daemonsByNode.set(ep.node, (m = new Map()));
      m.set(name, ep.url);
      refreshDaemon(ep.node);
    },
    onDelete: (p) => removeDaemon(p.metadata?.name ?? ''),
    onRestart: () => metrics.watchRestarts.inc({ resource: 'daemons' }),
    logger: logger.child('daemons'),
  });

  const elector = new LeaderElector({
    api: kc.makeApiClient(CoordinationV1Api),
    namespace: opts.leaseNamespace,
    name: opts.leaseName,
    identity: opts.identity,
    leaseDurationSeconds: opts.leaseDurationSeconds,
    renewIntervalMs: opts.renewIntervalMs,
    logger: logger.child('leader'),
    onChange: (epoch) => {
      metrics.isLeader.set(epoch === null ? 0 : 1);
      pusher.setActive(epoch !== null, epoch ?? undefined);
    },
  });

  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, 'method not allowed: use GET\n');
    if (url === '/healthz') return send(200, 'ok\n');
    if (url === '/readyz') return pods.isSynced && daemons.isSynced ? send(200, 'ok\n') : send(503, 'informers not synced\n');
    if (url === '/debug/nodes') {
      return send(200, JSON.stringify({ leader: elector.isLeader, nodes: pusher.snapshot() }) + '\n', 'application/json');
    }
    if (url === '/metrics') {
      void metrics.registry.metrics().then(
        (body) => send(200, body, metrics.registry.contentType),
        () => send(500, 'metrics failed\n'),
      );
      return;
    }
    send(404, 'not found: try /metrics, /healthz, /readyz or /debug/nodes\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ConfigError(`--metrics-addr ${formatAddr(opts.metricsAddr)}: ${err.code ?? err.message}`, { hint: 'pick a free address with --metrics-addr' })),
    );
    server.listen(opts.metricsAddr.port, opts.metricsAddr.host, () => resolve());
  });
  const addr = server.address() as { address: string; port: number };

  const startInformer = (inf: StrippedInformer<V1Pod>, what: string): void => {
    void inf.start().catch((err: unknown) => logger.warn(`${what} informer failed to start`, { err: (err as Error).message }));
  };
  startInformer(daemons, 'daemon');
  startInformer(pods, 'pod');
  elector.start();
  logger.info('watcher started', {
    selector: opts.selector,
    daemonSelector: opts.daemonSelector,
    namespace: opts.daemonNamespace,
    identity: opts.identity,
    addr: formatAddr({ host: addr.address, port: addr.port }),
  });

  return {
    metrics,
    pusher,
    address: formatAddr({ host: addr.address, port: addr.port }),
    async stop() {
      await elector.stop();
      pusher.stop();
      await Promise.all([pods.stop(), daemons.stop()]);
      client.close();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
    },
  };
}

/** CLI entry: run until SIGTERM/SIGINT; resolves to the exit code. */
export async function runWatcher(opts: WatcherOptions): Promise<number> {
  const logger = createLogger({ format: opts.logFormat, level: opts.logLevel, component: 'watcher' });
  const handle = await startWatcher(opts, logger);
  await new Promise<void>((resolve) => {
    const done = (): void => resolve();
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
  logger.info('stopping');
  await handle.stop();
  return 0;
}
