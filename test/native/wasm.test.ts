// Tests of the WebAssembly decoder engine in native/lightfoot.node (wasmtime): exact
// outputs of a well-behaved C decoder and exact faults of hostile ones. No root needed.
// The fixtures (test/fixtures/wasm/*.c) are built with sdk/scripts/build-c-component.sh
// into $LIGHTFOOT_CACHE/wasm-fixtures/<hash of inputs>, outside the checkout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { buildFixtures, repoRoot, type Fixture } from '../helpers/wasm-fixtures';
import type { DecodeOutput, DecoderInstance, WasmComponent, WasmEngine as WasmEngineT } from '../../runtime/native/binding';

type Binding = typeof import('../../runtime/native/binding');

const root = repoRoot();
const nb = require('../../runtime/native/binding') as Binding;

const fixtureDir = buildFixtures();
const bytes = (f: Fixture | 'empty' | 'wasi.core') => readFileSync(path.join(fixtureDir, `${f}.wasm`));

// --- a minimal msgpack encoder for batches (sdk/docs/batch-format.md) ---
type Mp = number | string | Buffer | boolean | Mp[] | { [k: string]: Mp };
function mp(v: Mp): Buffer {
  if (typeof v === 'boolean') return Buffer.from([v ? 0xc3 : 0xc2]);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error('only u32 here');
    if (v < 0x80) return Buffer.from([v]);
    const b = Buffer.alloc(5); b[0] = 0xce; b.writeUInt32BE(v, 1); return b;
  }
  if (typeof v === 'string') {
    const s = Buffer.from(v);
    if (s.length < 32) return Buffer.concat([Buffer.from([0xa0 | s.length]), s]);
    const h = Buffer.alloc(3); h[0] = 0xda; h.writeUInt16BE(s.length, 1); return Buffer.concat([h, s]);
  }
  if (Buffer.isBuffer(v)) {
    const h = Buffer.alloc(3); h[0] = 0xc5; h.writeUInt16BE(v.length, 1); return Buffer.concat([h, v]);
  }
  if (Array.isArray(v)) {
    const h = Buffer.alloc(3); h[0] = 0xdc; h.writeUInt16BE(v.length, 1);
    return Buffer.concat([h, ...v.map(mp)]);
  }
  const keys = Object.keys(v);
  return Buffer.concat([Buffer.from([0x80 | keys.length]), ...keys.flatMap((k) => [mp(k), mp(v[k])])]);
}
/** A tcp batch of `n` 128-byte records (kind byte 1), plus keys the decoder must skip. */
function batch(n: number, probe = 'tcp'): Buffer {
  const records = Array.from({ length: n }, (_, i) => Buffer.alloc(128, i & 0xff).fill(1, 0, 1));
  return mp({ v: 1, probe, schema: 3, records, closed: [1, 2, 300000], logs: true });
}

function expectedOutput(records: number): DecodeOutput {
  return {
    metrics: [{ metric: 0, labels: ['tcp'], op: 'add', value: records }],
    logs: [{
      level: 'warn', message: 'batch', connection: 0xfedcba9876543210n,
      fields: [
        ['probe', 'tcp'], ['records', records], ['min', -(2n ** 63n)], ['edge', 2 ** 53],
        ['max', 2n ** 64n - 1n], ['ratio', 0.25], ['ok', true],
      ],
    }],
    annotations: [{ connection: 42n, key: 'protocol', value: 'fixture/1 é' }],
    streams: [{ connection: 7n, direction: 'ingress', consumed: records }],
  };
}

const LIMITS = { memoryBytes: 16 << 20, deadlineMs: 50 };
let sharedEngine: WasmEngineT | undefined;
function engine(): WasmEngineT {
  sharedEngine ??= new nb.WasmEngine({ cacheDir: path.join(os.tmpdir(), 'lf-wasm-test-cache'), epochTickMs: 5 });
  return sharedEngine;
}
const compiled = new Map<Fixture, WasmComponent>();
function component(f: Fixture): WasmComponent {
  let c = compiled.get(f);
  if (!c) { c = engine().compile(bytes(f)); compiled.set(f, c); }
  return c;
}
function instance(f: Fixture, limits = LIMITS): DecoderInstance {
  return component(f).instantiate(limits);
}
function ms(t0: bigint): number { return Number(process.hrtime.bigint() - t0) / 1e6; }

