/**
 * Kubernetes mode of the real daemon, against real cgroups and real TCP
 * traffic: `lightfoot run --control-addr` with pods pushed as a watcher would.
 *
 * The "pods" are cgroup v2 directories this test creates the way the kubelet
 * (cgroupfs driver) and runc lay them out on this host, below a private
 * --kube-cgroup-root so that a real kubelet's /kubepods is never touched:
 *   <v2 mount>/lft<pid>/kubepods/besteffort/pod<uid>/<container id>   (server, BestEffort)
 *   <v2 mount>/lft<pid>/kubepods/pod<uid>/<container id>              (client, Guaranteed)
 * The workloads move themselves into those cgroups before exec, as a
 * container's processes are. No Kubernetes component runs here: the tier 1/2
 * cluster tests (issue 10b) drive the same API from the real watcher.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { eventually, startDaemon, type Daemon } from '../helpers/daemon';
import { buildWorkloads } from '../helpers/workloads';
import { cleanup, spawnWorkload, startServer, type WorkloadHandle } from '../helpers/process';
import { sumOf, type Sample } from '../helpers/prom';
import { needsRoot, sleep } from './kernel-test-env';
import { findCgroup2Mount } from '../../runtime/targets/cgroup';

const TOKEN = 'kube-test-token-' + 'f'.repeat(24);
const NODE = 'node-under-test';
const ROOT = `/lft${process.pid}`;
const SRV = { uid: '0a1b2c3d-0000-4000-8000-00000000000a', id: 'a'.repeat(63) + '1', ns: 'shop', pod: 'server-0', container: 'srv', app: 'backend' };
const CLI = { uid: '0a1b2c3d-0000-4000-8000-00000000000b', id: 'b'.repeat(63) + '2', ns: 'shop', pod: 'client-0', container: 'cli', app: 'frontend' };

let bin = '';
let mount = '';
let tmp = '';
const cgroupDir = (p: typeof SRV, qos: string): string => path.join(mount, ROOT, 'kubepods', qos, `pod${p.uid}`, p.id);
let srvDir = '';
let cliDir = '';

before(async () => {
  if (needsRoot) return;
  bin = (await buildWorkloads()).tcpWorkload;
  mount = findCgroup2Mount(fs.readFileSync('/proc/self/mountinfo', 'utf8'))!.mountPoint;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-kube-'));
  fs.writeFileSync(path.join(tmp, 'token'), TOKEN + '\n');
  srvDir = cgroupDir(SRV, 'besteffort');
  cliDir = cgroupDir(CLI, ''); // Guaranteed: directly under kubepods
  fs.mkdirSync(srvDir, { recursive: true });
  fs.mkdirSync(cliDir, { recursive: true });
});

after(async () => {
  await cleanup.run();
  if (needsRoot) return;
  // Empty cgroups only: every workload has exited by now. Deepest first.
  const all: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    all.push(d);
  };
  for (const base of [path.join(mount, ROOT), path.join(mount, `${ROOT.slice(1)}.slice`)]) if (fs.existsSync(base)) walk(base);
  for (const d of all) fs.rmdirSync(d);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A workload that joins `dir` (cgroup.procs) before exec, like a container's process. */
function inCgroup(dir: string, args: string[]): [string, string[]] {
  return ['/bin/sh', ['-c', `echo $$ > "${dir}/cgroup.procs" && exec "$0" "$@"`, bin, ...args]];
}

function desired(seq: number, pods: (typeof SRV)[], epoch = 1) {
  return {
    version: `${epoch}.${seq}`,
    epoch,
    seq,
    node: NODE,
    pods: pods.map((p) => ({ uid: p.uid, namespace: p.ns, name: p.pod, labels: { app: p.app, team: 'x' }, containers: [{ name: p.container, id: `containerd://${p.id}` }] })),
  };
}

interface Api {
  url: string;
  /** token null: no Authorization header. */
  put(body: unknown, token?: string | null): Promise<{ status: number; json: any }>;
  get(p: string, token?: string | null): Promise<{ status: number; json: any }>;
}

