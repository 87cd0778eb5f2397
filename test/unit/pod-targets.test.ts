// PodTargets on a directory tree laid out like the kubelet's (a temporary
// directory stands for the hierarchy mount; mountinfo points at it): attach by
// cgroup id (v2) or by pid (v1-only host), retry until the runtime made the
// directory, detach on removal, and identities for labels.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PodTargets, podHierarchies, realPodCgroupFs, type DesiredPod, type PodCgroupFs, type PodSelection } from '../../runtime/targets/pod-targets';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);
const UID = '11111111-2222-3333-4444-555555555555';
const UID2 = '66666666-7777-8888-9999-000000000000';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tree(fsType: 'cgroup2' | 'cgroup' = 'cgroup2'): { root: string; cgfs: PodCgroupFs } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-pods-'));
  dirs.push(root);
  const mountinfo = `41 31 0:38 / ${root} rw,relatime shared:9 - ${fsType} ${fsType} rw${fsType === 'cgroup' ? ',pids' : ''}\n`;
  return { root, cgfs: { ...realPodCgroupFs, readMountInfo: () => mountinfo } };
}

function mk(root: string, rel: string, pids: number[] = []): bigint {
  const d = path.join(root, rel);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'cgroup.procs'), pids.map((p) => `${p}\n`).join(''));
  return fs.statSync(d, { bigint: true }).ino;
}

class FakeSelection implements PodSelection {
  cgroups = new Set<bigint>();
  tgids = new Set<number>();
  allowCgroup(id: bigint) {
    this.cgroups.add(id);
  }
  forgetCgroup(id: bigint) {
    return this.cgroups.delete(id);
  }
  allowTgid(pid: number) {
    this.tgids.add(pid);
  }
  forgetTgid(pid: number) {
    return this.tgids.delete(pid);
  }
}

const pod = (uid: string, containers: { name: string; id: string }[], labels: Record<string, string> = { app: 'web' }): DesiredPod => ({
  uid,
  namespace: 'shop',
  name: `web-${uid.slice(0, 4)}`,
  labels,
  containers,
});

test('v2: a container is selected by its cgroup id, with pids and identity', () => {
  const { root, cgfs } = tree();
  const ino = mk(root, `kubepods/besteffort/pod${UID}/${ID_A}`, [101, 102]);
  const sel = new FakeSelection();
  const pods = new PodTargets({ selection: sel, cgfs });
  assert.deepEqual(pods.update([pod(UID, [{ name: 'app', id: `containerd://${ID_A}` }])]), []);
  assert.deepEqual([...sel.cgroups], [ino]);
  assert.deepEqual(sel.tgids.size, 0);
  assert.deepEqual(pods.status(), [
    {
      uid: UID,
      namespace: 'shop',
      pod: 'web-1111',
      containers: [{ name: 'app', id: `containerd://${ID_A}`, cgroup: `/kubepods/besteffort/pod${UID}/${ID_A}`, cgroupId: String(ino), pids: [101, 102], attached: true, error: null }],
    },
  ]);
  assert.deepEqual(pods.identityOfCgroup(ino), { namespace: 'shop', pod: 'web-1111', podUid: UID, container: 'app', labels: { app: 'web' } });
  assert.equal(pods.identityOfPid(102)?.container, 'app');
});

test('a container whose cgroup does not exist yet is retried on rescan, then attached', () => {
  const { root, cgfs } = tree();
  const sel = new FakeSelection();
  const pods = new PodTargets({ selection: sel, cgfs });
  const unresolved = pods.update([pod(UID, [{ name: 'app', id: `cri-o://${ID_A}` }, { name: 'side', id: '' }])]);
  assert.deepEqual(unresolved.map((u) => [u.container, /yet/.test(u.reason)]), [['app', true], ['side', true]]);
  assert.equal(sel.cgroups.size, 0);
  // The runtime creates it later (systemd driver, CRI-O naming, Burstable).
  const ino = mk(root, `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/crio-${ID_A}.scope`, [7]);
  mk(root, `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/crio-conmon-${ID_A}.scope`, [6]);
  pods.rescan();
  assert.deepEqual([...sel.cgroups], [ino]);
  assert.deepEqual(pods.unresolved().map((u) => u.container), ['side']);
  assert.deepEqual(pods.status()[0]!.containers[0]!.pids, [7]);
});