function assertFault(fn: () => unknown, kind: string, msg: RegExp): void {
  assert.throws(fn, (e: Error & { code?: string; faultKind?: string }) => {
    assert.equal(e.code, 'LF_ERR_DECODER_FAULT');
    assert.equal(e.faultKind, kind);
    assert.match(e.message, msg);
    return true;
  });
}
function assertPoisoned(inst: DecoderInstance, cause: string): void {
  assert.equal(inst.poisoned, true);
  assert.throws(() => inst.decode(batch(1)), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'LF_ERR_CLOSED');
    assert.equal(e.message, `decode: decoder instance is poisoned (${cause} fault): instantiate the component again`);
    return true;
  });
}

test('compile: sha256, imports, exports, world of the well-behaved decoder', () => {
  const c = component('good');
  assert.equal(c.sha256, createHash('sha256').update(bytes('good')).digest('hex'));
  // The exported interface `use`s lightfoot:decoder/types, which WIT makes a (types-only) import.
  assert.deepEqual(c.imports(), ['lightfoot:decoder/types@0.2.0']);
  assert.deepEqual(c.exports(), ['lightfoot:decoder/decoder@0.2.0']);
  assert.equal(c.world(), 'decoder-plugin');
});

test('describe() returns exactly what the decoder declared', () => {
  const inst = instance('good');
  assert.deepEqual(inst.describe(), {
    name: 'fixture-good', version: '1.2.3',
    subscriptions: [{ probe: 'tcp', kinds: [1, 2], streams: true }],
    metrics: [{
      name: 'lightfoot_fixture_records_total', kind: 'counter', help: 'Records seen by the fixture decoder.',
      labels: ['probe'], buckets: [],
    }],
  });
  assert.equal(inst.poisoned, false);
  assert.ok(inst.memoryBytes() >= 65536 && inst.memoryBytes() % 65536 === 0, `memoryBytes ${inst.memoryBytes()}`);
});

test('decode() output, value by value (bigint connections, number|bigint fields)', () => {
  const inst = instance('good');
  assert.deepEqual(inst.decode(batch(0)), expectedOutput(0));
  assert.deepEqual(inst.decode(batch(3)), expectedOutput(3));
  const big = inst.decode(batch(256));
  assert.deepEqual(big, expectedOutput(256));
  assert.equal(typeof big.logs[0].fields[3][1], 'number'); // 2^53 is still a number
  assert.equal(typeof big.logs[0].fields[4][1], 'bigint');
});

test('decode-error results throw LF_ERR_DECODE and leave the instance usable', () => {
  const inst = instance('good');
  assert.throws(() => inst.decode(Buffer.from([0x01, 0x02])), {
    code: 'LF_ERR_DECODE', decodeError: 'malformed', message: 'decode: malformed: not a msgpack map',
  });
  assert.throws(() => inst.decode(batch(1, 'udp')), {
    code: 'LF_ERR_DECODE', decodeError: 'unsupported', message: 'decode: unsupported: probe is not tcp',
  });
  assert.equal(inst.poisoned, false);
  assert.deepEqual(inst.decode(batch(2)), expectedOutput(2));
});

test('decodeAsync() gives the same output as decode(); concurrent calls are serialized', async () => {
  const inst = instance('good');
  const b = batch(17);
  const sync = inst.decode(b);
  assert.deepEqual(await inst.decodeAsync(b), sync);
  const all = await Promise.all(Array.from({ length: 8 }, (_, i) => inst.decodeAsync(batch(i))));
  all.forEach((o, i) => assert.deepEqual(o, expectedOutput(i)));
  await assert.rejects(inst.decodeAsync(Buffer.from([0xc1])), { code: 'LF_ERR_DECODE', decodeError: 'malformed' });
});