function api(d: Daemon): Api {
  const ready = d.logs.find((l) => (l.msg ?? l.message) === 'lightfoot ready')!;
  const url = String(ready.control);
  const hdr = (t: string | null): Record<string, string> => (t === null ? {} : { authorization: `Bearer ${t}` });
  return {
    url,
    async put(body, token: string | null = TOKEN) {
      const r = await fetch(`${url}/v1/desired-state`, { method: 'PUT', headers: { 'content-type': 'application/json', ...hdr(token) }, body: typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: r.status, json: await r.json() };
    },
    async get(p, token: string | null = TOKEN) {
      const r = await fetch(`${url}${p}`, { headers: hdr(token) });
      const text = await r.text();
      return { status: r.status, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
    },
  };
}

const byPod = (s: Sample[], name: string, pod: string, extra: Record<string, string> = {}) => sumOf(s, name, { namespace: 'shop', pod, ...extra });

async function runClient(port: number, conns: number, bytes: number): Promise<WorkloadHandle> {
  const [cmd, args] = inCgroup(cliDir, ['client', '--host', '127.0.0.1', '--port', String(port), '--conns', String(conns), '--bytes', String(bytes), '--reply-bytes', '100']);
  const c = spawnWorkload(cmd, args);
  await c.waitForLine(/^DONE /);
  await c.waitExit(10_000);
  return c;
}

test('pushed pods are selected by cgroup, counted exactly with pod labels, detached on removal; bad requests change nothing', { skip: needsRoot }, async () => {
  const K = 4, B = 5_000;
  const exportDir = path.join(tmp, 'export');
  const [scmd, sargs] = inCgroup(srvDir, ['server', '--port', '0']);
  const srv = await startServer(scmd, sargs);
  const d = await startDaemon([
    '--control-addr', '127.0.0.1:0', '--control-token-file', path.join(tmp, 'token'), '--node-name', NODE,
    '--kube-cgroup-root', ROOT, '--pod-label', 'app', '--flush-interval-ms', '60000', '--rescan-interval-ms', '200',
    '--log-format', 'cloud', '--export-dir', exportDir, '--export-max-bytes', '8KiB', '--export-max-files', '1000',
  ]);
  try {
    const a = api(d);
    assert.equal((await a.get('/healthz', null)).status, 200);
    assert.equal((await a.get('/readyz', null)).status, 200);
    assert.deepEqual((await a.get('/v1/desired-state')).json, { applied: null, version: null, node: NODE, pods: [] });

    // Before any push nothing is selected: this traffic is not counted.
    await runClient(srv.port, 1, 1000);

    // Refused pushes change nothing: no token, a wrong one, a bad body, another node.
    assert.equal((await a.put(desired(1, [SRV, CLI]), null)).status, 401);
    assert.equal((await a.put(desired(1, [SRV, CLI]), 'wrong-token-0000000000000')).status, 401);
    const bad = await a.put({ ...desired(1, [SRV, CLI]), pods: [{ ...desired(1, [SRV]).pods[0], uid: '../../../x' }] });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /^pods\[0\]\.uid:/);
    assert.equal((await a.put({ ...desired(1, [SRV, CLI]), node: 'other-node' })).status, 409);
    assert.deepEqual((await a.get('/v1/targets')).json, []);

    // Attach both pods. The client's processes start after the push: covered by the cgroup.
    const ok = await a.put(desired(1, [SRV, CLI]));
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { applied: { epoch: 1, seq: 1 }, pods: 2, unresolved: [] });
    const targets = (await a.get('/v1/targets')).json as any[];
    const srvT = targets.find((t) => t.pod === SRV.pod).containers[0];
    assert.deepEqual([srvT.attached, srvT.error, srvT.cgroup], [true, null, `${ROOT}/kubepods/besteffort/pod${SRV.uid}/${SRV.id}`]);
    assert.equal(srvT.cgroupId, String(fs.statSync(srvDir, { bigint: true }).ino));
    await eventually(async () => ((await a.get('/v1/targets')).json as any[]).find((t) => t.pod === SRV.pod).containers[0].pids.includes(srv.handle.pid), 3000);
    assert.equal(targets.find((t) => t.pod === CLI.pod).containers[0].cgroup, `${ROOT}/kubepods/pod${CLI.uid}/${CLI.id}`);

    await runClient(srv.port, K, B);
    const wire = K * (8 + B);
    await eventually(async () => byPod(await d.scrape(), 'lightfoot_tcp_connections_closed_total', CLI.pod) >= K, 10_000);
    await sleep(300);
    let s = await d.scrape();
    assert.equal(byPod(s, 'lightfoot_tcp_bytes_sent_total', CLI.pod, { container: CLI.container, label_app: CLI.app }), wire);
    assert.equal(byPod(s, 'lightfoot_tcp_bytes_received_total', CLI.pod), K * 100);
    assert.equal(byPod(s, 'lightfoot_tcp_bytes_received_total', SRV.pod, { container: SRV.container, label_app: SRV.app }), wire, 'the pre-push connection is not counted');
    assert.equal(byPod(s, 'lightfoot_tcp_connections_opened_total', SRV.pod), K);
    // pid is off by default in Kubernetes mode; the label set is the documented one.
    const series = s.filter((x) => x.name === 'lightfoot_tcp_bytes_sent_total' && x.labels.pod === CLI.pod);
    assert.deepEqual(Object.keys(series[0]!.labels).sort(), ['comm', 'container', 'label_app', 'namespace', 'peer', 'pod', 'port', 'role']);

    // Event lines carry the pod identity and Cloud Logging's fields.
    const closes = d.events.filter((e) => e.event === 'close' && e.pod === CLI.pod);
    assert.equal(closes.length, K);
    for (const e of closes) {
      assert.deepEqual([e.namespace, e.container, (e.podLabels as any).app, e.severity, e.message], ['shop', CLI.container, CLI.app, 'INFO', 'tcp close']);
      assert.deepEqual((e['logging.googleapis.com/labels'] as any).pod, CLI.pod);
    }

    // Stale and repeated versions change nothing; a fuzzed burst neither.
    assert.equal((await a.put(desired(0, []))).status, 409);
    assert.equal((await a.put(desired(1, []))).status, 200, 'same (epoch, seq): idempotent, not applied again');
    for (const junk of ['', '{', '[]', 'null', '{"pods":5}', JSON.stringify({ ...desired(9, []), epoch: -1 }), 'x'.repeat(2 * 1024 * 1024)]) {
      const r = await a.put(junk);
      assert.ok([400, 413].includes(r.status), `${r.status} for ${junk.slice(0, 20)}`);
    }
    assert.equal(((await a.get('/v1/targets')).json as any[]).length, 2);

    // Remove the client pod: new connections from its cgroup are no longer counted.
    assert.equal((await a.put(desired(2, [SRV]))).status, 200);
    assert.deepEqual(((await a.get('/v1/targets')).json as any[]).map((t) => t.pod), [SRV.pod]);
    await runClient(srv.port, 2, 777);
    await eventually(async () => byPod(await d.scrape(), 'lightfoot_tcp_connections_closed_total', SRV.pod) >= K + 2, 10_000);
    await sleep(300);
    s = await d.scrape();
    assert.equal(byPod(s, 'lightfoot_tcp_bytes_sent_total', CLI.pod), wire, 'detached: the client pod is not counted again');
    assert.equal(byPod(s, 'lightfoot_tcp_bytes_received_total', SRV.pod), wire + 2 * (8 + 777), 'the server pod still is');
    assert.equal(sumOf(s, 'lightfoot_kube_containers', { state: 'attached' }), 1);
    assert.equal(sumOf(s, 'lightfoot_control_requests_total', { code: '401' }), 2);

    // Remove the server pod too. Its listener was marked while it was selected and
    // the kernel copies that mark into every accepted connection: those must not be
    // claimed any more (the owner is re-checked against the allow-lists at accept).
    assert.equal((await a.put(desired(3, []))).status, 200);
    await runClient(srv.port, 2, 555);
    await sleep(500);
    s = await d.scrape();
    assert.equal(byPod(s, 'lightfoot_tcp_connections_opened_total', SRV.pod), K + 2, 'detached: the server pod accepts uncounted');
    assert.equal(byPod(s, 'lightfoot_tcp_bytes_received_total', SRV.pod), wire + 2 * (8 + 777));
    assert.equal(sumOf(s, 'lightfoot_kube_containers', { state: 'attached' }), 0);
  } finally {
    assert.equal(await d.stop(), 0);
  }
  await srv.handle.kill();

  // The exported files hold every event line of stdout, each one JSON object with the Cloud Logging fields.
  const files = fs.readdirSync(exportDir);
  assert.ok(files.filter((f) => f.startsWith('events.log.')).length >= 1, `rotated: ${files.join(' ')}`);
  const lines = files.filter((f) => f.startsWith('events.log')).flatMap((f) => fs.readFileSync(path.join(exportDir, f), 'utf8').split('\n').filter((l) => l !== ''));
  const recs = lines.map((l) => JSON.parse(l) as Record<string, any>);
  for (const r of recs) for (const k of ['severity', 'time', 'message', 'logging.googleapis.com/labels']) assert.ok(k in r, `${k} in ${JSON.stringify(r)}`);
  const key = (e: Record<string, unknown>) => `${e.connection}/${e.event}/${e.state}`;
  assert.deepEqual(recs.map(key).sort(), d.events.map(key).sort(), 'nothing lost across rotations');
  const diag = files.filter((f) => f.startsWith('lightfoot.log')).flatMap((f) => fs.readFileSync(path.join(exportDir, f), 'utf8').split('\n').filter((l) => l !== ''));
  assert.ok(diag.map((l) => JSON.parse(l)).some((r) => r.message === 'desired state applied' && r.severity === 'INFO'));
});

