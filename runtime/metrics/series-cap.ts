// Cardinality cap per metric family. Labels such as peer IP are unbounded; a
// scan or a busy server must not grow memory and scrape size without limit.
// Label sets beyond the cap are folded into one "_overflow_" series so sums
// over the family stay exact, and each refused set is counted once.

import { Counter, type Registry } from 'prom-client';

export const OVERFLOW_VALUE = '_overflow_';
export const SERIES_REFUSED_METRIC = 'lightfoot_metric_series_refused_total';

/**
 * Refused label sets are remembered so repeated updates of one set count once.
 * This memory is bounded too: past this many, it is cleared and a set refused
 * again is counted again (an over-count, never unbounded growth).
 */
const DEFAULT_MAX_REFUSED_TRACKED = 100_000;

/** The shared refused counter of a registry, created on first use. */
export function seriesRefusedCounter(registry: Registry): Counter<'metric'> {
  const existing = registry.getSingleMetric(SERIES_REFUSED_METRIC);
  if (existing) return existing as Counter<'metric'>;
  return new Counter({
    name: SERIES_REFUSED_METRIC,
    help: 'New label sets folded into the "_overflow_" series because the metric reached --max-series.',
    labelNames: ['metric'] as const,
    registers: [registry],
  });
}

export interface SeriesCapOptions {
  /** Family name, used as the `metric` label of the refused counter. */
  metric: string;
  maxSeries: number;
  refused: Counter<'metric'>;
  maxRefusedTracked?: number;
}

export class SeriesCap<L extends string> {
  readonly #labelNames: readonly L[];
  readonly #max: number;
  readonly #metric: string;
  readonly #refused: Counter<'metric'>;
  readonly #maxRefusedTracked: number;
  readonly #seen = new Set<string>();
  #refusedKeys = new Set<string>();
  readonly #overflow: Record<L, string>;

  constructor(labelNames: readonly L[], options: SeriesCapOptions) {
    this.#labelNames = labelNames;
    this.#max = options.maxSeries;
    this.#metric = options.metric;
    this.#refused = options.refused;
    this.#maxRefusedTracked = options.maxRefusedTracked ?? DEFAULT_MAX_REFUSED_TRACKED;
    this.#overflow = Object.fromEntries(labelNames.map((n) => [n, OVERFLOW_VALUE])) as Record<L, string>;
  }

  /** The labels to record under: `labels` itself, or the overflow label set. */
  admit(labels: Record<L, string>): Record<L, string> {
    let key = '';
    for (const n of this.#labelNames) key += labels[n] + '\u0000';
    if (this.#seen.has(key)) return labels;
    if (this.#seen.size < this.#max) {
      this.#seen.add(key);
      return labels;
    }
    if (!this.#refusedKeys.has(key)) {
      if (this.#refusedKeys.size >= this.#maxRefusedTracked) this.#refusedKeys = new Set();
      this.#refusedKeys.add(key);
      this.#refused.inc({ metric: this.#metric });
    }
    return this.#overflow;
  }

  /** Distinct label sets admitted (the overflow series is not counted). */
  get size(): number {
    return this.#seen.size;
  }
}
