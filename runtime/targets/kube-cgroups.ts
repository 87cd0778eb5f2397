// Where the kubelet and the container runtimes put a pod's containers in the
// cgroup tree, for every combination lightfoot supports:
//
//   driver    QoS          pod directory (kubelet --cgroup-root "/")
//   cgroupfs  Guaranteed   /kubepods/pod<uid>
//   cgroupfs  Burstable    /kubepods/burstable/pod<uid>
//   cgroupfs  BestEffort   /kubepods/besteffort/pod<uid>
//   systemd   Guaranteed   /kubepods.slice/kubepods-pod<uid_>.slice
//   systemd   Burstable    /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice
//   systemd   BestEffort   /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice
//
// (<uid_>: the systemd driver escapes "-" as "_".) The container directory in
// it is named by the runtime:
//
//   runtime                 cgroupfs          systemd
//   containerd              <id>              cri-containerd-<id>.scope
//   CRI-O                   crio-<id>         crio-<id>.scope   (conmon: crio-conmon-<id>.scope, not the container)
//   Docker / cri-dockerd    <id>              docker-<id>.scope
//
// The layout is the same in every cgroup v1 controller and in the v2
// hierarchy, so one function serves both. Pure: no file system access here.

export type CgroupDriver = 'cgroupfs' | 'systemd';
export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';
export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker';

export const QOS_CLASSES: readonly QosClass[] = ['guaranteed', 'burstable', 'besteffort'];

export interface ContainerRef {
  runtime: ContainerRuntime;
  /** 64 lower-case hex digits. */
  id: string;
}

const CONTAINER_ID = /^(containerd|cri-o|docker):\/\/([0-9a-f]{64})$/;

/**
 * A pod status containerID ("containerd://<64 hex>"; cri-dockerd reports
 * "docker://"), or undefined when it is not one.
 */
export function parseContainerId(text: string): ContainerRef | undefined {
  const m = CONTAINER_ID.exec(text);
  return m ? { runtime: m[1] as ContainerRuntime, id: m[2]! } : undefined;
}

/** The kubelet's systemd escaping of one cgroup name component ("-" is the slice separator). */
const systemdEscape = (part: string): string => part.replace(/-/g, '_');

/**
 * The kubelet's cgroup name (a list of components) as a path, as
 * pkg/kubelet/cm/cgroup_manager_linux.go does: cgroupfs joins them; systemd
 * turns each prefix into a slice: [kubepods, burstable] →
 * /kubepods.slice/kubepods-burstable.slice.
 */
export function kubeletCgroupPath(driver: CgroupDriver, components: readonly string[]): string {
  if (components.length === 0) return '/';
  if (driver === 'cgroupfs') return '/' + components.join('/');
  let prefix = '';
  const out: string[] = [];
  for (const c of components) {
    prefix = prefix === '' ? systemdEscape(c) : `${prefix}-${systemdEscape(c)}`;
    out.push(`${prefix}.slice`);
  }
  return '/' + out.join('/');
}

/** "/kubelet" or "kubelet.slice" style --cgroup-root values → name components. */
export function cgroupRootComponents(root: string): string[] {
  return root
    .split('/')
    .filter((p) => p !== '')
    .map((p) => p.replace(/\.slice$/, ''))
    .flatMap((p, i, all) => {
      // A systemd root is written as nested slices ("kubelet.slice/kubelet-x.slice"): keep the last word only.
      const prev = all[i - 1];
      return prev !== undefined && p.startsWith(`${prev}-`) ? [p.slice(prev.length + 1)] : [p];
    });
}

/** The pod's directory for one driver and QoS class, relative to a hierarchy's root. */
export function podCgroupPath(driver: CgroupDriver, qos: QosClass, podUid: string, cgroupRoot = '/'): string {
  const parts = [...cgroupRootComponents(cgroupRoot), 'kubepods'];
  if (qos !== 'guaranteed') parts.push(qos);
  parts.push(`pod${podUid}`);
  return kubeletCgroupPath(driver, parts);
}

