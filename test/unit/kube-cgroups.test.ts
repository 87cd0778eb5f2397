// Pod → cgroup naming for every kubelet driver, QoS class and runtime, against
// paths as they appear in /proc/PID/cgroup on real nodes (v1 controller lines
// and the v2 "0::" line; the layout below the hierarchy root is the same).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  containerCgroupCandidates,
  kubeletCgroupPath,
  parseContainerId,
  parseKubeCgroupPath,
  podCgroupPath,
} from '../../runtime/targets/kube-cgroups';

const ID = '3b1f5c2d9e8a7f6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b';
const UID = '0f6c2a8e-5b1d-4c3a-9e7f-1a2b3c4d5e6f';
const UID_ = UID.replace(/-/g, '_');

// [description, cgroup path from a real node, expected]
const SAMPLES: [string, string, ReturnType<typeof parseKubeCgroupPath>][] = [
  // cgroupfs driver (this host: v1 lines and the 0:: line alike)
  ['cgroupfs containerd BestEffort (v1 line)', `/kubepods/besteffort/pod${UID}/${ID}`, { podUid: UID, qos: 'besteffort', driver: 'cgroupfs', containerId: ID }],
  ['cgroupfs containerd Burstable', `/kubepods/burstable/pod${UID}/${ID}`, { podUid: UID, qos: 'burstable', driver: 'cgroupfs', containerId: ID }],
  ['cgroupfs containerd Guaranteed', `/kubepods/pod${UID}/${ID}`, { podUid: UID, qos: 'guaranteed', driver: 'cgroupfs', containerId: ID }],
  ['cgroupfs CRI-O Burstable', `/kubepods/burstable/pod${UID}/crio-${ID}`, { podUid: UID, qos: 'burstable', driver: 'cgroupfs', containerId: ID, runtime: 'cri-o' }],
  ['cgroupfs Docker / cri-dockerd Guaranteed', `/kubepods/pod${UID}/${ID}`, { podUid: UID, qos: 'guaranteed', driver: 'cgroupfs', containerId: ID }],
  ['cgroupfs kubelet --cgroup-root=/kubelet (kind)', `/kubelet/kubepods/besteffort/pod${UID}/${ID}`, { podUid: UID, qos: 'besteffort', driver: 'cgroupfs', containerId: ID }],
  ['cgroupfs pod directory only', `/kubepods/burstable/pod${UID}`, { podUid: UID, qos: 'burstable', driver: 'cgroupfs' }],
  // systemd driver (cgroup v2 on GKE/COS, EKS AL2023, OpenShift; v1 on older distros)
  ['systemd containerd Burstable (v2)', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`, { podUid: UID, qos: 'burstable', driver: 'systemd', containerId: ID, runtime: 'containerd' }],
  ['systemd containerd BestEffort', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`, { podUid: UID, qos: 'besteffort', driver: 'systemd', containerId: ID, runtime: 'containerd' }],
  ['systemd containerd Guaranteed', `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`, { podUid: UID, qos: 'guaranteed', driver: 'systemd', containerId: ID, runtime: 'containerd' }],
  ['systemd CRI-O Burstable (OpenShift)', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope`, { podUid: UID, qos: 'burstable', driver: 'systemd', containerId: ID, runtime: 'cri-o' }],
  ['systemd Docker / cri-dockerd BestEffort', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/docker-${ID}.scope`, { podUid: UID, qos: 'besteffort', driver: 'systemd', containerId: ID, runtime: 'docker' }],
  ['systemd nested root (kind: /kubelet.slice)', `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`, { podUid: UID, qos: 'besteffort', driver: 'systemd', containerId: ID, runtime: 'containerd' }],
  ['systemd v2 seen from a private cgroup namespace', `/../../kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`, { podUid: UID, qos: 'burstable', driver: 'systemd', containerId: ID, runtime: 'containerd' }],
  // not containers
  ['CRI-O conmon is not the container', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-conmon-${ID}.scope`, undefined],
  ['a systemd service', '/system.slice/containerd.service', undefined],
  ['plain docker outside Kubernetes', `/docker/${ID}`, undefined],
  ['root', '/', undefined],
  ['a "pod" directory not under kubepods', `/user.slice/pod${UID}/${ID}`, undefined],
];

for (const [what, p, expected] of SAMPLES) {
  test(`parseKubeCgroupPath: ${what}`, () => assert.deepEqual(parseKubeCgroupPath(p), expected));
}

test('every sample container path is among the candidates for its pod and id', () => {
  for (const [what, p, expected] of SAMPLES) {
    if (!expected?.containerId || p.startsWith('/../') || p.startsWith('/kubelet')) continue;
    for (const runtime of ['containerd', 'cri-o', 'docker'] as const) {
      assert.ok(containerCgroupCandidates(UID, { runtime, id: ID }).includes(p), `${what} (${runtime}): ${p}`);
    }
  }
  // A kubelet --cgroup-root shifts every candidate.
  assert.ok(containerCgroupCandidates(UID, { runtime: 'containerd', id: ID }, '/kubelet').includes(`/kubelet/kubepods/besteffort/pod${UID}/${ID}`));
  assert.ok(
    containerCgroupCandidates(UID, { runtime: 'containerd', id: ID }, '/kubelet.slice').includes(
      `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    ),
  );
});

test('the runtime named in the container id is tried first', () => {
  assert.equal(containerCgroupCandidates(UID, { runtime: 'cri-o', id: ID })[0], `/kubepods/pod${UID}/crio-${ID}`);
  assert.equal(containerCgroupCandidates(UID, { runtime: 'containerd', id: ID })[0], `/kubepods/pod${UID}/${ID}`);
  const systemd = containerCgroupCandidates(UID, { runtime: 'docker', id: ID }).find((c) => c.endsWith('.scope'));
  assert.equal(systemd, `/kubepods.slice/kubepods-pod${UID_}.slice/docker-${ID}.scope`);
});

test('kubeletCgroupPath follows the kubelet: cgroupfs joins, systemd nests escaped slices', () => {
  assert.equal(kubeletCgroupPath('cgroupfs', ['kubepods', 'burstable', `pod${UID}`]), `/kubepods/burstable/pod${UID}`);
  assert.equal(kubeletCgroupPath('systemd', ['kubepods', 'burstable', `pod${UID}`]), `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`);
  assert.equal(kubeletCgroupPath('systemd', []), '/');
  assert.equal(podCgroupPath('systemd', 'guaranteed', UID), `/kubepods.slice/kubepods-pod${UID_}.slice`);
  assert.equal(podCgroupPath('cgroupfs', 'guaranteed', UID), `/kubepods/pod${UID}`);
});

test('parseContainerId: the runtimes kubelets report; anything else is refused', () => {
  assert.deepEqual(parseContainerId(`containerd://${ID}`), { runtime: 'containerd', id: ID });
  assert.deepEqual(parseContainerId(`cri-o://${ID}`), { runtime: 'cri-o', id: ID });
  assert.deepEqual(parseContainerId(`docker://${ID}`), { runtime: 'docker', id: ID });
  for (const bad of ['', ID, `containerd://${ID.slice(1)}`, `containerd://${ID.toUpperCase()}`, `rkt://${ID}`, `containerd://../../${ID}`]) {
    assert.equal(parseContainerId(bad), undefined, bad);
  }
});
