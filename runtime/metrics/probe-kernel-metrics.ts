/**
 * A probe's in-kernel counters (per-CPU stats map), read at scrape time.
 * Exposed so users can check conservation: events emitted by the kernel equal
 * events the host decoded, and every ring-buffer drop is counted.
 */
import { Counter, type Registry } from 'prom-client';
import { MonotonicTracker } from './self-metrics';

export type KernelStatReader = () => Record<string, bigint>;

interface Source {
  probe: string;
  read: KernelStatReader;
  onRead?: (stats: Record<string, bigint>) => void;
}

/** One family per registry; every probe module adds its reader to it. */
const families = new WeakMap<Registry, Source[]>();

/**
 * `onRead` sees every reading, so other metrics derived from the same counters
 * (lost events) are current in the same scrape: register this one first, as
 * prom-client collects in registration order (`probeKernelMetrics(registry)`
 * with no reader creates the family and adds nothing).
 */
export function probeKernelMetrics(
  registry: Registry,
  probe?: string,
  read?: KernelStatReader,
  onRead?: (stats: Record<string, bigint>) => void,
): void {
  let sources = families.get(registry);
  if (!sources) {
    const list: Source[] = [];
    sources = list;
    families.set(registry, list);
    const tracker = new MonotonicTracker();
    new Counter({
      name: 'lightfoot_probe_kernel_events_total',
      help: 'Counters kept by the probe inside the kernel: emitted, dropped (ring buffer full), tracked (connections), filtered (outside the selection), map_full; per probe module (docs/metrics.md).',
      labelNames: ['probe', 'stat'] as const,
      registers: [registry],
      collect() {
        for (const src of list) {
          try {
            const stats = src.read();
            src.onRead?.(stats);
            for (const [stat, total] of Object.entries(stats)) {
              const delta = tracker.advance(`${src.probe}/${stat}`, Number(total));
              this.inc({ probe: src.probe, stat }, delta > 0 ? delta : 0);
            }
          } catch {
            // A closed object at shutdown must not break the scrape.
          }
        }
      },
    });
  }
  if (probe !== undefined && read !== undefined) sources.push({ probe, read, ...(onRead ? { onRead } : {}) });
}