test('an infinite loop is stopped by the epoch deadline (50 ms, tick 5 ms) in < 200 ms', async (t) => {
  const inst = instance('loop');
  const t0 = process.hrtime.bigint();
  assertFault(() => inst.decode(batch(1)), 'timeout', /^decode: decoder fault timeout \(deadline 50 ms\): wasm trap: interrupt$/);
  const took = ms(t0);
  t.diagnostic(`infinite loop stopped after ${took.toFixed(1)} ms (deadline 50 ms, tick 5 ms)`);
  assert.ok(took >= 50 && took < 200, `stopped after ${took} ms`);
  assertPoisoned(inst, 'timeout');
  // A fresh instance of the same component works until it loops again.
  const fresh = instance('loop');
  assert.equal(fresh.describe().name, 'fixture-loop');
  // The same through the thread pool.
  const t1 = process.hrtime.bigint();
  await assert.rejects(fresh.decodeAsync(batch(1)), { code: 'LF_ERR_DECODER_FAULT', faultKind: 'timeout' });
  assert.ok(ms(t1) < 200);
  assert.equal(fresh.poisoned, true);
});

test('fuel: exhaustion is a timeout; fuel needs an engine with consumeFuel', () => {
  const fe = new nb.WasmEngine({ cacheDir: '', consumeFuel: true });
  const c = fe.compile(bytes('loop'));
  const inst = c.instantiate({ ...LIMITS, deadlineMs: 10_000, fuel: 1_000_000 });
  const t0 = process.hrtime.bigint();
  assertFault(() => inst.decode(batch(1)), 'timeout', /^decode: decoder fault timeout \(out of fuel\): wasm trap: all fuel consumed/);
  assert.ok(ms(t0) < 1000);
  // Fuel is per call: a well-behaved decoder gets a full tank each time.
  const good = fe.compile(bytes('good')).instantiate({ ...LIMITS, fuel: 1_000_000 });
  for (let i = 0; i < 5; i++) assert.deepEqual(good.decode(batch(64)), expectedOutput(64));
  assert.throws(() => component('good').instantiate({ ...LIMITS, fuel: 1000 }), {
    code: 'LF_ERR_CONFIG', message: 'instantiating decoder: fuel needs a WasmEngine created with consumeFuel: true',
  });
});

function readStatusKb(field: string): number {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  if (!m) throw new Error(`no ${field} in /proc/self/status`);
  return Number(m[1]) * 1024;
}

test('an unbounded allocator hits memoryBytes and faults oom; host RSS grows < 2x the cap', (t) => {
  const cap = 32 << 20;
  const inst = instance('alloc', { memoryBytes: cap, deadlineMs: 2000 });
  writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM (peak RSS) to the current RSS
  const rss0 = readStatusKb('VmRSS');
  const t0 = process.hrtime.bigint();
  assertFault(() => inst.decode(batch(1)), 'oom', /^decode: decoder fault oom: forcing trap when growing memory to \d+ bytes$/);
  const took = ms(t0);
  const peak = readStatusKb('VmHWM') - rss0;
  t.diagnostic(`allocator stopped after ${took.toFixed(1)} ms; peak RSS growth ${(peak / 2 ** 20).toFixed(1)} MiB for a ${cap / 2 ** 20} MiB cap`);
  assert.ok(peak < 2 * cap, `peak RSS grew by ${peak} bytes`);
  assert.equal(inst.memoryBytes(), cap); // it got exactly up to the cap
  assertPoisoned(inst, 'oom');
  // A cap below the module's initial memory fails at instantiation, also as oom.
  assertFault(() => instance('good', { memoryBytes: 65536, deadlineMs: 50 }), 'oom', /^instantiating decoder: decoder fault oom: /);
});

test('a trapping decoder faults trap on every decode (each on a fresh instance)', () => {
  const a = instance('trap');
  assert.equal(a.describe().name, 'fixture-trap');
  assertFault(() => a.decode(batch(1)), 'trap', /^decode: decoder fault trap: wasm trap: wasm `unreachable` instruction executed$/);
  assertPoisoned(a, 'trap');
  for (let i = 0; i < 3; i++) {
    const b = instance('trap');
    assertFault(() => b.decode(batch(1)), 'trap', /^decode: decoder fault trap: wasm trap: wasm `unreachable` instruction executed$/);
    assert.equal(b.poisoned, true);
  }
});

