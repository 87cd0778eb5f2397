// lightfoot's own health: event throughput and loss, ring-buffer batching,
// BPF program cost, targets, disabled probe programs, and Node process metrics.
// Values owned by the kernel are read at scrape time in collect(), which never
// throws: a broken reader must not break the whole scrape.

import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { Logger } from '../log/logger';

export const metricNames = [
  'lightfoot_events_total',
  'lightfoot_events_lost_total',
  'lightfoot_ringbuf_batches_total',
  'lightfoot_ringbuf_batch_records',
  'lightfoot_bpf_program_run_seconds_total',
  'lightfoot_bpf_program_runs_total',
  'lightfoot_targets',
  'lightfoot_probe_programs_disabled',
] as const;

/** Kernel run statistics of one BPF program (needs BPF_ENABLE_STATS, else zeros). */
export interface ProgramStats {
  program: string;
  runTimeNs: number | bigint;
  runCount: number | bigint;
}

export interface SelfMetricsConfig {
  /** Read at scrape time; may throw, the error is logged at debug level. */
  programStats?: () => ProgramStats[];
  /** Read at scrape time. */
  targetCount?: () => number;
  /** Node process metrics with prefix "lightfoot_" (default true). */
  defaultMetrics?: boolean;
  logger?: Logger;
}

export interface SelfMetrics {
  /** Events decoded from the ring buffer. */
  events(probe: string, count: number): void;
  /**
   * Advance lost events to the kernel's absolute drop counter. Only the
   * increase since the previous call is added; a smaller total means the
   * kernel counter restarted (map re-created) and the whole total is added.
   */
  eventsLostTotal(probe: string, total: number | bigint): void;
  /** One ring-buffer read of `records` records. */
  ringbufBatch(probe: string, records: number): void;
  /** 1 when the kernel refused an optional program, 0 once it runs. */
  programDisabled(probe: string, program: string, disabled: boolean): void;
}

/**
 * Turns absolute kernel totals into counter increments. Counters stay
 * monotonic across kernel-side restarts, which rate() needs.
 */
export class MonotonicTracker {
  readonly #last = new Map<string, number>();
  /** Increment to apply for this new absolute total. */
  advance(key: string, total: number): number {
    const last = this.#last.get(key);
    this.#last.set(key, total);
    if (last === undefined || total < last) return total;
    return total - last;
  }
}

export const BATCH_RECORD_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/**
 * @example
 * const self = selfMetrics(registry, { targetCount: () => targets.size, programStats: () => loader.stats() });
 * self.events('tcp', batch.length);
 */
export function selfMetrics(registry: Registry, cfg: SelfMetricsConfig = {}): SelfMetrics {
  const registers = [registry];
  const log = cfg.logger;
  let warned = false;
  const safely = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      // Log once at debug level: a scrape every 15 s must not flood the log.
      if (!warned) log?.debug(`metrics: reading ${what} failed; keeping previous values`, { err });
      warned = true;
    }
  };

  const events = new Counter({
    name: 'lightfoot_events_total',
    help: 'Events read from the BPF ring buffer, by probe.',
    labelNames: ['probe'] as const,
    registers,
  });
  const lost = new Counter({
    name: 'lightfoot_events_lost_total',
    help: 'Events the kernel dropped (ring buffer full), by probe.',
    labelNames: ['probe'] as const,
    registers,
  });
  const batches = new Counter({
    name: 'lightfoot_ringbuf_batches_total',
    help: 'Ring-buffer reads, by probe.',
    labelNames: ['probe'] as const,
    registers,
  });
  const batchRecords = new Histogram({
    name: 'lightfoot_ringbuf_batch_records',
    help: 'Records per ring-buffer read.',
    labelNames: ['probe'] as const,
    buckets: BATCH_RECORD_BUCKETS,
    registers,
  });

  const runTracker = new MonotonicTracker();
  const countTracker = new MonotonicTracker();
  const runSeconds = new Counter({
    name: 'lightfoot_bpf_program_run_seconds_total',
    help: 'Time the kernel spent running each BPF program (zero unless kernel.bpf_stats_enabled).',
    labelNames: ['program'] as const,
    registers,
    collect() {
      const stats = cfg.programStats;
      if (!stats) return;
      safely('BPF program stats', () => {
        for (const s of stats()) {
          const ns = runTracker.advance(s.program, Number(s.runTimeNs));
          const runs = countTracker.advance(s.program, Number(s.runCount));
          this.inc({ program: s.program }, ns / 1e9);
          runsTotal.inc({ program: s.program }, runs);
        }
      });
    },
  });
  // Filled by runSeconds.collect(): one stats() call per scrape for both.
  // The registry collects metrics in registration order, so this comes after.
  const runsTotal = new Counter({
    name: 'lightfoot_bpf_program_runs_total',
    help: 'Runs of each BPF program (zero unless kernel.bpf_stats_enabled).',
    labelNames: ['program'] as const,
    registers,
  });

  new Gauge({
    name: 'lightfoot_targets',
    help: 'Processes currently selected for watching.',
    registers,
    collect() {
      const count = cfg.targetCount;
      if (count) safely('target count', () => this.set(count()));
    },
  });

  const disabled = new Gauge({
    name: 'lightfoot_probe_programs_disabled',
    help: 'Optional BPF programs the kernel refused (1); the probe runs without them.',
    labelNames: ['probe', 'program'] as const,
    registers,
  });

  if (cfg.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: 'lightfoot_' });
  }

  const lostTracker = new MonotonicTracker();
  return {
    events(probe, count) {
      if (Number.isFinite(count) && count > 0) events.inc({ probe }, count);
    },
    eventsLostTotal(probe, total) {
      const n = Number(total);
      if (!Number.isFinite(n) || n < 0) return;
      lost.inc({ probe }, lostTracker.advance(probe, n));
    },
    ringbufBatch(probe, records) {
      if (!Number.isFinite(records) || records < 0) return;
      batches.inc({ probe });
      batchRecords.observe({ probe }, records);
    },
    programDisabled(probe, program, isDisabled) {
      disabled.set({ probe, program }, isDisabled ? 1 : 0);
    },
  };
}
