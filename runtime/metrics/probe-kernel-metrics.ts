/**
 * A probe's in-kernel counters (per-CPU stats map), read at scrape time.
 * Exposed so users can check conservation: events emitted by the kernel equal
 * events the host decoded, and every ring-buffer drop is counted.
 */
import { Counter, type Registry } from 'prom-client';
import { MonotonicTracker } from './self-metrics';

export type KernelStatReader = () => Record<string, bigint>;

/**
 * `onRead` sees every reading, so other metrics derived from the same counters
 * (lost events) are current in the same scrape: register this one first, as
 * prom-client collects in registration order.
 */
export function probeKernelMetrics(
  registry: Registry,
  probe: string,
  read: KernelStatReader,
  onRead?: (stats: Record<string, bigint>) => void,
): void {
  const tracker = new MonotonicTracker();
  new Counter({
    name: 'lightfoot_probe_kernel_events_total',
    help: 'Counters kept by the probe inside the kernel: emitted, dropped (ring buffer full), tracked (connections), filtered (outside the selection), map_full.',
    labelNames: ['probe', 'stat'] as const,
    registers: [registry],
    collect() {
      try {
        const stats = read();
        onRead?.(stats);
        for (const [stat, total] of Object.entries(stats)) {
          const delta = tracker.advance(`${probe}/${stat}`, Number(total));
          if (delta > 0) this.inc({ probe, stat }, delta);
          else this.inc({ probe, stat }, 0);
        }
      } catch {
        // A closed object at shutdown must not break the scrape.
      }
    },
  });
}