test('garbage output is returned exactly as the guest produced it (the host validates)', () => {
  const out = instance('garbage').decode(batch(1));
  assert.deepEqual(out, {
    metrics: [
      { metric: 7, labels: ['tcp'], op: 'add', value: 1 },
      { metric: 0, labels: [], op: 'add', value: 1 },
      { metric: 0, labels: ['tcp', 'extra'], op: 'add', value: 1 },
      { metric: 0, labels: ['tcp'], op: 'add', value: -3 },
      { metric: 0, labels: ['tcp'], op: 'set', value: NaN },
      { metric: 0, labels: ['tcp'], op: 'observe', value: Infinity },
    ],
    logs: [],
    annotations: [],
    streams: [{ connection: 0n, direction: 'egress', consumed: 0xffffffff }],
  });
});

test('a component importing WASI is refused at compile(), naming the imports', () => {
  assert.throws(() => engine().compile(bytes('wasi')), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'LF_ERR_WASM_IMPORT');
    assert.match(e.message, /^imports wasi:io\/error@0\.2\.\d+, .*wasi:filesystem\/types@0\.2\.\d+.*: decoders get no imports$/);
    assert.doesNotMatch(e.message, /lightfoot:decoder\/types/);
    return true;
  });
  // The official pipeline refuses the same source before making a component.
  assert.throws(
    () => execFileSync('bash', [path.join(root, 'sdk', 'scripts', 'build-c-component.sh'), '-o', path.join(os.tmpdir(), 'lf-never.wasm'),
      path.join(root, 'test', 'fixtures', 'wasm', 'wasi_import.c')], { stdio: ['ignore', 'ignore', 'pipe'] }),
    (e: Error & { status?: number; stderr?: Buffer }) => {
      assert.equal(e.status, 1);
      assert.match(String(e.stderr), /wasi_snapshot_preview1\.fd_write/);
      return true;
    });
});

test('bad bytes, core modules and components without the decoder export are refused', () => {
  assert.throws(() => engine().compile(Buffer.from('not wasm')), { code: 'LF_ERR_WASM_INVALID' });
  assert.throws(() => engine().compile(bytes('wasi.core')), { code: 'LF_ERR_WASM_INVALID' });
  assert.throws(() => engine().compile(bytes('empty')), {
    code: 'LF_ERR_WASM_WORLD', message: 'does not export lightfoot:decoder/decoder@0.2.0 (exports: none)',
  });
  assert.throws(() => component('good').instantiate({ memoryBytes: 1 << 20, deadlineMs: 0 }), { code: 'LF_ERR_CONFIG' });
});

