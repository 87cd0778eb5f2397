import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { walkBatch } from '../../runtime/probes/batch';
import { packBatch } from '../helpers/tcp-records';

test('walks records back to back with 8-byte alignment', () => {
  const recs = [Buffer.from('abc'), Buffer.from('defghijk'), Buffer.from('l')];
  const seen: string[] = [];
  const walk = walkBatch(packBatch(recs), (b, off, len) => seen.push(b.toString('latin1', off, off + len)));
  assert.deepEqual(seen, ['abc', 'defghijk', 'l']);
  assert.deepEqual(walk, { records: 3, malformedBytes: 0 });
});

test('a truncated batch stops at the last whole record and reports the rest', () => {
  const full = packBatch([Buffer.from('abcd'), Buffer.from('efgh')]);
  const walk = walkBatch(full.subarray(0, full.length - 2), () => {});
  assert.equal(walk.records, 1);
  assert.equal(walk.malformedBytes, 6);
});

test('random bytes never throw and never read outside the batch', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      const buf = Buffer.from(bytes);
      walkBatch(buf, (b, off, len) => assert.ok(off >= 4 && off + len <= b.length));
    }),
  );
});
