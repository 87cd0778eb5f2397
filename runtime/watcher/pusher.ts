// Pushes each node's complete desired set to its daemon: versioned by
// (epoch, seq), one request in flight per node, exponential backoff on
// failure, and a periodic resync that re-pushes to daemons whose applied
// version differs (a restarted daemon reports null).

import type { Logger } from '../log/logger';
import { DaemonClient, compareVersion, type PushResult, type Version } from './daemon-client';
import type { WatcherMetrics } from './metrics';
import { canonicalSet, type DesiredPod } from './pod-model';

export interface PusherOptions {
  client: DaemonClient;
  metrics: WatcherMetrics;
  logger: Logger;
  resyncIntervalMs: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
}

interface NodeState {
  node: string;
  url: string | null;
  pods: DesiredPod[];
  canonical: string;
  version: Version;
  /** Set when the daemon acknowledged `version`. */
  acked: Version | null;
  dirty: boolean;
  inFlight: boolean;
  /** Earliest unacknowledged event that changed this node's set (ms). */
  pendingSince: number | null;
  failures: number;
  retryTimer: NodeJS.Timeout | null;
  /** The daemon answered 409 with a newer version: wait for a change or resync. */
  fenced: boolean;
}

export class Pusher {
  private readonly nodes = new Map<string, NodeState>();
  private active = false;
  private epoch = 0;
  private seq = 0;
  private resyncTimer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly backoffMin: number;
  private readonly backoffMax: number;

  constructor(private readonly o: PusherOptions) {
    this.now = o.now ?? Date.now;
    this.backoffMin = o.backoffMinMs ?? 200;
    this.backoffMax = o.backoffMaxMs ?? 10_000;
  }

  /** Start (leader, with the Lease's epoch) or stop pushing. */
  setActive(active: boolean, epoch = this.epoch): void {
    if (active && (!this.active || epoch !== this.epoch)) {
      this.active = true;
      this.epoch = epoch;
      this.seq = 0;
      for (const st of this.nodes.values()) {
        st.version = this.nextVersion();
        st.acked = null;
        st.fenced = false;
        st.failures = 0;
        this.markDirty(st);
      }
      this.startResync();
    } else if (!active && this.active) {
      this.active = false;
      this.stopTimers();
    }
  }

  /** The node's complete desired set changed (or may have): push if it did. */
  setDesired(node: string, pods: DesiredPod[], eventAt: number): void {
    const st = this.state(node);
    const canonical = canonicalSet(pods);
    if (canonical === st.canonical) return;
    st.pods = pods;
    st.canonical = canonical;
    st.version = this.nextVersion();
    st.pendingSince ??= eventAt;
    st.fenced = false;
    this.markDirty(st);
  }

  /** Where the node's daemon listens (null: none known). A new address gets a push. */
  setEndpoint(node: string, url: string | null): void {
    const st = this.state(node);
    if (st.url === url) return;
    st.url = url;
    st.acked = null;
    st.failures = 0;
    if (url !== null) this.markDirty(st);
  }

  /** Drop a node that has neither daemon nor pods. */
  forget(node: string): void {
    const st = this.nodes.get(node);
    if (st && st.url === null && st.pods.length === 0) {
      if (st.retryTimer) clearTimeout(st.retryTimer);
      this.nodes.delete(node);
    }
  }

  /** For tests and /debug: what each node should have and what it acknowledged. */
  snapshot(): Array<{ node: string; url: string | null; pods: number; version: Version; acked: Version | null }> {
    return [...this.nodes.values()].map((s) => ({ node: s.node, url: s.url, pods: s.pods.length, version: s.version, acked: s.acked }));
  }

  stop(): void {
    this.active = false;
    this.stopTimers();
  }

  private state(node: string): NodeState {
    let st = this.nodes.get(node);
    if (!st) {
      st = {
        node,
        url: null,
        pods: [],
        canonical: '[]',
        version: this.nextVersion(),
        acked: null,
        dirty: false,
        inFlight: false,
        pendingSince: null,
        failures: 0,
        retryTimer: null,
        fenced: false,
      };
      this.nodes.set(node, st);
    }
    return st;
  }