test('removal from the desired state detaches; a container restart swaps the cgroup', () => {
  const { root, cgfs } = tree();
  const a = mk(root, `kubepods/pod${UID}/${ID_A}`);
  const b = mk(root, `kubepods/pod${UID}/${ID_B}`);
  const other = mk(root, `kubepods/burstable/pod${UID2}/${ID_B}`);
  const sel = new FakeSelection();
  const pods = new PodTargets({ selection: sel, cgfs, pinnedCgroups: [other] });
  pods.update([pod(UID, [{ name: 'app', id: `containerd://${ID_A}` }]), pod(UID2, [{ name: 'x', id: `containerd://${ID_B}` }])]);
  assert.deepEqual(new Set(sel.cgroups), new Set([a, other]));
  // Same container name, new id: the old cgroup is forgotten, the new one allowed.
  pods.update([pod(UID, [{ name: 'app', id: `containerd://${ID_B}` }])]);
  // `other` was also selected by --cgroup (pinned): it stays.
  assert.deepEqual(new Set(sel.cgroups), new Set([b, other]));
  // Identities of removed containers stay for late events, within the grace period.
  assert.equal(pods.identityOfCgroup(a)?.container, 'app');
  pods.update([]);
  assert.deepEqual([...sel.cgroups], [other]);
  assert.deepEqual(pods.status(), []);
});

test('a cgroup that disappears (container exited) is detached and reported', () => {
  const { root, cgfs } = tree();
  const ino = mk(root, `kubepods/besteffort/pod${UID}/${ID_A}`);
  const sel = new FakeSelection();
  const pods = new PodTargets({ selection: sel, cgfs });
  pods.update([pod(UID, [{ name: 'app', id: `containerd://${ID_A}` }])]);
  assert.deepEqual([...sel.cgroups], [ino]);
  fs.rmSync(path.join(root, `kubepods/besteffort/pod${UID}/${ID_A}`), { recursive: true });
  pods.rescan();
  assert.equal(sel.cgroups.size, 0);
  assert.match(pods.unresolved()[0]!.reason, /no (longer exists|cgroup directory)/);
});

test('v1-only host: the container processes are selected by pid at every rescan', () => {
  const { root, cgfs } = tree('cgroup');
  mk(root, `kubepods/burstable/pod${UID}/${ID_A}`, [200, 201]);
  const sel = new FakeSelection();
  const pods = new PodTargets({ selection: sel, cgfs });
  pods.update([pod(UID, [{ name: 'app', id: `docker://${ID_A}` }])]);
  assert.equal(sel.cgroups.size, 0);
  assert.deepEqual([...sel.tgids].sort(), [200, 201]);
  assert.equal(pods.status()[0]!.containers[0]!.cgroupId, null);
  // A process started later, one that exited.
  fs.writeFileSync(path.join(root, `kubepods/burstable/pod${UID}/${ID_A}/cgroup.procs`), '201\n202\n');
  pods.rescan();
  assert.deepEqual([...sel.tgids].sort(), [201, 202]);
  assert.equal(pods.identityOfPid(202)?.pod, 'web-1111');
  pods.update([]);
  assert.equal(sel.tgids.size, 0);
});

test('an unusual --cgroup-root is found by the bounded search', () => {
  const { root, cgfs } = tree();
  const ino = mk(root, `nested/node1/kubepods/besteffort/pod${UID}/${ID_A}`);
  const sel = new FakeSelection();
  const pods = new PodTargets({ selection: sel, cgfs });
  pods.update([pod(UID, [{ name: 'app', id: `containerd://${ID_A}` }])]);
  assert.deepEqual([...sel.cgroups], [ino]);
  // The configured root finds it directly.
  const sel2 = new FakeSelection();
  new PodTargets({ selection: sel2, cgfs, cgroupRoot: '/nested/node1' }).update([pod(UID, [{ name: 'app', id: `containerd://${ID_A}` }])]);
  assert.deepEqual([...sel2.cgroups], [ino]);
});

test('podHierarchies: every v2 mount (host first), else one v1 controller', () => {
  const hybrid = `35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n36 31 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n`;
  assert.deepEqual(podHierarchies(hybrid), [{ version: 2, mountPoint: '/sys/fs/cgroup/unified' }]);
  const v1 = `35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n36 31 0:33 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n`;
  assert.deepEqual(podHierarchies(v1), [{ version: 1, mountPoint: '/sys/fs/cgroup/pids' }]);
  const two = `29 23 0:26 / /host/sys/fs/cgroup rw - cgroup2 cgroup2 rw\n30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n`;
  assert.deepEqual(podHierarchies(two).map((h) => h.mountPoint), ['/sys/fs/cgroup', '/host/sys/fs/cgroup']);
  assert.deepEqual(podHierarchies(''), []);
});
