// Loads every decoder (a refused one is reported and skipped, the rest keep
// working), routes probe records by probe and record kind to the decoders that
// subscribed, feeds stream segments and connection closes to them, and owns
// what they share: the metric registry, the annotation store and the event
// writer. Input API for the daemon: dispatch / dispatchStream / connectionClosed.

import type { Registry } from 'prom-client';
import type { EventWriter } from '../log/event-writer';
import type { Logger } from '../log/logger';
import { AnnotationStore, type AnnotationLimits } from './annotations';
import { formatSubscriptions } from './decoder-info';
import {
  DecoderHost,
  type CallMode,
  type Clock,
  type OutputForm,
  type DecoderState,
  type FaultPolicy,
  type Refusal,
  type Timers,
} from './decoder-host';
import { DEFAULT_LANE_LIMITS, DecoderLane, type LaneLimits, type WallClock } from './decoder-lane';
import type { DecoderEngine, DecoderLogLevel, InstanceLimits, Subscription } from './engine';
import type { DecoderOrigin, DecoderSource } from './manifest';
import { DecoderMetricRegistry, type SeriesLabeler } from './metric-registry';
import { decoderSelfMetrics, type DecoderSelfMetrics, type FaultLabel } from './self-metrics';

export interface DecoderManagerOptions {
  engine: DecoderEngine;
  /** From resolveDecoderSources(). */
  sources: readonly DecoderSource[];
  /** Decoder metrics and lightfoot_decoder_* self-metrics are registered here. */
  registry: Registry;
  logger: Logger;
  /** Where decoder log events go; absent = batches carry logs=false. */
  events?: EventWriter;
  /** Label sets per decoder metric before "_overflow_" (--max-series). Default 10000. */
  maxSeries?: number;
  /** Host labels on decoder series (Kubernetes identity, runtime/enrich/). */
  labeler?: SeriesLabeler;
  /** Default 'async'. */
  mode?: CallMode;
  /** Default 'compact': decodeCompact() when the engine has it (decoder-host.ts OutputForm). */
  form?: OutputForm;
  /**
   * Converts decoder log `tsNs` (kernel CLOCK_MONOTONIC) into the wall-clock `time` of
   * event lines; the daemon passes a MonotonicClock. Absent: `tsNs` is written as is.
   */
  wallClock?: WallClock;
  policy?: Partial<FaultPolicy>;
  limits?: Partial<LaneLimits>;
  annotationLimits?: Partial<AnnotationLimits>;
  /** Record layout version per probe (batch key `schema`); default 1. */
  probeSchemas?: Readonly<Record<string, number>>;
  /** Decoder log events below this level are not written. Default 'info'. */
  minLogLevel?: DecoderLogLevel;
  clock?: Clock;
  timers?: Timers;
  /** Defaults to setImmediate: everything dispatched in one tick shares a call. */
  schedule?: (fn: () => void) => void;
  readFile?: (path: string) => Buffer;
  /** Use an existing set of self-metrics (one per registry). */
  self?: DecoderSelfMetrics;
  /**
   * flush() waits at most this long for queued batches (default 2000 ms); then it drops
   * the rest (counted, reason "shutdown") and waits only for calls in flight, each
   * bounded by its deadline.
   */
  shutdownGraceMs?: number;
}

export const DEFAULT_SHUTDOWN_GRACE_MS = 2_000;

/** One raw stream segment from a probe. */
export interface StreamInput {
  connection: bigint;
  /** 0 egress, 1 ingress. */
  direction: 0 | 1;
  data: Buffer;
  /** The probe lost bytes of this stream before `data`. */
  gap: boolean;
  /** When the probe saw these bytes (kernel CLOCK_MONOTONIC ns); decoders get it as segment `ts` marks. */
  tsNs?: number;
}

export interface DecoderStatus {
  /** Declared name, or the file name when it never described itself. */
  label: string;
  name?: string;
  version?: string;
  path: string;
  origin: DecoderOrigin;
  from: string;
  sha256?: string;
  subscriptions: Subscription[];
  state: DecoderState | 'disabled';
  faults: number;
  faultsByKind: Record<FaultLabel, number>;
  limits: InstanceLimits;
  refusal?: Refusal;
}

interface Route {
  lanes: DecoderLane[];
  /** Per record kind, indexes into `lanes`. */
  byKind: (number[] | undefined)[];
  streamLanes: DecoderLane[];
}

const MAX_CONNECTION = (1n << 64n) - 1n;
const NO_FAULTS = (): Record<FaultLabel, number> => ({ trap: 0, timeout: 0, oom: 0, bad_output: 0, oversize: 0 });

/**
 * @example
 * const manager = new DecoderManager({ engine: loadNativeEngine(), sources, registry, logger, events });
 * reader = obj.openRingBuffer('events', opts, (batch) => manager.dispatch('tcp', splitRecords(batch)));
 * // on shutdown: await manager.flush(); manager.close();
 */
