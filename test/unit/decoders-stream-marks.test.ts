// Arrival-time marks of stream segments (`ts`): kept with the unconsumed bytes,
// shifted when the decoder consumes, bounded, encoded in the batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_STREAM_MARKS, StreamTable, streamKey } from '../../runtime/decoders/stream-table';
import { encodeBatch } from '../../runtime/decoders/batch-encoder';
import { decode as decodeMsgpack } from '../../sdk/host/msgpack';

const table = (): StreamTable => new StreamTable({ maxStreamBytes: 1 << 20, maxStreams: 16 }, () => undefined);

test('marks: one per arrival, kept for unconsumed bytes and shifted to their new offsets', () => {
  const t = table();
  t.append(1n, 0, Buffer.from('aaaa'), false, 100);
  t.append(1n, 0, Buffer.from('bbbb'), false, 200);
  t.append(1n, 0, Buffer.from('cc'), false, 200); // same time: no new mark
  let [seg] = t.take();
  assert.deepEqual(seg!.marks, [0, 100, 4, 200]);
  t.settle(new Map([[streamKey(1n, 0), 6]])); // consumed into the second arrival
  t.append(1n, 0, Buffer.from('dd'), false, 300);
  [seg] = t.take();
  assert.equal(Buffer.concat(seg!.data).toString(), 'bbccdd');
  assert.deepEqual(seg!.marks, [0, 200, 4, 300]);
});

test('marks: bounded per stream (the oldest merge); none when the probe gives no time', () => {
  const t = table();
  for (let i = 0; i < MAX_STREAM_MARKS + 50; i++) t.append(2n, 1, Buffer.from('x'), false, 1000 + i);
  const [seg] = t.take();
  assert.equal(seg!.marks!.length, 2 * MAX_STREAM_MARKS);
  assert.deepEqual(seg!.marks!.slice(0, 2), [0, 1000]);
  assert.deepEqual(seg!.marks!.slice(-2), [MAX_STREAM_MARKS + 49, 1000 + MAX_STREAM_MARKS + 49]);
  const u = table();
  u.append(3n, 0, Buffer.from('y'), false);
  assert.equal(u.take()[0]!.marks, undefined);
});

test('the batch carries marks as segment key `ts`, values above 2^32 included', () => {
  const b = encodeBatch({ probe: 'tcp', schema: 1, records: [], logs: true, streams: [{ connection: 5n, direction: 0, data: [Buffer.from('hi')], eos: false, gap: false, marks: [0, 5_000_000_000_123, 1, 7] }] });
  const m = decodeMsgpack(b) as Record<string, unknown>;
  const seg = (m.streams as Record<string, unknown>[])[0]!;
  const ts = (seg.ts as unknown[]).map((v) => Number(v));
  assert.deepEqual(ts, [0, 5_000_000_000_123, 1, 7]);
});

test('order: within a connection, the direction whose new bytes came first is sent first', () => {
  const t = table();
  // A server: the request arrives (ingress), then its response goes out (egress).
  t.append(5n, 1, Buffer.from('GET'), false, 100);
  t.append(5n, 0, Buffer.from('200'), false, 200);
  // A client: the request goes out first.
  t.append(6n, 0, Buffer.from('GET'), false, 300);
  t.append(6n, 1, Buffer.from('200'), false, 400);
  assert.deepEqual(t.take().map((s) => [s.connection, s.direction]), [[5n, 1], [5n, 0], [6n, 0], [6n, 1]]);
  t.settle(new Map([[streamKey(5n, 0), 3], [streamKey(5n, 1), 3], [streamKey(6n, 0), 3], [streamKey(6n, 1), 3]]));
  // Next round: the server's egress is new first this time.
  t.append(5n, 0, Buffer.from('more'), false, 500);
  t.append(5n, 1, Buffer.from('next'), false, 600);
  assert.deepEqual(t.take().map((s) => [s.connection, s.direction]), [[5n, 0], [5n, 1]]);
});
