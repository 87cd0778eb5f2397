// The work of one decoder: a bounded queue of record batches, per-probe
// stream tables and closed lists, and the pump that turns them into decode()
// calls (one in flight at a time) and hands the output on: stream progress to
// the stream tables, annotations to the store, logs to the event writer.
// Overload and every drop are counted, never silent.

import type { EventRecord, EventWriter } from '../log/event-writer';
import type { Logger } from '../log/logger';
import type { AnnotationStore } from './annotations';
import { encodeBatch } from './batch-encoder';
import type { DecodeOutcome, DecoderHost, DecoderState } from './decoder-host';
import { isCompactOutput, type CompactOutput, type DecoderLogLevel } from './engine';
import { LEVEL_RANK, LOG_LIMITS, decoderLogRecord } from './log-events';
import { errorMessage } from './show';
import type { DecoderSelfMetrics, DropReason } from './self-metrics';
import { DEFAULT_STREAM_LIMITS, StreamTable, streamKey, type StreamLimits } from './stream-table';

export interface LaneLimits extends StreamLimits {
  /** Batches waiting for a decoder (dispatches arriving while it is busy are merged up to maxBatch*). */
  maxQueuedBatches: number;
  maxQueuedBytes: number;
  /** Record bytes per batch (streams are budgeted the same). */
  maxBatchBytes: number;
  maxBatchRecords: number;
  /** Closed connections waiting for the next call, per probe. */
  maxClosedPending: number;
  maxLogsPerCall: number;
  maxAnnotationsPerCall: number;
}

export const DEFAULT_LANE_LIMITS: Readonly<LaneLimits> = Object.freeze({
  ...DEFAULT_STREAM_LIMITS,
  maxQueuedBatches: 64,
  maxQueuedBytes: 16 * 1024 * 1024,
  maxBatchBytes: 1024 * 1024,
  maxBatchRecords: 16_384,
  maxClosedPending: 65_536,
  maxLogsPerCall: 1_000,
  maxAnnotationsPerCall: 1_000,
});

export interface LaneContext {
  self: DecoderSelfMetrics;
  annotations: AnnotationStore;
  /** Absent: batches say logs=false and log events are not written. */
  events: EventWriter | undefined;
  minLogLevel: DecoderLogLevel;
  /**
   * Turns a log's `tsNs` (kernel CLOCK_MONOTONIC ns) into the wall-clock `time` of its
   * event line (runtime/daemon/clock.ts MonotonicClock). Absent: `tsNs` is written as is.
   */
  wallClock?: WallClock;
  logger: Logger;
  limits: LaneLimits;
  schemaOf(probe: string): number;
  /** Runs `fn` soon (setImmediate): dispatches within one tick share a call. */
  schedule(fn: () => void): void;
}

interface Item {
  probe: string;
  records: Buffer[];
  bytes: number;
  /** Connections that closed after these records were dispatched: sent with them. */
  closed: bigint[];
}

interface ProbeState {
  streams: StreamTable | undefined;
  /** Closes with no queued records of this probe before them. */
  closed: bigint[];
  /** Closes pending here or on queued items. */
  closedPending: number;
}

interface Call {
  probe: string;
  batch: Buffer;
  records: number;
  closed: bigint[];
  streams: boolean;
}

const DIRECTIONS: Record<string, 0 | 1> = { egress: 0, ingress: 1 };
const LEVEL_JSON = ['"debug"', '"info"', '"warn"', '"error"'];
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER) + 1n; // 2^53, as log-events.ts / compact.rs

export interface WallClock {
  toIso(monotonicNs: bigint): string;
}

export class DecoderLane {
  readonly host: DecoderHost;
  readonly #ctx: LaneContext;
  readonly #queue: Item[] = [];
  #queuedBytes = 0;
  readonly #probes = new Map<string, ProbeState>();
  #scheduled = false;
  #running = false;
  /** Set by abandon(): shutting down, no more calls. */
  #abandoned = false;
  #idleWaiters: (() => void)[] = [];