test('compile cache: a second compile of the same bytes in a new engine is faster', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lf-wasm-cache-'));
  try {
    const t0 = process.hrtime.bigint();
    new nb.WasmEngine({ cacheDir: dir }).compile(bytes('good'));
    const cold = ms(t0);
    const t1 = process.hrtime.bigint();
    new nb.WasmEngine({ cacheDir: dir }).compile(bytes('good'));
    const warm = ms(t1);
    const t2 = process.hrtime.bigint();
    new nb.WasmEngine({ cacheDir: '' }).compile(bytes('good'));
    const none = ms(t2);
    t.diagnostic(`compile(good, ${bytes('good').length} B): cold ${cold.toFixed(1)} ms, warm (cache hit) ${warm.toFixed(1)} ms, no cache ${none.toFixed(1)} ms`);
    assert.ok(warm < cold, `warm ${warm} ms vs cold ${cold} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function epochThreads(): number {
  return readdirSync('/proc/self/task').filter((tid) => {
    try { return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'lf-wasm-epoch'; } catch { return false; }
  }).length;
}

test('the epoch thread ends once its engine (and everything using it) is garbage', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const before = epochThreads();
  (() => {
    const e = new nb.WasmEngine({ cacheDir: '' });
    e.compile(bytes('good')).instantiate(LIMITS).describe();
    assert.equal(epochThreads(), before + 1);
  })();
  for (let i = 0; i < 20 && epochThreads() > before; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(epochThreads() <= before, `${epochThreads()} epoch threads, ${before} before`);
});

test('measurements: instantiate, per-call overhead (sync/async), 256-record throughput', async (t) => {
  const c = component('good');
  let t0 = process.hrtime.bigint();
  const N_INST = 50;
  for (let i = 0; i < N_INST; i++) c.instantiate(LIMITS);
  t.diagnostic(`instantiate: ${(ms(t0) / N_INST * 1000).toFixed(0)} us`);

  const inst = c.instantiate(LIMITS);
  const empty = batch(0);
  for (let i = 0; i < 200; i++) inst.decode(empty);
  const N = 5000;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) inst.decode(empty);
  t.diagnostic(`decode(empty batch) sync: ${(ms(t0) / N * 1000).toFixed(1)} us/call`);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N / 5; i++) await inst.decodeAsync(empty);
  t.diagnostic(`decodeAsync(empty batch) sequential: ${(ms(t0) / (N / 5) * 1000).toFixed(1)} us/call`);

  const b256 = batch(256);
  for (let i = 0; i < 50; i++) inst.decode(b256);
  const M = 2000;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) inst.decode(b256);
  const per = ms(t0) / M;
  t.diagnostic(`decode(256 records, ${b256.length} B) sync: ${(per * 1000).toFixed(1)} us/batch = ${(256 / per / 1000).toFixed(2)} M records/s`);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < M / 4; i++) await inst.decodeAsync(b256);
  const perA = ms(t0) / (M / 4);
  t.diagnostic(`decodeAsync(256 records) sequential: ${(perA * 1000).toFixed(1)} us/batch = ${(256 / perA / 1000).toFixed(2)} M records/s`);
  assert.deepEqual(inst.decode(b256), expectedOutput(256));
});

// --- decodeCompact (docs/native-api.md, "decodeCompact") ---
import type { CompactOutput } from '../../runtime/native/binding';
import { compactFromObject } from '../../runtime/decoders/compact-output';

/** test/decoders/fixtures/compact_logs.c, built once per content hash (like the fixtures above). */
function compactLogsWasm(): Buffer {
  const src = path.join(root, 'test', 'decoders', 'fixtures', 'compact_logs.c');
  const script = path.join(root, 'sdk', 'scripts', 'build-c-component.sh');
  const common = path.join(root, 'test', 'fixtures', 'wasm', 'fixture_common.h');
  const h = createHash('sha256');
  for (const f of [script, path.join(root, 'sdk', 'wit', 'decoder.wit'), common, src]) h.update(f).update(readFileSync(f));
  const dir = path.join(process.env.LIGHTFOOT_CACHE ?? '/var/cache/lightfoot', 'wasm-fixtures', `compact-${h.digest('hex').slice(0, 16)}`);
  const out = path.join(dir, 'compact_logs.wasm');
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${out}.${process.pid}`;
    execFileSync('bash', [script, '-I', path.dirname(common), '-o', tmp, src], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, out);
  }
  return readFileSync(out);
}

/** Plain values for deepEqual (typed arrays → arrays). */
function plain(c: CompactOutput): unknown {
  return {
    strings: c.strings, metric: [...c.metric], op: [...c.op], value: [...c.value],
    labelStart: [...c.labelStart], labelIdx: [...c.labelIdx],
    logs: { level: [...c.logs.level], message: [...c.logs.message], connection: [...c.logs.connection], tsNs: [...c.logs.tsNs], fieldsJson: c.logs.fieldsJson },
    invalidLogs: c.invalidLogs, annotations: c.annotations, streams: c.streams,
  };
}

test('decodeCompact(): exact columns of the well-behaved decoder; async and TS conversion agree', async () => {
  const inst = instance('good');
  const out = inst.decodeCompact(batch(3));
  assert.ok(out.metric instanceof Uint32Array && out.op instanceof Uint8Array && out.value instanceof Float64Array);
  assert.ok(out.labelStart instanceof Uint32Array && out.labelIdx instanceof Uint32Array);
  assert.ok(out.logs.connection instanceof BigUint64Array && out.logs.tsNs instanceof BigUint64Array);
  assert.deepEqual(plain(out), {
    strings: ['tcp', 'batch'], metric: [0], op: [0], value: [3], labelStart: [0, 1], labelIdx: [0],
    logs: {
      level: [2], message: [1], connection: [0xfedcba9876543210n], tsNs: [0n],
      fieldsJson: ['"probe":"tcp","records":3,"min":"-9223372036854775808","edge":9007199254740992,"max":"18446744073709551615","ratio":0.25,"ok":true'],
    },
    invalidLogs: 0,
    annotations: [{ connection: 42n, key: 'protocol', value: 'fixture/1 é' }],
    streams: [{ connection: 7n, direction: 'ingress', consumed: 3 }],
  });
  for (const n of [0, 17, 256]) {
    const b = batch(n);
    assert.deepEqual(plain(inst.decodeCompact(b)), plain(compactFromObject(inst.decode(b))));
    assert.deepEqual(plain(await inst.decodeCompactAsync(b)), plain(inst.decodeCompact(b)));
  }
  assert.throws(() => inst.decodeCompact(Buffer.from([0x01])), { code: 'LF_ERR_DECODE', decodeError: 'malformed', message: 'decode: malformed: not a msgpack map' });
  await assert.rejects(inst.decodeCompactAsync(batch(1, 'udp')), { code: 'LF_ERR_DECODE', decodeError: 'unsupported' });
  assert.equal(inst.poisoned, false);
});

test('decodeCompact(): garbage is passed through as columns (the host validates); faults poison', () => {
  assert.deepEqual(plain(instance('garbage').decodeCompact(batch(1))), {
    strings: ['tcp', 'extra'], metric: [7, 0, 0, 0, 0, 0], op: [0, 0, 0, 0, 1, 2], value: [1, 1, 1, -3, NaN, Infinity],
    labelStart: [0, 1, 1, 3, 4, 5, 6], labelIdx: [0, 0, 1, 0, 0, 0],
    logs: { level: [], message: [], connection: [], tsNs: [], fieldsJson: [] },
    invalidLogs: 0, annotations: [], streams: [{ connection: 0n, direction: 'egress', consumed: 0xffffffff }],
  });
  const trap = instance('trap');
  assertFault(() => trap.decodeCompact(batch(1)), 'trap', /decode: decoder fault trap/);
  assert.equal(trap.poisoned, true);
});

test('decodeCompact(): log fields as JSON — escaping, reserved keys, big integers, NaN, tsNs, duplicates, limits', () => {
  const inst = engine().compile(compactLogsWasm()).instantiate(LIMITS);
  const out = inst.decodeCompact(batch(1));
  const j = out.logs.fieldsJson;
  assert.equal(out.invalidLogs, 4); // empty message, empty key, 65 fields, 4097-char string
  assert.deepEqual([...out.logs.message].map((i) => out.strings[i]), ['say "hi"\n', 'reserved', 'numbers', 'dups']);
  assert.deepEqual([...out.logs.connection], [7n, 0n, 1n, 0n]);
  assert.deepEqual([...out.logs.tsNs], [0n, 5_000_000_000n, 0n, 0n]);
  // Exactly what JSON.stringify writes for the same values.
  assert.equal(j[0], `"text":${JSON.stringify('q" b\\ \x01\x08\x09\x0a\x0c\x0d\x1f end')},"uni":"é€😀\u2028","k\\"ey":"v"`);
  assert.equal(j[0], '"text":"q\\" b\\\\ \\u0001\\b\\t\\n\\f\\r\\u001f end","uni":"é€😀\u2028","k\\"ey":"v"');
  assert.equal(j[1], '"field_event":"e","field_decoder":"d","field_level":"l","field_connection":"c","field_annotations":"a","field_ts":"t","field_time":"tm","field_x":"fx"');
  assert.equal(j[2], '"u53":9007199254740992,"u54":"9007199254740993","imin":"-9223372036854775808","ineg":-42,"nan":"NaN","inf":"Infinity","ninf":"-Infinity","frac":4998.87,"big":1e+21,"small":1.5e-7,"negzero":0,"no":false');
  assert.equal(j[3], '"a":3,"tsNs":"not a number","b":2');
  for (const s of j) JSON.parse(`{${s}}`); // all valid JSON
  // The object form of the same output, converted by the TS rules, agrees.
  assert.deepEqual(plain(out), plain(compactFromObject(inst.decode(batch(1)))));
});
