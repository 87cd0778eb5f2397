// The daemon's applied desired state: versioned by (epoch, seq), idempotent,
// replaced as a whole. A push is applied synchronously (no await between the
// version check and the update), so concurrent requests cannot interleave.

import type { DesiredState } from './desired-state';
import type { DesiredPod, Unresolved } from '../targets/pod-targets';

export interface AppliedVersion {
  epoch: number;
  seq: number;
}

export type ApplyResult =
  | { status: 200; changed: boolean; body: { applied: AppliedVersion; pods: number; unresolved: Unresolved[] } }
  | { status: 409; body: { error: string; applied: AppliedVersion | null; node?: string } };

export interface DesiredStateTarget {
  /** Make these pods the selection; returns what could not be attached yet. */
  update(pods: readonly DesiredPod[]): Unresolved[];
  unresolved(): Unresolved[];
}

const compare = (a: AppliedVersion, b: AppliedVersion): number => (a.epoch !== b.epoch ? a.epoch - b.epoch : a.seq - b.seq);

export class DesiredStateStore {
  #applied: (AppliedVersion & { version: string }) | null = null;
  #pods: DesiredPod[] = [];

  constructor(
    readonly node: string,
    private readonly target: DesiredStateTarget,
  ) {}

  apply(state: DesiredState): ApplyResult {
    if (state.node !== this.node) {
      return {
        status: 409,
        body: { error: `this daemon runs on node ${JSON.stringify(this.node)}, the desired state is for ${JSON.stringify(state.node)}`, applied: this.#version(), node: this.node },
      };
    }
    const v = { epoch: state.epoch, seq: state.seq };
    const cur = this.#applied;
    if (cur !== null) {
      const order = compare(v, cur);
      if (order < 0) {
        return {
          status: 409,
          body: { error: `stale desired state (epoch ${v.epoch}, seq ${v.seq}): (epoch ${cur.epoch}, seq ${cur.seq}) is applied`, applied: this.#version() },
        };
      }
      if (order === 0) {
        return { status: 200, changed: false, body: { applied: this.#version()!, pods: this.#pods.length, unresolved: this.target.unresolved() } };
      }
    }
    const unresolved = this.target.update(state.pods);
    this.#applied = { ...v, version: state.version };
    this.#pods = state.pods;
    return { status: 200, changed: true, body: { applied: { ...v }, pods: state.pods.length, unresolved } };
  }

  #version(): AppliedVersion | null {
    return this.#applied === null ? null : { epoch: this.#applied.epoch, seq: this.#applied.seq };
  }

  /** GET /v1/desired-state. */
  view(): { applied: AppliedVersion | null; version: string | null; node: string; pods: DesiredPod[] } {
    return { applied: this.#version(), version: this.#applied?.version ?? null, node: this.node, pods: this.#pods };
  }
}