  private nextVersion(): Version {
    return { epoch: this.epoch, seq: ++this.seq };
  }

  private markDirty(st: NodeState): void {
    st.dirty = true;
    if (st.retryTimer) {
      clearTimeout(st.retryTimer);
      st.retryTimer = null;
    }
    this.kick(st);
  }

  private kick(st: NodeState): void {
    if (!this.active || st.inFlight || !st.dirty || st.url === null || st.retryTimer || st.fenced) return;
    st.inFlight = true;
    st.dirty = false;
    void this.pushOnce(st).finally(() => {
      st.inFlight = false;
      this.kick(st);
    });
  }

  private async pushOnce(st: NodeState): Promise<void> {
    const url = st.url!;
    const version = st.version;
    const body = { version: `${version.epoch}.${version.seq}`, epoch: version.epoch, seq: version.seq, node: st.node, pods: st.pods };
    const res: PushResult = await this.o.client.push(url, body);
    if (!this.active || st.url !== url) return;
    this.o.metrics.pushes.inc({ result: res.kind });
    if (res.kind === 'applied') {
      st.failures = 0;
      st.acked = version;
      if (compareVersion(version, st.version) === 0 && st.pendingSince !== null) {
        this.o.metrics.lag.observe((this.now() - st.pendingSince) / 1000);
        st.pendingSince = null;
      }
      if (res.unresolved > 0) this.o.logger.debug('daemon has unresolved containers', { node: st.node, unresolved: res.unresolved });
      return;
    }
    if (res.kind === 'conflict') {
      const newer = res.applied !== null && compareVersion(res.applied, version) > 0;
      this.o.metrics.pushFailures.inc({ reason: newer ? 'conflict' : 'node_mismatch' });
      this.o.logger.warn(newer ? 'daemon holds a newer desired state (another leader?)' : 'daemon refused the push', {
        node: st.node,
        url,
        message: res.message,
        applied: res.applied,
        ours: version,
      });
      if (newer) {
        // Fenced by a newer leader's epoch: pushing again would loop. A later change or resync clears it.
        st.fenced = true;
        return;
      }
      this.retryLater(st);
      return;
    }
    const reason = res.status === null ? 'unreachable' : res.status === 401 || res.status === 403 ? 'unauthorized' : 'rejected';
    this.o.metrics.pushFailures.inc({ reason });
    this.o.logger.warn('push to daemon failed; retrying with backoff', { node: st.node, url, reason, message: res.message, attempt: st.failures + 1 });
    this.retryLater(st);
  }

  private retryLater(st: NodeState): void {
    st.failures++;
    st.dirty = true;
    const base = Math.min(this.backoffMax, this.backoffMin * 2 ** (st.failures - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    st.retryTimer = setTimeout(() => {
      st.retryTimer = null;
      this.kick(st);
    }, delay);
    st.retryTimer.unref?.();
  }

  private startResync(): void {
    if (this.resyncTimer) return;
    this.resyncTimer = setInterval(() => void this.resync(), this.o.resyncIntervalMs);
    this.resyncTimer.unref?.();
  }

  /** Ask every daemon what it applied; re-push where it differs (restart, missed update). */
  private async resync(): Promise<void> {
    await Promise.all(
      [...this.nodes.values()].map(async (st) => {
        if (!this.active || st.url === null || st.inFlight || st.retryTimer) return;
        try {
          const applied = await this.o.client.applied(st.url);
          if (applied === null || compareVersion(applied, st.version) !== 0) {
            if (applied === null || compareVersion(applied, st.version) < 0) st.fenced = false;
            if (!st.fenced) {
              this.o.logger.info('resync: daemon state differs, pushing again', { node: st.node, applied, ours: st.version });
              this.markDirty(st);
            }
          }
        } catch (err) {
          this.o.logger.debug('resync: daemon not reachable', { node: st.node, err: (err as Error).message });
          if (!st.dirty) this.markDirty(st);
        }
      }),
    );
  }

  private stopTimers(): void {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = null;
    for (const st of this.nodes.values()) {
      if (st.retryTimer) clearTimeout(st.retryTimer);
      st.retryTimer = null;
    }
  }
}
