// One informer (client-node ListWatch: one LIST, then one WATCH resumed from
// its resourceVersion) whose cached objects are stripped in place, restarted
// with backoff after errors (API-server restarts, expired resourceVersions).

import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log/logger';

export interface StrippedInformerOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  path: string;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  labelSelector?: string;
  fieldSelector?: string;
  strip: (obj: T) => T;
  onUpsert: (obj: T) => void;
  onDelete: (obj: T) => void;
  onRestart: () => void;
  logger: Logger;
}

export class StrippedInformer<T extends KubernetesObject> {
  private readonly lw: ListWatch<T>;
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private synced = false;

  constructor(private readonly o: StrippedInformerOptions<T>) {
    const list = async (): Promise<{ items: T[]; metadata?: { resourceVersion?: string } }> => {
      const res = await o.list();
      for (const item of res.items) o.strip(item);
      return res;
    };
    // ListWatch keeps a reference to each object and passes the same one to the
    // handlers, so stripping in the handler shrinks the cached copy too.
    this.lw = new ListWatch<T>(o.path, new Watch(o.kc), list as never, false, o.labelSelector, o.fieldSelector);
    const upsert = (obj: T): void => {
      o.strip(obj);
      o.onUpsert(obj);
    };
    this.lw.on('add', upsert);
    this.lw.on('update', upsert);
    this.lw.on('delete', (obj: T) => o.onDelete(o.strip(obj)));
    this.lw.on('error', (err: unknown) => this.restartLater(err));
  }

  /** True once the first LIST has been applied (the cache is complete). */
  get isSynced(): boolean {
    return this.synced;
  }

  list(): readonly T[] {
    return this.lw.list();
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.lw.start();
    if (this.lw.latestResourceVersion() !== '') {
      this.synced = true;
      this.failures = 0;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.lw.stop();
  }

  private restartLater(err: unknown): void {
    if (this.stopped || this.timer) return;
    this.failures++;
    const delay = Math.min(10_000, 250 * 2 ** Math.min(this.failures - 1, 6));
    this.o.logger.warn('watch failed; restarting', { path: this.o.path, err: (err as Error)?.message ?? String(err), retryInMs: delay });
    this.o.onRestart();
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.start().catch((e: unknown) => this.restartLater(e));
    }, delay);
  }
}
