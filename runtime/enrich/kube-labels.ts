// Kubernetes identity on decoder output, without knowing any protocol:
//
// - metrics: a decoder family that declares a `pid` label (the process that
//   owns the connection) is exposed with `namespace`, `pod`, `container` and
//   one `label_<key>` per configured pod label (kube-state-metrics naming),
//   filled from the pod that pid belongs to; `pid` itself can be dropped
//   (it churns and multiplies series);
// - event lines: a line about a `connection` gets the same identity as
//   fields (`namespace`, `pod`, `container`, `podLabels`).
//
// Processes outside every desired pod get empty values (Prometheus treats an
// empty label as absent).

import type { SeriesLabeler } from '../decoders/metric-registry';
import type { WorkloadIdentity } from '../targets/pod-targets';

export const IDENTITY_LABELS = ['namespace', 'pod', 'container'] as const;

/** Where identities come from (runtime/daemon/kubernetes.ts joins OwnerTable and PodTargets). */
export interface IdentitySource {
  ofPid(pid: number): WorkloadIdentity | undefined;
  ofConnection(cookie: bigint): WorkloadIdentity | undefined;
}

/** A pod label key as a Prometheus label name: "app.kubernetes.io/name" → "label_app_kubernetes_io_name". */
export function podLabelName(key: string): string {
  return 'label_' + key.replace(/[^A-Za-z0-9_]/g, '_');
}

export interface KubeSeriesLabelerOptions {
  identities: IdentitySource;
  /** Pod label keys carried on metrics (--pod-label). */
  podLabelKeys: readonly string[];
  /** Drop the `pid` label (--no-pid-label). */
  dropPid: boolean;
}

export class KubeSeriesLabeler implements SeriesLabeler {
  readonly #ids: IdentitySource;
  readonly #keys: { key: string; name: string }[];
  readonly #dropPid: boolean;

  constructor(opts: KubeSeriesLabelerOptions) {
    this.#ids = opts.identities;
    const names = new Set<string>();
    this.#keys = [];
    for (const key of opts.podLabelKeys) {
      const name = podLabelName(key);
      if (names.has(name)) continue; // two keys that sanitise alike: the first wins
      names.add(name);
      this.#keys.push({ key, name });
    }
    this.#dropPid = opts.dropPid;
  }

  /** The label names added to a family (after its declared ones). */
  get addedLabels(): string[] {
    return [...IDENTITY_LABELS, ...this.#keys.map((k) => k.name)];
  }

  forFamily(declared: readonly string[]): ReturnType<SeriesLabeler['forFamily']> {
    if (!declared.includes('pid')) return undefined;
    const added = this.addedLabels;
    // A decoder that declares one of these names itself keeps its own meaning.
    if (added.some((n) => declared.includes(n))) return undefined;
    const kept = this.#dropPid ? declared.filter((l) => l !== 'pid') : [...declared];
    const keys = this.#keys;
    const ids = this.#ids;
    const dropPid = this.#dropPid;
    return {
      labelNames: [...kept, ...added],
      relabel(labels: Record<string, string>): Record<string, string> {
        const pid = Number(labels.pid);
        const id = Number.isInteger(pid) && pid > 0 ? ids.ofPid(pid) : undefined;
        const out: Record<string, string> = {};
        for (const l of kept) out[l] = labels[l]!;
        out.namespace = id?.namespace ?? '';
        out.pod = id?.pod ?? '';
        out.container = id?.container ?? '';
        for (const k of keys) out[k.name] = id?.labels[k.key] ?? '';
        if (dropPid) delete out.pid;
        return out;
      },
    };
  }
}
