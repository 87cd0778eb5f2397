import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalSet, daemonEndpoint, desiredPod, namespaceSelected, stripPod, type SlimPod } from '../../runtime/watcher/pod-model';

const ID_A = 'containerd://' + 'a'.repeat(64);
const ID_B = 'containerd://' + 'b'.repeat(64);

/** A pod as the API server sends it (trimmed sample of a real kubelet-updated pod). */
function fullPod(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'shop',
      uid: '1f0c2a3e-0000-4000-8000-000000000001',
      resourceVersion: '4242',
      labels: { app: 'web', lightfoot: 'enable', 'pod-template-hash': 'abc' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(4000) },
      managedFields: [{ manager: 'kubelet', operation: 'Update', fieldsV1: { 'f:status': { big: 'x'.repeat(4000) } } }],
      ownerReferences: [{ kind: 'ReplicaSet', name: 'web-abc' }],
    },
    spec: {
      nodeName: 'node-a',
      containers: [{ name: 'app', image: 'web:1', env: [{ name: 'A', value: 'x'.repeat(1000) }], ports: [{ name: 'http', containerPort: 8080 }] }],
      volumes: [{ name: 'v', emptyDir: {} }],
    },
    status: {
      phase: 'Running',
      podIP: '10.1.0.5',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [
        { name: 'sidecar', containerID: ID_B, image: 'x', imageID: 'y', ready: true, restartCount: 2, state: { running: { startedAt: 't' } } },
        { name: 'app', containerID: ID_A, image: 'x', imageID: 'y', ready: true, restartCount: 0, state: { running: { startedAt: 't' } } },
      ],
    },
  };
}

test('stripPod keeps only what the watcher reads, in place, and is idempotent', () => {
  const p = fullPod();
  const before = JSON.stringify(p).length;
  const same = stripPod(p);
  assert.equal(same, p);
  assert.deepEqual(p, {
    metadata: { name: 'web-1', namespace: 'shop', uid: '1f0c2a3e-0000-4000-8000-000000000001', resourceVersion: '4242', labels: { app: 'web', lightfoot: 'enable', 'pod-template-hash': 'abc' } },
    spec: { nodeName: 'node-a' },
    status: { phase: 'Running', podIP: '10.1.0.5', containerStatuses: [{ name: 'sidecar', containerID: ID_B }, { name: 'app', containerID: ID_A }] },
  });
  assert.ok(JSON.stringify(p).length * 10 < before, "stripped pod is at least 10x smaller");
  assert.deepEqual(stripPod(structuredClone(p)), p);
});

test('stripPod keepPorts keeps the container ports of daemon pods', () => {
  const p = stripPod(fullPod(), { keepPorts: true }) as unknown as SlimPod;
  assert.deepEqual(p.spec, { nodeName: 'node-a', containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] });
});

test('desiredPod: chosen labels only, containers sorted, terminated and id-less containers left out', () => {
  const p = fullPod();
  (p.status as { containerStatuses: unknown[] }).containerStatuses.push(
    { name: 'init-done', containerID: 'containerd://' + 'c'.repeat(64), state: { terminated: { exitCode: 0 } } },
    { name: 'waiting', state: { waiting: { reason: 'ContainerCreating' } } },
  );
  const d = desiredPod(stripPod(p) as unknown as SlimPod, ['app', 'missing']);
  assert.deepEqual(d, {
    uid: '1f0c2a3e-0000-4000-8000-000000000001',
    namespace: 'shop',
    name: 'web-1',
    labels: { app: 'web' },
    containers: [{ name: 'app', id: ID_A }, { name: 'sidecar', id: ID_B }],
  });
});

test('desiredPod: unscheduled or finished pods are not desired', () => {
  const unscheduled = stripPod(fullPod()) as unknown as SlimPod;
  delete unscheduled.spec!.nodeName;
  assert.equal(desiredPod(unscheduled, []), null);
  for (const phase of ['Succeeded', 'Failed']) {
    const done = stripPod(fullPod()) as unknown as SlimPod;
    done.status!.phase = phase;
    assert.equal(desiredPod(done, []), null);
  }
});

test('namespace filters: exclude wins, empty include means all', () => {
  assert.equal(namespaceSelected('a', { include: [], exclude: [] }), true);
  assert.equal(namespaceSelected('a', { include: ['b'], exclude: [] }), false);
  assert.equal(namespaceSelected('b', { include: ['b'], exclude: [] }), true);
  assert.equal(namespaceSelected('kube-system', { include: [], exclude: ['kube-system'] }), false);
});

test('canonicalSet is independent of pod and label order', () => {
  const a = { uid: '1', namespace: 'n', name: 'a', labels: { x: '1', y: '2' }, containers: [] };
  const b = { uid: '2', namespace: 'n', name: 'b', labels: {}, containers: [{ name: 'c', id: ID_A }] };
  assert.equal(canonicalSet([a, b]), canonicalSet([b, { ...a, labels: { y: '2', x: '1' } }]));
  assert.notEqual(canonicalSet([a]), canonicalSet([a, b]));
});

test('daemonEndpoint: pod IP and the port named control', () => {
  const pod: SlimPod = {
    metadata: { name: 'lightfoot-daemon-x', namespace: 'lf' },
    spec: { nodeName: 'node-a', containers: [{ name: 'daemon', ports: [{ name: 'metrics', containerPort: 9464 }, { name: 'control', containerPort: 9470 }] }] },
    status: { podIP: '10.1.0.9', phase: 'Running' },
  };
  assert.deepEqual(daemonEndpoint(pod, 'http'), { node: 'node-a', url: 'http://10.1.0.9:9470', pod: 'lf/lightfoot-daemon-x' });
  assert.equal(daemonEndpoint({ ...pod, status: { podIP: 'fd00::9' } }, 'https')?.url, 'https://[fd00::9]:9470');
  assert.equal(daemonEndpoint({ ...pod, status: {} }, 'http'), null);
  assert.equal(daemonEndpoint(pod, 'http', 'other'), null);
});