export class DecoderManager {
  readonly #log: Logger;
  readonly #self: DecoderSelfMetrics;
  readonly #hosts: DecoderHost[] = [];
  readonly #disabled: DecoderSource[] = [];
  readonly #lanes = new Map<DecoderHost, DecoderLane>();
  readonly #routes = new Map<string, Route>();
  readonly #annotations: AnnotationStore;
  readonly #graceMs: number;
  readonly #timers: Timers | undefined;
  #warnedInternal = false;

  constructor(opts: DecoderManagerOptions) {
    this.#log = opts.logger.child('decoders');
    this.#self = opts.self ?? decoderSelfMetrics(opts.registry);
    this.#annotations = new AnnotationStore(opts.annotationLimits);
    this.#graceMs = opts.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    this.#timers = opts.timers;
    const metrics = new DecoderMetricRegistry({ registry: opts.registry, maxSeries: opts.maxSeries ?? 10_000, labeler: opts.labeler });
    const limits: LaneLimits = { ...DEFAULT_LANE_LIMITS, ...opts.limits };
    const schemas = opts.probeSchemas ?? {};
    const schedule = opts.schedule ?? ((fn: () => void) => void setImmediate(fn));
    const byName = new Map<string, string>();

    for (const source of opts.sources) {
      if (!source.enabled) {
        this.#disabled.push(source);
        continue;
      }
      const host = new DecoderHost({
        source,
        engine: opts.engine,
        metrics,
        self: this.#self,
        logger: this.#log,
        mode: opts.mode,
        form: opts.form,
        policy: opts.policy,
        clock: opts.clock,
        timers: opts.timers,
        readFile: opts.readFile,
        nameTakenBy: (name) => byName.get(name),
        onStateChange: (h, prev) => this.#lanes.get(h)?.hostStateChanged(prev),
      });
      this.#hosts.push(host);
      if (!host.load()) {
        this.#log.warn(`decoder refused: ${source.path}: ${host.refusal!.message}`, {
          path: source.path,
          from: source.from,
          hint: host.refusal!.hint,
        });
        continue;
      }
      const info = host.info!;
      byName.set(info.name, source.path);
      const lane = new DecoderLane(host, {
        self: this.#self,
        annotations: this.#annotations,
        events: opts.events,
        minLogLevel: opts.minLogLevel ?? 'info',
        wallClock: opts.wallClock,
        logger: this.#log,
        limits,
        schemaOf: (probe) => schemas[probe] ?? 1,
        schedule,
      });
      this.#lanes.set(host, lane);
      for (const sub of info.subscriptions) this.#route(sub, lane);
      this.#log.info('decoder loaded', {
        decoder: info.name,
        version: info.version,
        subscriptions: formatSubscriptions(info),
        sha256: host.sha256,
        mode: host.mode,
      });
    }
    this.#self.setSource(() => this.#hosts);
  }

  #route(sub: Subscription, lane: DecoderLane): void {
    let r = this.#routes.get(sub.probe);
    if (r === undefined) {
      r = { lanes: [], byKind: new Array<number[] | undefined>(256).fill(undefined), streamLanes: [] };
      this.#routes.set(sub.probe, r);
    }
    const idx = r.lanes.push(lane) - 1;
    const kinds = sub.kinds.length === 0 ? Array.from({ length: 256 }, (_, k) => k) : sub.kinds;
    for (const k of kinds) (r.byKind[k] ??= []).push(idx);
    if (sub.streams) r.streamLanes.push(lane);
  }

  /** True when some decoder wants this probe's records (skip work otherwise). */
  subscribes(probe: string): boolean {
    return this.#routes.has(probe);
  }

  /** True when some decoder wants this probe's byte streams. */
  wantsStreams(probe: string): boolean {
    return (this.#routes.get(probe)?.streamLanes.length ?? 0) > 0;
  }

  /**
   * Raw probe records (first byte = kind), in kernel order. Each subscribed
   * decoder gets the records of its kinds, in one batch per decoder (merged
   * with others while it is busy). Never throws.
   */
  dispatch(probe: string, records: readonly Buffer[]): void {
    const route = this.#routes.get(probe);
    if (route === undefined) return;
    try {
      if (!Array.isArray(records)) {
        this.#self.inputInvalid(probe, 'not_a_list', 1);
        return;
      }
      const n = route.lanes.length;
      const buckets: Buffer[][] = new Array(n);
      const bytes = new Array<number>(n).fill(0);
      for (let i = 0; i < n; i++) buckets[i] = [];
      let invalid = 0;
      for (let i = 0; i < records.length; i++) {
        const rec = records[i];
        if (!(rec instanceof Uint8Array) || rec.length === 0) {
          invalid++;
          continue;
        }
        const targets = route.byKind[rec[0]!];
        if (targets === undefined) continue;
        for (let t = 0; t < targets.length; t++) {
          const j = targets[t]!;
          buckets[j]!.push(rec as Buffer);
          bytes[j]! += rec.length;
        }
      }
      if (invalid > 0) this.#self.inputInvalid(probe, 'empty_record', invalid);
      for (let i = 0; i < n; i++) {
        if (buckets[i]!.length > 0) route.lanes[i]!.enqueueRecords(probe, buckets[i]!, bytes[i]!);
      }
    } catch (err) {
      this.#internal('dispatch', err);
    }
  }

  /** Payload bytes of one connection direction, for decoders with `streams`. Never throws. */
  dispatchStream(probe: string, seg: StreamInput): void {
    const route = this.#routes.get(probe);
    if (route === undefined || route.streamLanes.length === 0) return;
    try {
      if (
        typeof seg !== 'object' ||
        seg === null ||
        !validConnection(seg.connection) ||
        (seg.direction !== 0 && seg.direction !== 1) ||
        !(seg.data instanceof Uint8Array)
      ) {
        this.#self.inputInvalid(probe, 'bad_stream_segment', 1);
        return;
      }
      const raw = seg.data as Uint8Array;
      const data = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.length);
      for (const lane of route.streamLanes) lane.enqueueStream(probe, seg.connection, seg.direction, data, seg.gap === true, typeof seg.tsNs === 'number' ? seg.tsNs : undefined);
    } catch (err) {
      this.#internal('dispatchStream', err);
    }
  }

  /** The connection closed: decoders get it in `closed` (and `eos` on its streams). Never throws. */
  connectionClosed(probe: string, connection: bigint): void {
    try {
      if (!validConnection(connection)) {
        this.#self.inputInvalid(probe, 'bad_connection', 1);
        return;
      }
      let deliveries = 0;
      const route = this.#routes.get(probe);
      if (route) for (const lane of route.lanes) if (lane.enqueueClosed(probe, connection)) deliveries++;
      this.#annotations.closing(connection, deliveries);
    } catch (err) {
      this.#internal('connectionClosed', err);
    }
  }

  /** Annotations currently kept for a connection. */
  annotations(connection: bigint): Readonly<Record<string, string>> | undefined {
    const a = this.#annotations.get(connection);
    return a === undefined ? undefined : { ...a };
  }

  /** Every decoder source, loaded or not, in load order. */
  status(): DecoderStatus[] {
    const out: DecoderStatus[] = this.#hosts.map((h) => {
      const s: DecoderStatus = {
        label: h.label,
        path: h.source.path,
        origin: h.source.origin,
        from: h.source.from,
        subscriptions: h.info?.subscriptions ?? [],
        state: h.state,
        faults: h.faultCount,
        faultsByKind: { ...h.faults },
        limits: h.source.limits,
      };
      if (h.info) {
        s.name = h.info.name;
        s.version = h.info.version;
      }
      if (h.sha256 !== undefined) s.sha256 = h.sha256;
      if (h.refusal) s.refusal = h.refusal;
      return s;
    });
    for (const src of this.#disabled) {
      out.push({
        label: src.path.replace(/^.*\//, '').replace(/\.wasm$/, ''),
        path: src.path,
        origin: src.origin,
        from: src.from,
        subscriptions: [],
        state: 'disabled',
        faults: 0,
        faultsByKind: NO_FAULTS(),
        limits: src.limits,
      });
    }
    return out;
  }

  /** The lane of a decoder by name (tests and debugging). */
  lane(name: string): DecoderLane | undefined {
    for (const [h, l] of this.#lanes) if (h.info?.name === name) return l;
    return undefined;
  }

  /**
   * Resolves when every decoder has handled everything dispatched so far, or, past
   * `shutdownGraceMs`, once the calls in flight have ended (the rest is dropped and
   * counted). So a shutdown takes at most the grace plus the longest deadlineMs.
   */
  async flush(): Promise<void> {
    const timers = this.#timers ?? { setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms).unref(), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
    let expired = false;
    let handle: unknown;
    const grace = new Promise<void>((resolve) => {
      handle = timers.setTimeout(() => {
        expired = true;
        resolve();
      }, this.#graceMs);
    });
    try {
      for (let round = 0; round < 1000 && !expired; round++) {
        const lanes = [...this.#lanes.values()];
        await Promise.race([Promise.all(lanes.map((l) => l.idle())), grace]);
        if (!expired && lanes.every((l) => l.queuedBatches === 0)) return;
      }
    } finally {
      timers.clearTimeout(handle);
    }
    const lanes = [...this.#lanes.values()];
    for (const l of lanes) l.abandon();
    this.#log.warn('shutdown: decoders did not finish in time; their queued batches were dropped', {
      graceMs: this.#graceMs,
      hint: 'counted in lightfoot_decoder_batches_dropped_total{reason="shutdown"}',
    });
    await Promise.all(lanes.map((l) => l.idle()));
  }

  /** Stop restart timers and drop instances. Call flush() first to drain. */
  close(): void {
    for (const h of this.#hosts) h.close();
  }

  #internal(where: string, err: unknown): void {
    this.#self.inputInvalid('_host_', 'internal_error', 1);
    if (!this.#warnedInternal) {
      this.#warnedInternal = true;
      this.#log.error(`decoder manager: ${where} failed (bug); input dropped`, { err });
    }
  }
}

function validConnection(c: unknown): c is bigint {
  return typeof c === 'bigint' && c >= 0n && c <= MAX_CONNECTION;
}
