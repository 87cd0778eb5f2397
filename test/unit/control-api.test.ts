// The control API server on loopback with a recording target: token checks,
// size and schema limits with messages that name the field, versioning, and a
// fuzz run of malformed and oversized requests that must never change state.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { nullLogger } from '../../runtime/log/logger';
import { BearerToken } from '../../runtime/control/token';
import { DesiredStateStore, type DesiredStateTarget } from '../../runtime/control/desired-state-store';
import { startControlServer, type ControlServer } from '../../runtime/control/server';
import type { DesiredPod, Unresolved } from '../../runtime/targets/pod-targets';
import { ConfigError } from '../../runtime/errors';

const TOKEN = 'test-token-0123456789abcdef';
const ID = 'c'.repeat(64);
const UID = '11111111-2222-3333-4444-555555555555';

class RecordingTarget implements DesiredStateTarget {
  updates: DesiredPod[][] = [];
  update(pods: readonly DesiredPod[]): Unresolved[] {
    this.updates.push([...pods]);
    return [];
  }
  unresolved(): Unresolved[] {
    return [];
  }
}

let dir = '';
let server: ControlServer;
let base = '';
let target: RecordingTarget;
let store: DesiredStateStore;
let ready = false;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-ctl-'));
  fs.writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`);
  target = new RecordingTarget();
  store = new DesiredStateStore('node-a', target);
  server = await startControlServer({
    host: '127.0.0.1',
    port: 0,
    token: new BearerToken(path.join(dir, 'token')),
    store,
    targets: () => [],
    ready: () => ready,
    logger: nullLogger,
  });
  base = `http://127.0.0.1:${server.address.port}`;
});
after(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${TOKEN}` };
const body = (epoch: number, seq: number, pods: unknown[] = [], node = 'node-a') => ({ version: `${epoch}.${seq}`, epoch, seq, node, pods });
const okPod = { uid: UID, namespace: 'shop', name: 'web-0', labels: { app: 'web', 'app.kubernetes.io/name': 'web' }, containers: [{ name: 'app', id: `containerd://${ID}` }] };

async function put(b: unknown, headers: Record<string, string> = auth) {
  const res = await fetch(`${base}/v1/desired-state`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: typeof b === 'string' ? b : JSON.stringify(b) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test('health and readiness need no token; readiness follows the daemon', async () => {
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 503);
  ready = true;
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
});

test('no token, a wrong one, or another scheme: 401 and nothing changes', async () => {
  const before = target.updates.length;
  for (const h of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-0123456789abc' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { authorization: 'Bearer' }]) {
    const r = await put(body(1, 1, [okPod]), h);
    assert.equal(r.status, 401, JSON.stringify(h));
    assert.match(String(r.json.error), /bearer token/);
    const g = await fetch(`${base}/v1/targets`, { headers: h });
    assert.equal(g.status, 401);
    assert.equal(g.headers.get('www-authenticate'), 'Bearer realm="lightfoot"');
  }
  assert.equal(target.updates.length, before);
  assert.equal(((await (await fetch(`${base}/v1/desired-state`, { headers: auth })).json()) as { applied: unknown }).applied, null);
});

test('versioned and idempotent: apply, repeat, stale, newer, other node', async () => {
  const n0 = target.updates.length;
  let r = await put(body(1, 5, [okPod]));
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { applied: { epoch: 1, seq: 5 }, pods: 1, unresolved: [] });
  assert.equal(target.updates.length, n0 + 1);
  r = await put(body(1, 5, [okPod]));
  assert.equal(r.status, 200);
  assert.equal(target.updates.length, n0 + 1, 'same (epoch, seq): no change');
  r = await put(body(1, 4, []));
  assert.equal(r.status, 409);
  assert.deepEqual(r.json.applied, { epoch: 1, seq: 5 });
  r = await put(body(0, 99, []));
  assert.equal(r.status, 409, 'a lower epoch is older whatever its seq');
  r = await put(body(1, 6, [], 'node-b'));
  assert.equal(r.status, 409);
  assert.match(String(r.json.error), /node-a/);
  assert.equal(target.updates.length, n0 + 1);
  r = await put(body(2, 0, []));
  assert.equal(r.status, 200, 'a new epoch (watcher restart) restarts seq');
  assert.deepEqual(target.updates.at(-1), []);
  const view = (await (await fetch(`${base}/v1/desired-state`, { headers: auth })).json()) as Record<string, unknown>;
  assert.deepEqual(view, { applied: { epoch: 2, seq: 0 }, version: '2.0', node: 'node-a', pods: [] });
});

const BAD: [string, unknown, RegExp][] = [
  ['not JSON', '{"version":', /not JSON/],
  ['an array', [], /body: must be object/],
  ['missing node', { version: '1', epoch: 1, seq: 1, pods: [] }, /^node: required/],
  ['negative seq', { ...body(9, 9), seq: -1 }, /^seq: must be >= 0/],
  ['fractional epoch', { ...body(9, 9), epoch: 1.5 }, /^epoch: must be integer/],
  ['unknown field', { ...body(9, 9), extra: 1 }, /^extra: unknown field/],
  ['bad uid (path traversal)', body(9, 9, [{ ...okPod, uid: '../../etc' }]), /^pods\[0\]\.uid: must be a pod uid/],
  ['bad container id', body(9, 9, [{ ...okPod, containers: [{ name: 'app', id: 'containerd://../..' }] }]), /^pods\[0\]\.containers\[0\]\.id: must be "containerd:\/\/<64 hex>"/],
  ['bad label key', body(9, 9, [{ ...okPod, labels: { 'bad key': 'x' } }]), /^pods\[0\]\.labels: label key "bad key"/],
  ['bad label value', body(9, 9, [{ ...okPod, labels: { app: 'a b' } }]), /^pods\[0\]\.labels\.app: must be a Kubernetes label value/],
  ['bad namespace', body(9, 9, [{ ...okPod, namespace: 'Shop' }]), /^pods\[0\]\.namespace: must be a DNS label/],
  ['container without name', body(9, 9, [{ ...okPod, containers: [{ id: '' }] }]), /^pods\[0\]\.containers\[0\]\.name: required/],
  ['duplicate pod', body(9, 9, [okPod, okPod]), /^pods\[1\]\.uid: .* listed twice/],
  ['duplicate container', body(9, 9, [{ ...okPod, containers: [okPod.containers[0], okPod.containers[0]] }]), /^pods\[0\]\.containers\[1\]\.name: .* listed twice/],
];

test('schema errors: 400 naming the field, state unchanged', async () => {
  const n0 = target.updates.length;
  const applied = store.view().applied;
  for (const [what, b, re] of BAD) {
    const r = await put(b);
    assert.equal(r.status, 400, what);
    assert.match(String(r.json.error), re, what);
  }
  assert.equal(target.updates.length, n0);
  assert.deepEqual(store.view().applied, applied);
});

test('oversized bodies get 413 (declared or streamed), wrong types 415, unknown routes 404, methods 405', async () => {
  const n0 = target.updates.length;
  const big = JSON.stringify({ ...body(50, 0), pad: 'x'.repeat(1024 * 1024 + 10) });
  assert.equal((await put(big)).status, 413);
  // Chunked, no content-length: counted while reading.
  const raw = await rawRequest(`PUT /v1/desired-state HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n` + `100000\r\n${'x'.repeat(0x100000)}\r\n10\r\n${'y'.repeat(16)}\r\n0\r\n\r\n`);
  assert.match(raw, /^HTTP\/1\.1 413/);
  const t = await fetch(`${base}/v1/desired-state`, { method: 'PUT', headers: { ...auth, 'content-type': 'text/plain' }, body: '{}' });
  assert.equal(t.status, 415);
  assert.equal((await fetch(`${base}/v2/anything`, { headers: auth })).status, 404);
  const m = await fetch(`${base}/v1/targets`, { method: 'DELETE', headers: auth });
  assert.equal(m.status, 405);
  assert.equal(m.headers.get('allow'), 'GET');
  assert.equal(target.updates.length, n0);
});

function rawRequest(text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(server.address.port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    s.end(text);
  });
}

