// Leader election on a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection does it: optimistic concurrency on resourceVersion, expiry
// judged by the local clock from when this replica last SAW the record change
// (no cross-node clock comparison). Each acquisition increments
// spec.leaseTransitions, which becomes the push epoch: a new leader's pushes
// always order after the old leader's, so daemons fence a stale leader (409).

import { CoordinationV1Api, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../log/logger';

export interface LeaderElectorOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewIntervalMs: number;
  logger: Logger;
  /** Called with the epoch on acquisition, and with null when leadership is lost. */
  onChange(epoch: number | null): void;
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: number; statusCode?: number };
  return e?.code ?? e?.statusCode;
}

export class LeaderElector {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private leading = false;
  /** Local time when the observed record last changed (holder or renewTime). */
  private observedAt = 0;
  private observedKey = '';
  /** Local time of this replica's last successful renewal. */
  private renewedAt = 0;

  constructor(private readonly o: LeaderElectorOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stop; a leader releases the Lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.leading) {
      this.setLeading(null);
      try {
        const lease = await this.o.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
        if (lease.spec?.holderIdentity === this.o.identity) {
          lease.spec.holderIdentity = undefined;
          lease.spec.leaseDurationSeconds = 1;
          await this.o.api.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: lease });
        }
      } catch (err) {
        this.o.logger.debug('lease release failed (it expires by itself)', { err: (err as Error).message });
      }
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.tryAcquireOrRenew();
    } catch (err) {
      this.o.logger.warn('lease update failed', { lease: `${this.o.namespace}/${this.o.name}`, err: (err as Error).message });
    }
    // A leader that could not renew for a whole lease duration steps down.
    if (this.leading && Date.now() - this.renewedAt > this.o.leaseDurationSeconds * 1000) {
      this.o.logger.warn('leadership lost: lease not renewed in time');
      this.setLeading(null);
    }
    this.schedule(this.o.renewIntervalMs);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { api, name, namespace, identity } = this.o;
    const now = new V1MicroTime();
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: { holderIdentity: identity, leaseDurationSeconds: this.o.leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      };
      try {
        await api.createNamespacedLease({ namespace, body });
      } catch (e) {
        if (statusOf(e) === 409) return; // another replica created it first
        throw e;
      }
      this.renewedAt = Date.now();
      this.setLeading(0);
      return;
    }
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ? new Date(spec.renewTime).getTime() : ''}|${spec.leaseTransitions ?? 0}`;
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAt = Date.now();
    }
    const holder = spec.holderIdentity ?? '';
    const duration = (spec.leaseDurationSeconds ?? this.o.leaseDurationSeconds) * 1000;
    const held = holder !== '' && holder !== identity && Date.now() < this.observedAt + duration;
    if (held) {
      if (this.leading) this.setLeading(null);
      return;
    }
    // Every acquisition (even by the same identity after stepping down) bumps
    // the epoch, so versions stay totally ordered across leaders.
    const acquiring = holder !== identity || !this.leading;
    const transitions = (spec.leaseTransitions ?? 0) + (acquiring ? 1 : 0);
    lease.spec = {
      holderIdentity: identity,
      leaseDurationSeconds: this.o.leaseDurationSeconds,
      acquireTime: acquiring ? now : spec.acquireTime,
      renewTime: now,
      leaseTransitions: transitions,
    };
    try {
      await api.replaceNamespacedLease({ name, namespace, body: lease });
    } catch (err) {
      if (statusOf(err) === 409) return; // lost the race; re-read next tick
      throw err;
    }
    this.renewedAt = Date.now();
    if (acquiring) this.setLeading(transitions);
  }

  private setLeading(epoch: number | null): void {
    if (this.stopped && epoch !== null) return; // a renewal still in flight when stop() ran
    const was = this.leading;
    this.leading = epoch !== null;
    if (epoch !== null) this.o.logger.info('became leader', { identity: this.o.identity, epoch });
    else if (was) this.o.logger.info('stepped down', { identity: this.o.identity });
    if (epoch !== null || was) this.o.onChange(epoch);
  }
}
