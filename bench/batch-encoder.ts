/**
 * The hand-written batch encoder (runtime/decoders/batch-encoder.ts) against
 * msgpackr, the project's msgpack library, on the same 256-record batches.
 * Both produce the same bytes (test/unit/decoders-batch-encoder.test.ts);
 * this measures whether the hand-written one still earns its place.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Packr } from 'msgpackr';
import { encodeBatch, type BatchInput } from '../runtime/decoders/batch-encoder';
import { LF_TCP_EVENT_KIND as K, LF_TCP_ROLE as R } from '../probes/tcp/generated/events';
import { encodeTcpEvent } from '../test/helpers/tcp-records';
import { fmt, median, type BenchSection } from './bench-result';

const RECORDS = 256;
const ROUNDS = 15;
const SLICE_MS = 150;

function batchInput(n: number, withStreams: boolean): BatchInput {
  const records = Array.from({ length: RECORDS }, (_, i) =>
    encodeTcpEvent({ kind: K.LF_TCP_EV_FLUSH, role: R.LF_TCP_ROLE_CLIENT, tgid: 1000 + (i & 3), comm: 'node', cookie: BigInt(n * RECORDS + i + 1), bytes_sent: BigInt(i * 1500), sport: 40000 + i, dport: 443 }),
  );
  const streams = withStreams
    ? Array.from({ length: 16 }, (_, i) => ({ connection: BigInt(i + 1), direction: (i & 1) as 0 | 1, data: [Buffer.alloc(512, i)], eos: false, gap: false }))
    : undefined;
  return { probe: 'tcp', schema: 1, records, streams, closed: [1n, 2n, 3n], logs: true };
}

/** What msgpackr is given: the same batch as a plain object (as the encoder's docs describe it). */
function asObject(b: BatchInput): Record<string, unknown> {
  const o: Record<string, unknown> = { v: 1, probe: b.probe, schema: b.schema, records: b.records };
  if (b.streams?.length) {
    o.streams = b.streams.map((s) => ({ c: Number(s.connection), d: s.direction, data: s.data.length === 1 ? s.data[0] : Buffer.concat(s.data), eos: s.eos }));
  }
  if (b.closed?.length) o.closed = b.closed.map(Number);
  o.logs = b.logs;
  return o;
}

/** Its package.json is not exported: read it next to the resolved entry point. */
function msgpackrVersion(): string {
  let dir = path.dirname(require.resolve('msgpackr'));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

function nsPerBatch(fn: () => unknown): number {
  let n = 0;
  const t0 = performance.now();
  const end = t0 + SLICE_MS;
  let t = t0;
  while (t < end) {
    for (let k = 0; k < 32; k++) fn();
    n += 32;
    t = performance.now();
  }
  return ((t - t0) * 1e6) / n;
}

export async function batchEncoder(): Promise<BenchSection> {
  const packr = new Packr({ useRecords: false, variableMapSize: true });
  const rows: BenchSection['rows'] = [];
  for (const withStreams of [false, true]) {
    const inputs = Array.from({ length: 8 }, (_, i) => batchInput(i, withStreams));
    const bytes = encodeBatch(inputs[0]).length;
    if (!encodeBatch(inputs[0]).equals(packr.pack(asObject(inputs[0])))) throw new Error('bench: encoder and msgpackr disagree');
    let i = 0;
    const ours = (): Buffer => encodeBatch(inputs[i++ & 7]);
    const lib = (): Buffer => packr.pack(asObject(inputs[i++ & 7]));
    nsPerBatch(ours); // warm-up (JIT)
    nsPerBatch(lib);
    const a: number[] = [];
    const b: number[] = [];
    const ratio: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const first = r & 1 ? lib : ours;
      const x = nsPerBatch(first);
      const y = nsPerBatch(first === ours ? lib : ours);
      const [o, l] = first === ours ? [x, y] : [y, x];
      a.push(o);
      b.push(l);
      ratio.push(l / o);
    }
    const what = `${RECORDS} records${withStreams ? ' + 16 stream segments of 512 B' : ''} (${fmt(bytes)} bytes)`;
    rows.push(
      { name: `${what}: hand-written encodeBatch()`, value: median(a) / 1000, unit: 'µs per batch', detail: `median of ${ROUNDS}; ${fmt(Math.min(...a) / 1000, 1)}–${fmt(Math.max(...a) / 1000, 1)}` },
      { name: `${what}: msgpackr Packr.pack() of the same object`, value: median(b) / 1000, unit: 'µs per batch', detail: `median of ${ROUNDS}; ${fmt(Math.min(...b) / 1000, 1)}–${fmt(Math.max(...b) / 1000, 1)}` },
      { name: `${what}: speed ratio hand-written / msgpackr`, value: median(ratio), unit: 'x', detail: `median of per-round ratios, range ${fmt(Math.min(...ratio), 2)}–${fmt(Math.max(...ratio), 2)}; identical bytes (checked)` },
    );
  }
  return {
    title: 'Batch encoder vs msgpackr',
    method:
      `The daemon's hand-written batch encoder (runtime/decoders/batch-encoder.ts) and msgpackr (${msgpackrVersion()}, \`new Packr({ useRecords: false, variableMapSize: true })\`, pure JS unless msgpackr-extract is installed, which only speeds up decoding) ` +
      `encoding the same batches of real-layout TCP records to the same bytes; msgpackr is given the batch as a plain object (building it is part of its cost, as it would be in the daemon). ` +
      `${ROUNDS} rounds of ${SLICE_MS} ms per encoder, alternating which goes first, in one process.`,
    rows,
  };
}
