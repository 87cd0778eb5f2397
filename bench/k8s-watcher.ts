/**
 * Watcher scale benchmark against the real test kube-apiserver (test/k8s):
 * N selected pods spread over 100 fake nodes; the watcher's resident memory
 * once its cache holds them all, and the API requests it made (from the
 * API server's own apiserver_request_total, by verb, for the pods resource).
 *
 *   node dist/bench/k8s-watcher.js 1000 10000
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ADMIN_KUBECONFIG, clusterUp, ensureNamespace, eventually, kubeClients, startWatcher } from '../test/k8s/kube';
import { parseMetrics, sumOf } from '../test/helpers/prom';

async function apiRequests(kc: ReturnType<typeof kubeClients>['kc']): Promise<Record<string, number>> {
  const opts = await kc.applyToFetchOptions({});
  const res = await fetch('https://127.0.0.1:6443/metrics', { headers: opts.headers as Record<string, string>, dispatcher: undefined } as RequestInit);
  const s = parseMetrics(await res.text());
  const out: Record<string, number> = {};
  for (const verb of ['LIST', 'WATCH', 'GET']) out[verb] = sumOf(s, 'apiserver_request_total', { resource: 'pods', verb });
  return out;
}

async function main(): Promise<void> {
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // metrics scrape of the local test API server only
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  clusterUp('up-api');
  const { core, kc } = kubeClients();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-bench-'));
  fs.writeFileSync(path.join(tmp, 'token'), 'bench\n');
  for (const n of sizes.length ? sizes : [1000]) {
    const ns = `bench-${n}-${Date.now().toString(36)}`;
    await ensureNamespace(core, ns);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        await core.createNamespacedPod({
          namespace: ns,
          body: {
            metadata: { name: `p${i}`, labels: { lightfoot: 'enable', app: `app-${i % 50}` }, annotations: { note: 'x'.repeat(200) } },
            spec: { nodeName: `node-${i % 100}`, automountServiceAccountToken: false, containers: [{ name: 'app', image: 'lightfoot:test', env: [{ name: 'A', value: 'y'.repeat(200) }] }] },
          },
        });
      }
    };
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 16 }, worker));
    const before = await apiRequests(kc);
    const w = await startWatcher(['--kubeconfig', ADMIN_KUBECONFIG, '--namespace', ns, '--daemon-namespace', ns, '--token-file', path.join(tmp, 'token'), '--pod-label', 'app', '--lease-name', `l-${n}`]);
    const t1 = Date.now();
    await eventually('all pods cached', async () => sumOf(parseMetrics(await w.metrics()), 'lightfoot_watcher_pods_selected') === n || undefined, 300_000, 200);
    const syncMs = Date.now() - t1;
    await new Promise((r) => setTimeout(r, 3000)); // settle, then one GC-independent reading
    const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${w.proc.pid}/status`, 'utf8'))![1]) / 1024;
    const heap = sumOf(parseMetrics(await w.metrics()), 'lightfoot_watcher_nodejs_heap_size_used_bytes') / 2 ** 20;
    const after = await apiRequests(kc);
    await w.stop();
    const d = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]!]));
    console.log(
      `watcher pods=${n} nodes=100 created_in_s=${((t1 - t0) / 1000).toFixed(1)} cache_sync_ms=${syncMs} rss_mib=${rss.toFixed(1)} heap_used_mib=${heap.toFixed(1)} api_pods_LIST=${d.LIST} api_pods_WATCH=${d.WATCH} api_pods_GET=${d.GET}`,
    );
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