  constructor(host: DecoderHost, ctx: LaneContext) {
    this.host = host;
    this.#ctx = ctx;
    for (const s of host.info?.subscriptions ?? []) {
      this.#probes.set(s.probe, {
        streams: s.streams
          ? new StreamTable(ctx.limits, (reason, bytes) => ctx.self.streamBytesDropped(host.label, reason, bytes))
          : undefined,
        closed: [],
        closedPending: 0,
      });
    }
  }

  get queuedBatches(): number {
    return this.#queue.length;
  }
  /** The stream table of a probe (tests and debugging). */
  streams(probe: string): StreamTable | undefined {
    return this.#probes.get(probe)?.streams;
  }

  enqueueRecords(probe: string, records: Buffer[], bytes: number): void {
    const state = this.host.state;
    if (state !== 'running' || this.#abandoned) {
      this.#ctx.self.dropped(this.host.label, this.#abandoned ? 'shutdown' : dropReason(state), 1, records.length);
      return;
    }
    const l = this.#ctx.limits;
    const tail = this.#queue[this.#queue.length - 1];
    if (
      tail !== undefined &&
      tail.probe === probe &&
      tail.closed.length === 0 &&
      tail.bytes + bytes <= l.maxBatchBytes &&
      tail.records.length + records.length <= l.maxBatchRecords &&
      this.#queuedBytes + bytes <= l.maxQueuedBytes
    ) {
      for (let i = 0; i < records.length; i++) tail.records.push(records[i]!);
      tail.bytes += bytes;
      this.#queuedBytes += bytes;
      this.#kick();
      return;
    }
    if (bytes <= l.maxBatchBytes && records.length <= l.maxBatchRecords) {
      this.#push({ probe, records, bytes, closed: [] });
    } else {
      // Larger than one batch: split.
      let cur: Item = { probe, records: [], bytes: 0, closed: [] };
      for (const r of records) {
        if (cur.records.length > 0 && (cur.bytes + r.length > l.maxBatchBytes || cur.records.length >= l.maxBatchRecords)) {
          this.#push(cur);
          cur = { probe, records: [], bytes: 0, closed: [] };
        }
        cur.records.push(r);
        cur.bytes += r.length;
      }
      if (cur.records.length > 0) this.#push(cur);
    }
    this.#kick();
  }

  #push(item: Item): void {
    const l = this.#ctx.limits;
    if (this.#queue.length >= l.maxQueuedBatches || this.#queuedBytes + item.bytes > l.maxQueuedBytes) {
      this.#ctx.self.dropped(this.host.label, 'queue_full', 1, item.records.length);
      return;
    }
    this.#queue.push(item);
    this.#queuedBytes += item.bytes;
  }

  enqueueStream(probe: string, connection: bigint, direction: 0 | 1, data: Buffer, gap: boolean, tsNs?: number): void {
    const table = this.#probes.get(probe)?.streams;
    if (!table) return;
    const state = this.host.state;
    if (state === 'running') {
      table.append(connection, direction, data, gap, tsNs);
      this.#kick();
    } else if (state === 'quarantined') {
      this.#ctx.self.streamBytesDropped(this.host.label, 'state', data.length);
    } else {
      table.lose(connection, direction, data.length, 'state');
    }
  }

  /** True when this lane will tell the decoder (the annotation store waits for it). */
  enqueueClosed(probe: string, connection: bigint): boolean {
    const ps = this.#probes.get(probe);
    if (!ps) return false;
    if (this.host.state !== 'running') {
      ps.streams?.forget(connection);
      return false;
    }
    if (ps.closedPending >= this.#ctx.limits.maxClosedPending) {
      // The decoder keeps that connection's state until it evicts it itself.
      this.#ctx.self.closedDropped(this.host.label, 1);
      ps.streams?.forget(connection);
      return false;
    }
    // Records of this connection still queued go first: the close rides with the last of them.
    let carrier: Item | undefined;
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      if (this.#queue[i]!.probe === probe) {
        carrier = this.#queue[i];
        break;
      }
    }
    (carrier?.closed ?? ps.closed).push(connection);
    ps.closedPending++;
    ps.streams?.close(connection);
    this.#kick();
    return true;
  }

  /** The host changed state: leaving 'running' drops the queue and resets the streams. */
  hostStateChanged(previous: DecoderState): void {
    const now = this.host.state;
    if (previous === 'running' && now !== 'running') {
      let records = 0;
      for (const it of this.#queue) {
        records += it.records.length;
        for (const c of it.closed) this.#ctx.annotations.closeDelivered(c);
      }
      if (this.#queue.length > 0) this.#ctx.self.dropped(this.host.label, dropReason(now), this.#queue.length, records);
      this.#queue.length = 0;
      this.#queuedBytes = 0;
      for (const ps of this.#probes.values()) {
        for (const c of ps.closed) this.#ctx.annotations.closeDelivered(c);
        ps.closed.length = 0;
        ps.closedPending = 0;
        if (now === 'quarantined') ps.streams?.clear();
        else ps.streams?.reset();
      }
    }
    if (now === 'quarantined') for (const ps of this.#probes.values()) ps.streams?.clear();
    if (now === 'running') this.#kick();
    if (now !== 'running') this.#wakeIdle();
  }

  /**
   * Shutdown ran out of time: start no more calls, drop what is queued (counted,
   * reason "shutdown"). A call in flight still ends, within its deadline.
   */
  abandon(): void {
    this.#abandoned = true;
    let records = 0;
    for (const it of this.#queue) records += it.records.length;
    if (this.#queue.length > 0) this.#ctx.self.dropped(this.host.label, 'shutdown', this.#queue.length, records);
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#wakeIdle();
  }

  /** Resolves when nothing is queued or in flight (or the decoder cannot run). */
  idle(): Promise<void> {
    if (!this.#scheduled && !this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #kick(): void {
    if (this.#scheduled || this.#running) return;
    this.#scheduled = true;
    this.#ctx.schedule(() => {
      this.#scheduled = false;
      this.#loop();
    });
  }

  #loop(): void {
    this.#running = true;
    for (;;) {
      const call = this.host.state === 'running' && !this.host.busy && !this.#abandoned ? this.#nextCall() : undefined;
      if (call === undefined) {
        this.#running = false;
        this.#wakeIdle();
        return;
      }
      const outcome = this.host.decode(call.batch, call.records);
      if (outcome instanceof Promise) {
        outcome.then(
          (o) => {
            this.#finishSafely(call, o);
            this.#loop();
          },
          (err: unknown) => {
            // DecoderHost.decode never rejects; keep the pump alive regardless.
            this.#ctx.logger.error('decoder call failed unexpectedly (bug)', { decoder: this.host.label, err });
            this.#finishSafely(call, { ok: false, reason: 'not_running', message: errorMessage(err) });
            this.#loop();
          },
        );
        return;
      }
      this.#finishSafely(call, outcome);
    }
  }

  #nextCall(): Call | undefined {
    let probe: string | undefined;
    let records: Buffer[] = [];
    const item = this.#queue.shift();
    if (item !== undefined) {
      probe = item.probe;
      records = item.records;
      this.#queuedBytes -= item.bytes;
    } else {
      for (const [p, ps] of this.#probes) {
        if (ps.closed.length > 0 || ps.streams?.hasDirty) {
          probe = p;
          break;
        }
      }
      if (probe === undefined) return undefined;
    }
    const ps = this.#probes.get(probe);
    const streams = ps?.streams?.take(this.#ctx.limits.maxBatchBytes) ?? [];
    const closed = ps && ps.closed.length > 0 ? ps.closed.splice(0) : [];
    if (item !== undefined) for (const c of item.closed) closed.push(c);
    if (ps) ps.closedPending -= closed.length;
    let batch: Buffer;
    try {
      batch = encodeBatch({
        probe,
        schema: this.#ctx.schemaOf(probe),
        records,
        streams,
        closed,
        logs: this.#ctx.events !== undefined,
      });
    } catch (err) {
      // A record the encoder cannot write (a bug, or a probe whose records break its
      // layout) costs this batch, counted, never the daemon.
      this.#ctx.logger.error('encoding a batch failed; it is dropped (bug)', { decoder: this.host.label, probe, records: records.length, err });
      this.#ctx.self.dropped(this.host.label, 'encode_error', 1, records.length);
      return this.#nextCall();
    }
    return { probe, batch, records: records.length, closed, streams: streams.length > 0 };
  }

  #finishSafely(call: Call, outcome: DecodeOutcome): void {
    try {
      this.#finish(call, outcome);
    } catch (err) {
      this.#ctx.logger.error('handling decoder output failed (bug)', { decoder: this.host.label, err });
    }
  }

  #finish(call: Call, outcome: DecodeOutcome): void {
    const ctx = this.#ctx;
    const name = this.host.label;
    const table = this.#probes.get(call.probe)?.streams;
    if (!outcome.ok) {
      if (call.streams) table?.settle(null);
      if (outcome.reason === 'not_running') ctx.self.dropped(name, dropReason(this.host.state), 1, call.records);
    } else {
      const out = outcome.output;
      if (table && call.streams) {
        const progress = new Map<string, number>();
        for (const p of out.streams) {
          const dir = DIRECTIONS[(p as { direction?: string })?.direction ?? ''];
          if (dir === undefined || typeof p.connection !== 'bigint' || !Number.isInteger(p.consumed) || p.consumed < 0) continue;
          progress.set(streamKey(p.connection, dir), p.consumed);
        }
        table.settle(progress);
      }
      const store = ctx.annotations;
      const before = store.dropped;
      const nAnn = Math.min(out.annotations.length, ctx.limits.maxAnnotationsPerCall);
      for (let i = 0; i < nAnn; i++) {
        const a = out.annotations[i] as { connection?: unknown; key?: unknown; value?: unknown } | undefined;
        if (a && typeof a === 'object') store.set(a.connection as bigint, a.key, a.value);
        else store.dropped++;
      }
      const annDropped = store.dropped - before + (out.annotations.length - nAnn);
      if (annDropped > 0) ctx.self.annotationsDropped(name, annDropped);
      if (ctx.events !== undefined) {
        if (isCompactOutput(out)) {
          if (out.logs.fieldsJson.length > 0 || out.invalidLogs > 0) this.#writeCompactLogs(out);
        } else if (out.logs.length > 0) this.#writeLogs(out.logs);
      }
    }
    for (const c of call.closed) ctx.annotations.closeDelivered(c);
  }

  #writeLogs(logs: unknown[]): void {
    const ctx = this.#ctx;
    const name = this.host.label;
    const min = LEVEL_RANK[ctx.minLogLevel];
    const n = Math.min(logs.length, ctx.limits.maxLogsPerCall);
    let invalid = 0;
    for (let i = 0; i < n; i++) {
      const ev = logs[i] as { level?: string; connection?: unknown };
      const rank = LEVEL_RANK[ev?.level as DecoderLogLevel];
      if (rank !== undefined && rank < min) continue;
      const conn = typeof ev?.connection === 'bigint' && ev.connection !== 0n ? ev.connection : undefined;
      const rec = decoderLogRecord(name, ev, conn === undefined ? undefined : ctx.annotations.get(conn));
      if (rec === undefined) invalid++;
      else {
        if (ctx.wallClock !== undefined) this.#wallTime(rec);
        ctx.events!.write(rec);
      }
    }
    ctx.self.logsDropped(name, 'invalid', invalid);
    ctx.self.logsDropped(name, 'per_call_cap', logs.length - n);
  }

  /** tsNs → time (last key), as the compact path writes it. */
  #wallTime(rec: Record<string, unknown>): void {
    const t = rec.tsNs;
    let ns: bigint;
    if (typeof t === 'bigint') ns = t;
    else if (typeof t === 'number' && Number.isInteger(t)) ns = BigInt(t);
    else if (typeof t === 'string' && /^[0-9]+$/.test(t)) ns = BigInt(t);
    else return;
    if (ns < 0n) return;
    delete rec.tsNs;
    rec.time = this.#iso(ns);
  }

  #lastNs = -1n;
  #lastIso = '';
  #iso(ns: bigint): string {
    if (ns !== this.#lastNs) {
      this.#lastIso = this.#ctx.wallClock!.toIso(ns);
      this.#lastNs = ns;
    }
    return this.#lastIso;
  }

  /**
   * The compact form's logs: event lines by concatenation, in the shape
   * decoderLogRecord() gives (then `time`, or `tsNs` without a wall clock). The engine
   * already dropped malformed log-events (invalidLogs) and rendered the fields.
   */
  #writeCompactLogs(out: CompactOutput): void {
    const ctx = this.#ctx;
    const name = this.host.label;
    const events = ctx.events!;
    const L = out.logs;
    const strings = out.strings;
    const total = L.fieldsJson.length;
    const min = LEVEL_RANK[ctx.minLogLevel];
    const n = Math.min(total, ctx.limits.maxLogsPerCall);
    const head = `,"decoder":${JSON.stringify(name)},"level":`;
    const messages: (string | undefined)[] = [];
    const clock = ctx.wallClock;
    let invalid = out.invalidLogs;
    for (let i = 0; i < n; i++) {
      const lvl = L.level[i]!;
      if (lvl > 3) {
        invalid++;
        continue;
      }
      if (lvl < min) continue;
      const m = L.message[i]!;
      let msg = messages[m];
      if (msg === undefined) {
        const s = strings[m];
        if (typeof s !== 'string' || s.length === 0 || s.length > LOG_LIMITS.messageLength) {
          invalid++;
          continue;
        }
        msg = messages[m] = JSON.stringify(s);
      }
      let line = '{"event":' + msg + head + LEVEL_JSON[lvl]!;
      const conn = L.connection[i]!;
      let ann: Readonly<Record<string, string>> | undefined;
      if (conn !== 0n) {
        line += ',"connection":"' + conn.toString() + '"';
        ann = ctx.annotations.get(conn);
      }
      const fj = L.fieldsJson[i]!;
      if (fj.length > 0) line += ',' + fj;
      if (ann !== undefined) line += ',"annotations":' + JSON.stringify(ann);
      const ts = L.tsNs[i]!;
      if (ts !== 0n) {
        if (clock !== undefined) line += ',"time":"' + this.#iso(ts) + '"';
        else line += ts <= MAX_SAFE ? ',"tsNs":' + ts.toString() : ',"tsNs":"' + ts.toString() + '"';
      }
      line += '}';
      if (events.writeRaw !== undefined) events.writeRaw(line);
      else events.write(JSON.parse(line) as EventRecord);
    }
    ctx.self.logsDropped(name, 'invalid', invalid);
    ctx.self.logsDropped(name, 'per_call_cap', total - n);
  }

  #wakeIdle(): void {
    if (this.#scheduled || this.#running) return;
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const fn of w) fn();
  }
}

function dropReason(state: DecoderState): DropReason {
  return state === 'backoff' ? 'backoff' : state === 'quarantined' ? 'quarantined' : state === 'loading' ? 'loading' : 'backoff';
}
