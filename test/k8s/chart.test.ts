/**
 * The Helm chart against the real helm and the real kube-apiserver:
 * lint and template with default and non-default values, schema refusals,
 * every rendered object accepted by the API server (server-side dry run),
 * the token kept across upgrades, and the watcher running under the chart's
 * ServiceAccount token with exactly the chart's RBAC.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseMetrics, sumOf } from '../helpers/prom';
import { ADMIN_KUBECONFIG, RUN_DIR, clusterDown, clusterUp, ensureNamespace, eventually, k8sSkipReason, kubeClients, startWatcher } from './kube';

const skip = k8sSkipReason();
const CHART = path.resolve(__dirname, '../../../charts/lightfoot');
const CACHE = process.env.LIGHTFOOT_K8S_CACHE ?? path.join(process.env.LIGHTFOOT_CACHE ?? '/var/cache/lightfoot', 'k8s');
const HELM = path.join(CACHE, 'bin', 'helm');

function run(cmd: string, args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', env: { ...process.env, KUBECONFIG: ADMIN_KUBECONFIG, HELM_CACHE_HOME: path.join(RUN_DIR, 'helm') } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const helm = (...args: string[]) => run(HELM, args);

const VALUE_SETS: Record<string, string[]> = {
  default: [],
  privileged: ['--set', 'daemon.privileged=true'],
  monitoring: ['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.podMonitoring.enabled=true', '--set', 'metrics.serviceMonitor.labels.release=prom'],
  custom: ['--set', 'daemon.hostNetwork=true', '--set', 'watcher.replicas=1', '--set', 'watcher.namespaces={a,b}', '--set', 'daemon.extraCapabilities={NET_ADMIN}', '--set', 'controlToken.existingSecret=my-token', '--set', 'grafana.dashboard.enabled=false', '--set', 'metrics.service.enabled=false'],
};

// Minimal CRDs so ServiceMonitor/PodMonitoring can be validated without the operators.
const CRDS = ['monitoring.coreos.com:ServiceMonitor:servicemonitors', 'monitoring.googleapis.com:PodMonitoring:podmonitorings'].map((s) => {
  const [group, kind, plural] = s.split(':');
  return JSON.stringify({
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `${plural}.${group}` },
    spec: { group, names: { kind, plural, singular: kind!.toLowerCase() }, scope: 'Namespaced',
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }] },
  });
});

describe('helm chart charts/lightfoot', { skip }, () => {
  let tmp: string;
  before(async () => {
    clusterDown(); // a fresh etcd: no objects of an earlier run
    clusterUp('up-api');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-chart-'));
    for (const crd of CRDS) assert.equal(run('kubectl', ['apply', '-f', '-'], crd).code, 0);
  });
  after(() => {
    if (!process.env.LIGHTFOOT_K8S_KEEP) clusterDown();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('helm lint passes with default and non-default values', () => {
    for (const [name, args] of Object.entries(VALUE_SETS)) {
      const r = helm('lint', '--strict', CHART, ...args);
      assert.equal(r.code, 0, `${name}: ${r.out}${r.err}`);
    }
  });

  it('the schema refuses bad values with a message naming them', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--set', 'daemon.extraCapabilities={SYS_ADMIN}'], /extraCapabilities/],
      [['--set', 'watcher.replicas=-1'], /replicas/],
      [['--set', 'daemon.seccompProfile=Off'], /seccompProfile/],
      [['--set', 'nope=1'], /nope/],
    ];
    for (const [args, re] of cases) {
      const r = helm('template', 'lightfoot', CHART, ...args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.err, re);
    }
  });

  it('every rendered object is accepted by the real API server (server-side dry run)', async () => {
    const { core } = kubeClients();
    await ensureNamespace(core, 'lightfoot');
    for (const [name, args] of Object.entries(VALUE_SETS)) {
      const t = helm('template', 'lightfoot', CHART, '--namespace', 'lightfoot', ...args);
      assert.equal(t.code, 0, t.err);
      const r = run('kubectl', ['apply', '--dry-run=server', '-n', 'lightfoot', '-f', '-'], t.out);
      assert.equal(r.code, 0, `${name}: ${r.err}`);
      if (name === 'default') {
        assert.match(t.out, /add:\n\s+# BPF[^\n]*\n\s+- BPF\n\s+# PERFMON[^\n]*\n\s+- PERFMON\n\s+# SYS_PTRACE[^\n]*\n\s+- SYS_PTRACE\n/);
        assert.match(t.out, /privileged: false/);
        assert.match(t.out, /checksum\/config: [0-9a-f]{64}/);
      }
    }
  });

  it('the generated token is kept across upgrades', () => {
    assert.equal(helm('install', 'lightfoot', CHART, '--namespace', 'lightfoot').code, 0);
    const get = () => run('kubectl', ['-n', 'lightfoot', 'get', 'secret', 'lightfoot-control-token', '-o', 'jsonpath={.data.token}']).out;
    const first = get();
    assert.equal(Buffer.from(first, 'base64').length, 48);
    const up = helm('upgrade', 'lightfoot', CHART, '--namespace', 'lightfoot', '--set', 'daemon.logLevel=debug');
    assert.equal(up.code, 0, up.err);
    assert.equal(get(), first);
  });

  it("the watcher runs under the chart's ServiceAccount with exactly the chart's RBAC", async () => {
    // The objects are installed by the previous test. A token for the watcher's ServiceAccount:
    const { core } = kubeClients();
    const tr = await core.createNamespacedServiceAccountToken({ name: 'lightfoot-watcher', namespace: 'lightfoot', body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds: 3600 } } });
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caFile: path.join(RUN_DIR, 'pki', 'ca.crt') }],
      users: [{ name: 'sa', token: tr.status!.token }],
      contexts: [{ name: 'c', cluster: 'c', user: 'sa' }],
      currentContext: 'c',
    });
    const kcFile = path.join(tmp, 'sa.kubeconfig');
    fs.writeFileSync(kcFile, kc.exportConfig());
    fs.writeFileSync(path.join(tmp, 'token'), 'x\n');
    const w = await startWatcher(['--kubeconfig', kcFile, '--token-file', path.join(tmp, 'token'), '--daemon-namespace', 'lightfoot', '--lease-name', 'lightfoot-watcher', '--lease-duration', '2', '--renew-interval-ms', '500']);
    try {
      await eventually('ready and leading under the ServiceAccount', async () => (await fetch(`${w.url}/readyz`)).ok && (await w.debugNodes()).leader || undefined, 15_000);
      const m = parseMetrics(await w.metrics());
      assert.equal(sumOf(m, 'lightfoot_watcher_watch_restarts_total'), 0, 'no watch failed (no 403)');
      assert.ok(!w.raw.some((l) => /forbidden|403/i.test(l)), w.raw.join('\n'));
      // And nothing more than that: the same identity may not read secrets or list nodes.
      const can = (verb: string, res: string, ns?: string) =>
        run('kubectl', ['auth', 'can-i', verb, res, '--as', 'system:serviceaccount:lightfoot:lightfoot-watcher', ...(ns ? ['-n', ns] : ['--all-namespaces'])]).out.trim();
      assert.deepEqual(
        [can('list', 'pods'), can('watch', 'pods'), can('get', 'leases', 'lightfoot'), can('update', 'leases', 'lightfoot'), can('create', 'leases', 'lightfoot')],
        ['yes', 'yes', 'yes', 'yes', 'yes'],
      );
      assert.deepEqual(
        [can('get', 'pods'), can('get', 'secrets', 'lightfoot'), can('list', 'nodes'), can('update', 'leases', 'default'), can('delete', 'leases', 'lightfoot'), can('patch', 'pods')],
        ['no', 'no', 'no', 'no', 'no', 'no'],
      );
    } finally {
      await w.stop();
    }
  });
});
