// Fuzzes sdk/guest/c/lf_msgpack.h and lf_batch.h: compiled natively with ASan and
// UBSan (test/sdk/c/mp_harness.c), fed random bytes, random msgpack values from
// msgpackr, as the SDK host encodes them (the C reading must match the value), and random valid
// and damaged batches. Any out-of-bounds read aborts the harness.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { encode, MsgValue } from '../../sdk/host/msgpack';
import { repoRoot } from '../../sdk/host/paths';

let harness = '';

before(() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lf-mp-harness-'));
  harness = path.join(dir, 'mp_harness');
  execFileSync('cc', ['-std=c11', '-O1', '-g', '-Wall', '-Wextra', '-Werror', '-Wconversion', '-Wno-sign-conversion',
    '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
    '-I', path.join(repoRoot(), 'sdk/guest/c'), path.join(repoRoot(), 'test/sdk/c/mp_harness.c'), '-o', harness]);
});

/** Runs the harness on many inputs at once (one process: fast) and returns one line each. */
function run(inputs: Uint8Array[]): string[] {
  const parts: Buffer[] = [];
  for (const b of inputs) {
    const h = Buffer.alloc(4);
    h.writeUInt32LE(b.length);
    parts.push(h, Buffer.from(b));
  }
  const r = spawnSync(harness, { input: Buffer.concat(parts), maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `harness failed (status ${r.status}, signal ${r.signal}):\n${r.stderr.toString().slice(0, 4000)}`);
  const lines = r.stdout.toString().split('\n');
  lines.pop();
  assert.equal(lines.length, inputs.length);
  return lines;
}

const hex = (b: Uint8Array | string): string => Buffer.from(b as never).toString('hex');

/** What the harness prints for a value the encoder wrote. */
function dumpOf(v: MsgValue): string {
  if (v === null) return 'n';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) {
    // The encoder (msgpackr) writes 64-bit values as int64 while they fit, else uint64.
    const n = BigInt(v);
    return n < 0n || (n >= 1n << 32n && n < 1n << 63n) ? `i${n}` : `u${n}`;
  }
  if (typeof v === 'number') return `d${v}`;
  if (typeof v === 'string') return 's' + hex(Buffer.from(v, 'utf8'));
  if (v instanceof Uint8Array) return 'b' + hex(v);
  if (Array.isArray(v)) return `[${v.length}${v.map((x) => ' ' + dumpOf(x)).join('')}]`;
  const keys = Object.keys(v);
  return `{${keys.length}${keys.map((k) => ` ${dumpOf(k)} ${dumpOf(v[k])}`).join('')}}`;
}

const scalar: fc.Arbitrary<MsgValue> = fc.oneof(
  fc.constant(null), fc.boolean(),
  fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
  fc.integer({ min: -70000, max: 70000 }),
  fc.string({ maxLength: 40 }), fc.string({ minLength: 200, maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }),
);
const value: fc.Arbitrary<MsgValue> = fc.letrec<{ v: MsgValue }>((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 20 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 18 })),
})).v;

test('random bytes never crash the reader or the batch parser', () => {
  const inputs = fc.sample(fc.uint8Array({ maxLength: 512 }), 3000);
  // Bias towards msgpack-looking input: a map header, then random bytes.
  inputs.push(...fc.sample(fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.from([0x85, 0xa1, 0x76, 0x01, ...b])), 2000));
  for (const line of run(inputs)) assert.doesNotMatch(line, /SKIPMISMATCH|ITERFAIL/);
});

test('typed reads return exactly what the encoder wrote', () => {
  const values = fc.sample(value, 1500);
  values.push(0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -1, -32, -33, -128, -129, -32768, -32769,
    (1n << 64n) - 1n, -(1n << 63n), 1.5, -0.25, '', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(70000),
    new Uint8Array(0), new Uint8Array(70000), Array(16).fill(1), Array(70000).fill(null));
  const lines = run(values.map((v) => encode(v)));
  values.forEach((v, i) => assert.equal(lines[i], `${dumpOf(v)} | ${lines[i].split(' | ')[1]}`));
});

test('every truncation of a valid value is an EOF error, never a crash', () => {
  const samples = fc.sample(value, 200).map((v) => encode(v)).filter((b) => b.length <= 4000);
  const inputs: Uint8Array[] = [];
  // Every cut of small values; ~100 spread cuts of bigger ones (keeps the input linear).
  for (const b of samples) for (let n = 0; n < b.length; n += Math.max(1, b.length >> 7)) inputs.push(b.subarray(0, n));
  for (const line of run(inputs)) assert.match(line.split(' | ')[0], /^.*E-1@\d+$/);
});

const seg = fc.record({
  c: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), d: fc.integer({ min: 0, max: 1 }),
  data: fc.uint8Array({ maxLength: 64 }), eos: fc.boolean(), gap: fc.boolean(),
});
const batchArb = fc.record({
  v: fc.constant(1), probe: fc.constantFrom('tcp', 'openssl', ''), schema: fc.integer({ min: 0, max: 9 }),
  logs: fc.boolean(),
  records: fc.array(fc.uint8Array({ minLength: 1, maxLength: 48 }), { maxLength: 12 }),
  streams: fc.array(seg, { maxLength: 6 }),
  closed: fc.array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { maxLength: 5 }),
  zzz: fc.option(value, { nil: undefined }), // an unknown key: must be skipped
});

test('valid batches are read field by field; damaged ones fail cleanly', () => {
  const batches = fc.sample(batchArb, 800);
  const lines = run(batches.map((b) => encode(b as unknown as MsgValue)));
  batches.forEach((b, i) => {
    const want = `Bv1 p${hex(b.probe)} s${b.schema} l${b.logs ? 1 : 0}` +
      b.records.map((r) => ' r' + hex(r)).join('') +
      b.streams.map((s) => ` c${s.c} d${s.d} e${s.eos ? 1 : 0} g${s.gap ? 1 : 0} ${hex(s.data)}`).join('') +
      b.closed.map((c) => ` x${c}`).join('');
    assert.equal(lines[i].split(' | ')[1], want);
  });
  // Flip, drop and truncate bytes of valid batches.
  const damaged = fc.sample(fc.tuple(batchArb, fc.nat(), fc.nat(255), fc.nat(3)), 3000).map(([b, at, byte, how]) => {
    const buf = Buffer.from(encode(b as unknown as MsgValue));
    const i = at % Math.max(buf.length, 1);
    if (how === 0) buf[i] = byte;
    else if (how === 1) return Buffer.concat([buf.subarray(0, i), buf.subarray(i + 1)]);
    else if (how === 2) return buf.subarray(0, i);
    else buf[i] ^= 1 << (byte & 7);
    return buf;
  });
  for (const line of run(damaged)) assert.doesNotMatch(line, /SKIPMISMATCH|ITERFAIL/);
});