/** Names a runtime gives a container's directory under the pod's, most likely first. */
export function containerDirNames(driver: CgroupDriver, ref: ContainerRef): string[] {
  const { id } = ref;
  if (driver === 'cgroupfs') return ref.runtime === 'cri-o' ? [`crio-${id}`, id] : [id, `crio-${id}`];
  const byRuntime: Record<ContainerRuntime, string> = {
    containerd: `cri-containerd-${id}.scope`,
    'cri-o': `crio-${id}.scope`,
    docker: `docker-${id}.scope`,
  };
  const first = byRuntime[ref.runtime];
  return [first, ...Object.values(byRuntime).filter((n) => n !== first)];
}

/**
 * Every place the container's directory can be, relative to a hierarchy's
 * root: both drivers, the three QoS classes, the runtime's naming first.
 */
export function containerCgroupCandidates(podUid: string, ref: ContainerRef, cgroupRoot = '/'): string[] {
  const out: string[] = [];
  for (const driver of ['cgroupfs', 'systemd'] as const) {
    for (const qos of QOS_CLASSES) {
      const pod = podCgroupPath(driver, qos, podUid, cgroupRoot);
      for (const name of containerDirNames(driver, ref)) out.push(`${pod}/${name}`);
    }
  }
  return out;
}

export interface KubeCgroupPath {
  podUid: string;
  qos: QosClass;
  driver: CgroupDriver;
  /** Absent for the pod's own directory (or a sandbox-less path). */
  containerId?: string;
  /** Known only from systemd scope names and CRI-O's cgroupfs prefix. */
  runtime?: ContainerRuntime;
}

const SYSTEMD_POD = /^(?:[A-Za-z0-9_]+-)*kubepods-(?:(burstable|besteffort)-)?pod([0-9a-f_]{8,64})\.slice$/;
const CGROUPFS_POD = /^pod([0-9a-f-]{8,64})$/;
const CONTAINER_DIR = /^(?:(cri-containerd|crio|docker)-)?([0-9a-f]{64})(\.scope)?$/;
const RUNTIME_OF: Record<string, ContainerRuntime> = { 'cri-containerd': 'containerd', crio: 'cri-o', docker: 'docker' };

/**
 * The pod and container of a cgroup path (a /proc/PID/cgroup line's path, v1
 * or v2), or undefined when it is not under a kubelet's pods. CRI-O's conmon
 * scope ("crio-conmon-<id>.scope") is not the container and gives undefined.
 *
 * @example
 * parseKubeCgroupPath('/kubepods/burstable/pod0f6c…/3b1f…')
 * // { podUid: '0f6c…', qos: 'burstable', driver: 'cgroupfs', containerId: '3b1f…' }
 */
export function parseKubeCgroupPath(cgroupPath: string): KubeCgroupPath | undefined {
  const parts = cgroupPath.split('/').filter((p) => p !== '');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    let pod: { uid: string; qos: QosClass; driver: CgroupDriver } | undefined;
    const s = SYSTEMD_POD.exec(part);
    if (s) pod = { uid: s[2]!.replace(/_/g, '-'), qos: (s[1] as QosClass | undefined) ?? 'guaranteed', driver: 'systemd' };
    const c = !s && CGROUPFS_POD.exec(part);
    if (c) {
      const parent = parts[i - 1];
      const grand = parts[i - 2];
      let qos: QosClass | undefined;
      if (parent === 'kubepods') qos = 'guaranteed';
      else if ((parent === 'burstable' || parent === 'besteffort') && grand === 'kubepods') qos = parent;
      if (qos) pod = { uid: c[1]!, qos, driver: 'cgroupfs' };
    }
    if (!pod) continue;
    const out: KubeCgroupPath = { podUid: pod.uid, qos: pod.qos, driver: pod.driver };
    const child = parts[i + 1];
    if (child === undefined) return out;
    const m = CONTAINER_DIR.exec(child);
    if (!m) return undefined; // e.g. crio-conmon-<id>.scope
    if ((pod.driver === 'systemd') !== (m[3] === '.scope')) return undefined;
    out.containerId = m[2]!;
    if (m[1]) out.runtime = RUNTIME_OF[m[1]]!;
    return out;
  }
  return undefined;
}
