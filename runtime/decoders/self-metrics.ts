// The decoder runtime's own metrics (lightfoot_decoder_*): calls, batch sizes,
// decode time, faults, drops, memory and state. Memory and state are read at
// scrape time in collect(), which never throws.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BATCH_RECORD_BUCKETS } from '../metrics/self-metrics';

export const metricNames = [
  'lightfoot_decoder_calls_total',
  'lightfoot_decoder_batch_records',
  'lightfoot_decoder_decode_seconds',
  'lightfoot_decoder_faults_total',
  'lightfoot_decoder_restarts_total',
  'lightfoot_decoder_batches_dropped_total',
  'lightfoot_decoder_records_dropped_total',
  'lightfoot_decoder_stream_bytes_dropped_total',
  'lightfoot_decoder_logs_dropped_total',
  'lightfoot_decoder_annotations_dropped_total',
  'lightfoot_decoder_closed_dropped_total',
  'lightfoot_decoder_input_invalid_total',
  'lightfoot_decoder_memory_bytes',
  'lightfoot_decoder_state',
] as const;

export type CallResult = 'ok' | 'fault' | 'bad_output' | 'decode_error';
export type FaultLabel = 'trap' | 'timeout' | 'oom' | 'bad_output' | 'oversize';
/** Why batches or records never reached a decoder. */
export type DropReason = 'queue_full' | 'backoff' | 'quarantined' | 'loading' | 'shutdown' | 'encode_error';
/** Why stream bytes were thrown away (the next segment then carries `gap`). */
export type StreamDropReason = 'overflow' | 'too_many_streams' | 'gap' | 'reset' | 'state';
export type LogDropReason = 'per_call_cap' | 'invalid';

export const DECODE_SECONDS_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** What collect() reads from each decoder at scrape time. */
export interface DecoderGaugeSource {
  readonly label: string;
  readonly state: string;
  /** Linear memory of the live instance, undefined when there is none. */
  memoryBytes(): number | undefined;
}

export interface DecoderSelfMetrics {
  call(decoder: string, result: CallResult, seconds: number, records: number): void;
  fault(decoder: string, kind: FaultLabel): void;
  restart(decoder: string): void;
  dropped(decoder: string, reason: DropReason, batches: number, records: number): void;
  streamBytesDropped(decoder: string, reason: StreamDropReason, bytes: number): void;
  logsDropped(decoder: string, reason: LogDropReason, n: number): void;
  /** Annotations refused by the store's limits or the per-call cap. */
  annotationsDropped(decoder: string, n: number): void;
  /** Close notifications not delivered (too many pending). */
  closedDropped(decoder: string, n: number): void;
  inputInvalid(probe: string, reason: string, n: number): void;
  /** Decoders to read memory and state from at scrape time. */
  setSource(source: () => Iterable<DecoderGaugeSource>): void;
}

export const DECODER_STATES = ['loading', 'running', 'backoff', 'quarantined', 'refused'] as const;

/**
 * @example
 * const self = decoderSelfMetrics(registry);
 * self.call('http2', 'ok', 0.0004, 120);
 */