test('fuzz: malformed JSON, hostile values and raw garbage never change state or kill the server', async () => {
  const applied = store.view().applied;
  const n0 = target.updates.length;
  const stale = { ...body(0, 0), pods: [] };
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.json().map((j) => j),
        fc.string({ maxLength: 200 }),
        // Shapes close to valid, with anything in each field; epoch 0 stays stale if it passes validation.
        fc.record({ version: fc.anything(), epoch: fc.constantFrom(0, -1, 1e300, '1', null), seq: fc.anything(), node: fc.anything(), pods: fc.anything() }).map((o) => JSON.stringify(o)),
        fc.array(fc.record({ uid: fc.string(), namespace: fc.string(), name: fc.string(), containers: fc.anything(), labels: fc.anything() }), { maxLength: 5 }).map((pods) => JSON.stringify({ ...stale, pods })),
      ),
      async (text) => {
        const r = await put(text as string);
        assert.ok([400, 409].includes(r.status), `status ${r.status} for ${String(text).slice(0, 200)}`);
        assert.equal(typeof r.json.error, 'string');
      },
    ),
    { numRuns: 300 },
  );
  for (let i = 0; i < 30; i++) {
    const junk = Buffer.from(Array.from({ length: 1 + ((i * 37) % 300) }, (_, j) => (i * 131 + j * 17) % 256)).toString('latin1');
    await rawRequest(i % 2 ? junk : `PUT /v1/desired-state HTTP/1.1\r\n${junk}\r\n\r\n`);
  }
  assert.equal((await fetch(`${base}/healthz`)).status, 200, 'still serving');
  assert.deepEqual(store.view().applied, applied);
  assert.equal(target.updates.length, n0);
});

test('token files that are missing or too short are refused at start', () => {
  assert.throws(() => new BearerToken(path.join(dir, 'nope')), (e) => e instanceof ConfigError && /--control-token-file/.test(e.message));
  fs.writeFileSync(path.join(dir, 'short'), 'abc\n');
  assert.throws(() => new BearerToken(path.join(dir, 'short')), /at least 16 bytes/);
});

test('a rotated token file is picked up; the old token stops working', async () => {
  const f = path.join(dir, 'rot');
  fs.writeFileSync(f, 'first-token-0123456789');
  let now = 0;
  const t = new BearerToken(f, () => now);
  assert.equal(t.accepts('Bearer first-token-0123456789'), true);
  fs.writeFileSync(f, 'second-token-0123456789abc');
  now += 1500;
  assert.equal(t.accepts('Bearer first-token-0123456789'), false);
  assert.equal(t.accepts('Bearer second-token-0123456789abc'), true);
});
