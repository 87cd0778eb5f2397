import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeBatch, emptyBatch } from '../../runtime/decoders/batch-encoder';
import { Packr, Unpackr } from 'msgpackr';
import { encodeBatch as encodeFixtureBatch } from '../../sdk/host/fixtures';

/** The oracle: msgpackr, writing what the hand-written encoder must match byte for byte. */
const packr = new Packr({ useRecords: false, variableMapSize: true });
// 'auto': numbers while exact, bigints beyond 2^53 (msgpackr supports it; its typings do not list it yet).
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' as 'bigint' });
const decodeMsgpack = (b: Buffer): unknown => unpackr.unpack(b);
/** Integers as the encoder writes them: numbers below 2^32, bigints above. */
const int = (v: bigint): number | bigint => (v <= 0xffffffffn ? Number(v) : v);

const hex = (s: string): string => s.replace(/\s+/g, '');

test('golden bytes: records only', () => {
  const batch = encodeBatch({
    probe: 'tcp',
    schema: 1,
    records: [Buffer.from([0x01, 0xaa]), Buffer.from([0x02])],
    logs: true,
  });
  assert.equal(
    batch.toString('hex'),
    hex(`85
      a176 01
      a570726f6265 a3746370
      a6736368656d61 01
      a77265636f726473 92 c40201aa c40102
      a46c6f6773 c3`),
  );
});

test('golden bytes: streams with gap, closed, logs off', () => {
  const batch = encodeBatch({
    probe: 'tcp',
    schema: 1,
    records: [],
    streams: [{ connection: 7n, direction: 1, data: [Buffer.from('h'), Buffer.from('i')], eos: false, gap: true }],
    closed: [300n],
    logs: false,
  });
  assert.equal(
    batch.toString('hex'),
    hex(`87
      a176 01
      a570726f6265 a3746370
      a6736368656d61 01
      a77265636f726473 90
      a773747265616d73 91 85 a163 07 a164 01 a464617461 c4026869 a3656f73 c2 a3676170 c3
      a6636c6f736564 91 cd012c
      a46c6f6773 c2`),
  );
});

test('size boundaries: bin8/16/32, array16, u64 connections', () => {
  const recs = [Buffer.alloc(255, 1), Buffer.alloc(256, 2), Buffer.alloc(65536, 3)];
  const many = Array.from({ length: 16 }, (_, i) => Buffer.from([i]));
  const batch = encodeBatch({
    probe: 'x'.repeat(40),
    schema: 70000,
    records: [...recs, ...many],
    closed: [0n, 127n, 128n, 255n, 256n, 65535n, 65536n, 0xffffffffn, 0x100000000n, (1n << 64n) - 1n],
    logs: true,
  });
  const doc = decodeMsgpack(batch) as Record<string, unknown>;
  assert.equal(doc.v, 1);
  assert.equal(doc.probe, 'x'.repeat(40));
  assert.equal(doc.schema, 70000);
  const got = doc.records as Buffer[];
  assert.equal(got.length, 19);
  assert.deepEqual(got.slice(0, 3).map((b) => b.length), [255, 256, 65536]);
  assert.deepEqual(doc.closed, [0, 127, 128, 255, 256, 65535, 65536, 0xffffffff, 0x100000000, (1n << 64n) - 1n]);
  // array16 header for 19 records
  assert.equal(batch.indexOf(Buffer.from([0xdc, 0x00, 0x13])) > 0, true);
});

test('empty batch decodes', () => {
  assert.deepEqual(decodeMsgpack(emptyBatch('tcp')), { v: 1, probe: 'tcp', schema: 1, records: [], logs: false });
});

test('property: every batch is byte for byte what msgpackr writes for it, and reads back the same', () => {
  const seg = fc.record({
    connection: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    direction: fc.constantFrom(0 as const, 1 as const),
    data: fc.array(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)), { maxLength: 3 }),
    eos: fc.boolean(),
    gap: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.string({ maxLength: 300 }),
      fc.oneof(fc.nat(), fc.integer({ min: 0, max: 0xffffffff })),
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }).map((a) => Buffer.from(a)), { maxLength: 40 }),
      fc.array(seg, { maxLength: 20 }),
      fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 20 }),
      fc.boolean(),
      (probe, schema, records, streams, closed, logs) => {
        const batch = encodeBatch({ probe, schema, records, streams, closed, logs });
        const object: Record<string, unknown> = { v: 1, probe, schema, records };
        if (streams.length > 0) {
          object.streams = streams.map((s) => ({
            c: int(s.connection), d: s.direction, data: Buffer.concat(s.data), eos: s.eos, ...(s.gap ? { gap: true } : {}),
          }));
        }
        if (closed.length > 0) object.closed = closed.map(int);
        object.logs = logs;
        assert.equal(batch.toString('hex'), packr.pack(object).toString('hex'));
        const doc = decodeMsgpack(batch) as Record<string, unknown>;
        assert.equal(doc.probe, probe);
        assert.equal(doc.schema, schema);
        assert.equal(doc.logs, logs);
        assert.deepEqual(doc.records, records);
        const big = (v: bigint): number | bigint => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        if (closed.length > 0) assert.deepEqual(doc.closed, closed.map(big));
        else assert.equal('closed' in doc, false);
        if (streams.length > 0) {
          assert.deepEqual(
            doc.streams,
            streams.map((s) => ({
              c: big(s.connection),
              d: s.direction,
              data: Buffer.concat(s.data),
              eos: s.eos,
              ...(s.gap ? { gap: true } : {}),
            })),
          );
        } else assert.equal('streams' in doc, false);
      },
    ),
    { numRuns: 300 },
  );
});

test('the SDK fixtures encode batches the same bytes as the daemon', () => {
  const records = [Buffer.from('01aa', 'hex'), Buffer.alloc(300, 7)];
  const daemon = encodeBatch({
    probe: 'tcp', schema: 1, records, logs: true,
    streams: [{ connection: 5n, direction: 1, data: [Buffer.from('hello')], eos: true, gap: true }],
    closed: [9n, 1n << 40n],
  });
  const fixture = encodeFixtureBatch({
    probe: 'tcp', schema: 1, logs: true, records: records.map((r) => r.toString('hex')),
    streams: [{ c: 5, d: 'ingress', data: 'hello', eos: true, gap: true }], closed: [9, String(1n << 40n)],
  });
  // Same map, keys in another order: the fixture writes logs before records.
  assert.deepEqual(decodeMsgpack(fixture.bytes), decodeMsgpack(daemon));
});

test('a schema beyond 32 bits is refused', () => {
  assert.throws(() => encodeBatch({ probe: 'tcp', schema: 2 ** 32, records: [], logs: false }), /schema must be an integer from 0 to 2\^32 - 1/);
});