export function decoderSelfMetrics(registry: Registry): DecoderSelfMetrics {
  const registers = [registry];
  let source: () => Iterable<DecoderGaugeSource> = () => [];

  const calls = new Counter({
    name: 'lightfoot_decoder_calls_total',
    help: 'decode() calls, by decoder and result (ok, fault, bad_output, decode_error).',
    labelNames: ['decoder', 'result'] as const,
    registers,
  });
  const records = new Histogram({
    name: 'lightfoot_decoder_batch_records',
    help: 'Records per batch handed to a decoder.',
    labelNames: ['decoder'] as const,
    buckets: BATCH_RECORD_BUCKETS,
    registers,
  });
  const seconds = new Histogram({
    name: 'lightfoot_decoder_decode_seconds',
    help: 'Wall-clock time of one decode() call, including output handling.',
    labelNames: ['decoder'] as const,
    buckets: DECODE_SECONDS_BUCKETS,
    registers,
  });
  const faults = new Counter({
    name: 'lightfoot_decoder_faults_total',
    help: 'Decoder faults: trap, timeout (deadline or fuel), oom (memory limit), bad_output (output the host refused: invalid pointers, UTF-8 or metric updates; whole output rejected), oversize (output over the per-call budget).',
    labelNames: ['decoder', 'kind'] as const,
    registers,
  });
  const restarts = new Counter({
    name: 'lightfoot_decoder_restarts_total',
    help: 'Decoder instances re-created after a fault.',
    labelNames: ['decoder'] as const,
    registers,
  });
  const batchesDropped = new Counter({
    name: 'lightfoot_decoder_batches_dropped_total',
    help: 'Batches not delivered to a decoder: queue_full (overload), backoff, quarantined, loading, shutdown, encode_error (a batch the host could not encode: a bug, logged).',
    labelNames: ['decoder', 'reason'] as const,
    registers,
  });
  const recordsDropped = new Counter({
    name: 'lightfoot_decoder_records_dropped_total',
    help: 'Records not delivered to a decoder, by reason (as lightfoot_decoder_batches_dropped_total).',
    labelNames: ['decoder', 'reason'] as const,
    registers,
  });
  const streamDropped = new Counter({
    name: 'lightfoot_decoder_stream_bytes_dropped_total',
    help: 'Stream bytes thrown away (overflow of the per-stream buffer, too many streams, probe gap, instance reset); the next segment carries gap.',
    labelNames: ['decoder', 'reason'] as const,
    registers,
  });
  const logsDropped = new Counter({
    name: 'lightfoot_decoder_logs_dropped_total',
    help: 'Decoder log events not written: per_call_cap (too many in one call) or invalid.',
    labelNames: ['decoder', 'reason'] as const,
    registers,
  });
  const annotationsDropped = new Counter({
    name: 'lightfoot_decoder_annotations_dropped_total',
    help: 'Connection annotations not kept (limits on connections, keys per connection, key/value length, per call).',
    labelNames: ['decoder'] as const,
    registers,
  });
  const closedDropped = new Counter({
    name: 'lightfoot_decoder_closed_dropped_total',
    help: 'Connection-closed notifications not delivered to a decoder because too many were pending.',
    labelNames: ['decoder'] as const,
    registers,
  });
  const inputInvalid = new Counter({
    name: 'lightfoot_decoder_input_invalid_total',
    help: 'Probe input the decoder manager could not route (empty record, bad connection id, bad stream segment).',
    labelNames: ['probe', 'reason'] as const,
    registers,
  });
  new Gauge({
    name: 'lightfoot_decoder_memory_bytes',
    help: 'Linear memory of each decoder instance.',
    labelNames: ['decoder'] as const,
    registers,
    collect() {
      this.reset();
      try {
        for (const d of source()) {
          let bytes: number | undefined;
          try {
            bytes = d.memoryBytes();
          } catch {
            bytes = undefined;
          }
          if (bytes !== undefined && Number.isFinite(bytes)) this.set({ decoder: d.label }, bytes);
        }
      } catch {
        // a scrape never fails because of a decoder
      }
    },
  });
  new Gauge({
    name: 'lightfoot_decoder_state',
    help: 'Decoder state: 1 for the current one of loading, running, backoff, quarantined, refused.',
    labelNames: ['decoder', 'state'] as const,
    registers,
    collect() {
      try {
        for (const d of source()) {
          for (const s of DECODER_STATES) this.set({ decoder: d.label, state: s }, d.state === s ? 1 : 0);
        }
      } catch {
        // a scrape never fails because of a decoder
      }
    },
  });

  return {
    call(decoder, result, secs, n) {
      calls.inc({ decoder, result });
      if (Number.isFinite(secs) && secs >= 0) seconds.observe({ decoder }, secs);
      records.observe({ decoder }, n);
    },
    fault: (decoder, kind) => faults.inc({ decoder, kind }),
    restart: (decoder) => restarts.inc({ decoder }),
    dropped(decoder, reason, b, r) {
      if (b > 0) batchesDropped.inc({ decoder, reason }, b);
      if (r > 0) recordsDropped.inc({ decoder, reason }, r);
    },
    streamBytesDropped(decoder, reason, bytes) {
      if (bytes > 0) streamDropped.inc({ decoder, reason }, bytes);
    },
    logsDropped(decoder, reason, n) {
      if (n > 0) logsDropped.inc({ decoder, reason }, n);
    },
    annotationsDropped(decoder, n) {
      if (n > 0) annotationsDropped.inc({ decoder }, n);
    },
    closedDropped(decoder, n) {
      if (n > 0) closedDropped.inc({ decoder }, n);
    },
    inputInvalid(probe, reason, n) {
      if (n > 0) inputInvalid.inc({ probe, reason }, n);
    },
    setSource(s) {
      source = s;
    },
  };
}