test('a container whose cgroup appears later is attached on rescan; its process started before is counted', { skip: needsRoot }, async () => {
  const late = { ...SRV, uid: '0a1b2c3d-0000-4000-8000-00000000000c', id: 'c'.repeat(63) + '3', pod: 'late-0' };
  const d = await startDaemon(['--control-addr', '127.0.0.1:0', '--control-token-file', path.join(tmp, 'token'), '--node-name', NODE, '--kube-cgroup-root', ROOT, '--rescan-interval-ms', '200', '--flush-interval-ms', '60000']);
  try {
    const a = api(d);
    const r = await a.put(desired(1, [late]));
    assert.equal(r.status, 200);
    assert.equal(r.json.unresolved.length, 1);
    assert.match(r.json.unresolved[0].reason, /no cgroup directory .* yet/);
    // The runtime creates the cgroup (systemd driver naming this time) and starts the process.
    const dir = path.join(mount, `${ROOT.slice(1)}.slice`, `${ROOT.slice(1)}-kubepods.slice`, `${ROOT.slice(1)}-kubepods-burstable.slice`, `${ROOT.slice(1)}-kubepods-burstable-pod${late.uid.replace(/-/g, '_')}.slice`, `cri-containerd-${late.id}.scope`);
    fs.mkdirSync(dir, { recursive: true });
    const [scmd, sargs] = inCgroup(dir, ['server', '--port', '0']);
    const srv = await startServer(scmd, sargs);
    await eventually(async () => ((await a.get('/v1/targets')).json as any[])[0].containers[0].attached === true, 5000);
    await runClient(srv.port, 3, 1234); // the client is not selected; the server is
    await eventually(async () => byPod(await d.scrape(), 'lightfoot_tcp_connections_closed_total', 'late-0') >= 3, 10_000);
    await sleep(300);
    assert.equal(byPod(await d.scrape(), 'lightfoot_tcp_bytes_received_total', 'late-0', { container: late.container }), 3 * (8 + 1234));
    await srv.handle.kill();
  } finally {
    assert.equal(await d.stop(), 0);
  }
});
