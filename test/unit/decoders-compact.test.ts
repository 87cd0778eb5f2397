// The compact output path (engine.ts CompactOutput): the fake engine turns its
// scripted object output into columns (runtime/decoders/compact-output.ts), the
// host validates and applies them (DecoderMetrics.applyCompact) and the lane
// writes event lines by concatenation. Same rules and same event lines as the
// object path; see also test/native/wasm.test.ts for the engine's own columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { compactFromObject, renderLogFields } from '../../runtime/decoders/compact-output';
import type { CompactOutput, DecodeOutput, DecoderInfo, LogEvent, MetricUpdate } from '../../runtime/decoders/engine';
import { createHarness, emptyOutput, fakeInfo, type Harness } from '../../runtime/decoders/testing';
import { DecoderMetricRegistry } from '../../runtime/decoders/metric-registry';
import { createEventWriter } from '../../runtime/log/event-writer';
import { nullLogger } from '../../runtime/log/logger';

const INFO: DecoderInfo = fakeInfo('c', {
  metrics: [
    { name: 'lightfoot_c_bytes_total', kind: 'counter', help: 'Bytes.', labels: ['peer', 'dir'], buckets: [] },
    { name: 'lightfoot_c_open', kind: 'gauge', help: 'Open.', labels: ['peer'], buckets: [] },
    { name: 'lightfoot_c_rtt_seconds', kind: 'histogram', help: 'RTT.', labels: [], buckets: [0.1, 1] },
  ],
});

function setup(compact: boolean, reply: (n: number) => DecodeOutput, over: Parameters<Harness['manager']>[0] = {}) {
  const h = createHarness(nullLogger, { compact });
  h.add('/d/c.wasm', { info: INFO, decode: (_b, { n }) => reply(n) });
  const m = h.manager(over);
  const call = async (): Promise<void> => {
    m.dispatch('tcp', [Buffer.from([1])]);
    h.scheduler.run();
    await m.flush();
  };
  return { h, m, call };
}

const up = (metric: number, labels: string[], op: MetricUpdate['op'], value: number): MetricUpdate => ({ metric, labels, op, value });

test('valid updates are applied from the columns; label values resolved through strings', async () => {
  const { h, call } = setup(true, () => emptyOutput({
    metrics: [up(0, ['10.0.0.1', 'tx'], 'add', 5), up(0, ['10.0.0.1', 'tx'], 'add', 2), up(0, ['10.0.0.2', 'rx'], 'add', 1),
      up(1, ['10.0.0.1'], 'set', 3), up(1, ['10.0.0.1'], 'add', -1), up(2, [], 'observe', 0.5)],
  }));
  await call();
  assert.equal(await h.metric('lightfoot_c_bytes_total', { peer: '10.0.0.1', dir: 'tx' }), 7);
  assert.equal(await h.metric('lightfoot_c_bytes_total', { peer: '10.0.0.2', dir: 'rx' }), 1);
  assert.equal(await h.metric('lightfoot_c_open', { peer: '10.0.0.1' }), 2);
  assert.equal(await h.metric('lightfoot_c_rtt_seconds', {}, 'lightfoot_c_rtt_seconds_count'), 1);
  assert.equal(await h.metric('lightfoot_decoder_calls_total', { decoder: 'c', result: 'ok' }), 1);
});

const BAD: [string, MetricUpdate, RegExp][] = [
  ['unknown metric index', up(3, [], 'add', 1), /metric update 1: metric index 3 is not declared \(the decoder declared 3\)/],
  ['too few labels', up(0, ['a'], 'add', 1), /1 label values for 2 labels \[peer, dir\]/],
  ['too many labels', up(1, ['a', 'b'], 'set', 1), /2 label values for 1 labels \[peer\]/],
  ['NaN', up(1, ['a'], 'set', NaN), /value NaN is not a finite number/],
  ['Infinity', up(0, ['a', 'b'], 'add', Infinity), /value Infinity is not a finite number/],
  ['negative add to a counter', up(0, ['a', 'b'], 'add', -1), /negative add -1 to a counter/],
  ['set on a counter', up(0, ['a', 'b'], 'set', 1), /"set" on a counter; only gauges can be set/],
  ['observe on a gauge', up(1, ['a'], 'observe', 1), /"observe" on a gauge; only histograms observe/],
  ['add on a histogram', up(2, [], 'add', 1), /"add" on a histogram; use "observe"/],
  ['label value too long', up(1, ['x'.repeat(1025)], 'set', 1), /label value longer than 1024 characters/],
];

for (const [what, bad, why] of BAD) {
  test(`bad_output (compact): ${what} rejects the whole output, nothing applied`, async () => {
    const { h, call } = setup(true, () => emptyOutput({ metrics: [up(0, ['p', 'tx'], 'add', 1), bad] }));
    await call();
    assert.equal(await h.metric('lightfoot_c_bytes_total', { peer: 'p', dir: 'tx' }), undefined);
    assert.equal(await h.metric('lightfoot_decoder_faults_total', { decoder: 'c', kind: 'bad_output' }), 1);
    assert.equal(await h.metric('lightfoot_decoder_calls_total', { decoder: 'c', result: 'bad_output' }), 1);
    // The same message as the object path gives.
    const obj = setup(false, () => emptyOutput({ metrics: [up(0, ['p', 'tx'], 'add', 1), bad] }));
    await obj.call();
    assert.equal(await obj.h.metric('lightfoot_decoder_faults_total', { decoder: 'c', kind: 'bad_output' }), 1);
    assert.ok(why instanceof RegExp); // messages: next test
  });
}

test('bad_output messages (compact) are those of the object path', () => {
  // Through DecoderMetrics directly: the host passes the message on.
  const h = createHarness(nullLogger);
  const reg = new DecoderMetricRegistry({ registry: h.registry, maxSeries: 100 });
  const dm = reg.register('c', INFO.metrics);
  for (const [, bad, why] of BAD) {
    const out = emptyOutput({ metrics: [up(0, ['p', 'tx'], 'add', 1), bad] });
    assert.match(dm.applyCompact(compactFromObject(out)) ?? '', why);
    assert.equal(dm.applyCompact(compactFromObject(out)), dm.apply(out.metrics));
  }
  // Column garbage only a compact engine can produce.
  const ok = compactFromObject(emptyOutput({ metrics: [up(1, ['a'], 'set', 1)] }));
  assert.match(dm.applyCompact({ ...ok, op: Uint8Array.of(7) }) ?? '', /unknown op 7/);
  assert.match(dm.applyCompact({ ...ok, labelIdx: Uint32Array.of(9) }) ?? '', /label string index 9 out of range/);
  assert.match(dm.applyCompact({ ...ok, labelStart: Uint32Array.of(0) }) ?? '', /inconsistent lengths/);
  assert.equal(dm.applyCompact(ok), null);
});

function logEvent(message: string, connection: bigint, fields: LogEvent['fields'], level: LogEvent['level'] = 'info'): LogEvent {
  return { level, message, connection, fields };
}

const LOGS: LogEvent[] = [
  logEvent('open', 42n, [['pid', 7], ['comm', 'no"de\n'], ['preexisting', false], ['tsNs', 5_000_000_000], ['event', 'x'], ['time', 't']]),
  logEvent('close', 0n, [['bytes', 2n ** 60n], ['ratio', NaN], ['tsNs', 2n ** 60n]]),
  logEvent('quiet', 1n, [['a', 1]], 'debug'),
  logEvent('plain', 9n, []),
  logEvent('', 1n, []), // invalid: empty message
  logEvent('badkey', 1n, [['', 1]]), // invalid
];

test('event lines: the compact path writes what the object path writes (annotations, levels, invalid counted)', async () => {
  const clock = { toIso: (ns: bigint) => `T${ns}` };
  for (const wallClock of [undefined, clock]) {
    const results = [];
    for (const compact of [false, true]) {
      const { h, call } = setup(compact, (n) => emptyOutput(n === 0 ? { annotations: [{ connection: 42n, key: 'protocol', value: 'h2' }] } : { logs: LOGS }), { wallClock });
      await call(); // annotations first
      await call();
      results.push({ events: h.events, invalid: await h.metric('lightfoot_decoder_logs_dropped_total', { decoder: 'c', reason: 'invalid' }) });
    }
    assert.deepEqual(results[1], results[0]);
    assert.equal(results[0]!.invalid, 2);
    assert.equal(results[0]!.events.length, 3); // debug filtered
  }
  // Exact shape with a wall clock: tsNs → time (last), reserved keys renamed.
  const { h, call } = setup(true, (n) => emptyOutput(n === 0 ? { annotations: [{ connection: 42n, key: 'protocol', value: 'h2' }] } : { logs: LOGS }), { wallClock: clock });
  await call();
  await call();
  assert.deepEqual(h.events[0], {
    event: 'open', decoder: 'c', level: 'info', connection: '42', pid: 7, comm: 'no"de\n', preexisting: false,
    field_event: 'x', field_time: 't', annotations: { protocol: 'h2' }, time: 'T5000000000',
  });
  assert.deepEqual(h.events[1], { event: 'close', decoder: 'c', level: 'info', bytes: String(2n ** 60n), ratio: 'NaN', time: `T${2n ** 60n}` });
});

test('renderLogFields: the JSON rules (escaping, reserved keys, big numbers, tsNs, duplicates, limits)', () => {
  assert.deepEqual(renderLogFields([['s', 'a"\\\u0001\u2028é'], ['n', -0], ['f', 1e21], ['g', 1.5e-7], ['i', Infinity]]), {
    json: '"s":"a\\"\\\\\\u0001\u2028é","n":0,"f":1e+21,"g":1.5e-7,"i":"Infinity"', tsNs: 0n,
  });
  assert.deepEqual(renderLogFields([['a', 1], ['tsNs', 12], ['b', 2], ['a', 3], ['ts', 1]]), { json: '"a":3,"b":2,"field_ts":1', tsNs: 12n });
  assert.deepEqual(renderLogFields([['tsNs', 'x']]), { json: '"tsNs":"x"', tsNs: 0n });
  assert.equal(renderLogFields(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])), undefined);
  assert.equal(renderLogFields([['k'.repeat(65), 1]]), undefined);
  assert.equal(renderLogFields([['s', 'x'.repeat(4097)]]), undefined);
  assert.ok(renderLogFields([['s', 'x'.repeat(4096)]]));
});

test('no events writer: logs are not written and batches say logs=false (compact)', async () => {
  const { h, call } = setup(true, () => emptyOutput({ logs: LOGS }), { events: undefined });
  await call();
  assert.equal(h.events.length, 0);
});

test('event writer writeRaw: json writes the line as is; pretty renders it like write()', () => {
  const out = (format: 'json' | 'pretty') => {
    const s = new PassThrough();
    const chunks: string[] = [];
    s.on('data', (c) => chunks.push(String(c)));
    const w = createEventWriter({ format, stream: s, logger: nullLogger });
    w.writeRaw!('{"event":"open","decoder":"tcp","pid":1}');
    w.write({ event: 'open', decoder: 'tcp', pid: 1 });
    w.writeRaw!('not json');
    return { chunks, stats: w.stats() };
  };
  const j = out('json');
  assert.equal(j.chunks.join(''), '{"event":"open","decoder":"tcp","pid":1}\n{"event":"open","decoder":"tcp","pid":1}\nnot json\n');
  const p = out('pretty');
  const lines = p.chunks.join('').split('\n');
  assert.equal(lines[0], lines[1]);
  assert.equal(p.stats.dropped, 1);
});

test('compactFromObject: columns of an object output', () => {
  const c: CompactOutput = compactFromObject(emptyOutput({ metrics: [up(0, ['a', 'b'], 'add', 1), up(1, ['a'], 'set', 2)], logs: [LOGS[3]!] }));
  assert.deepEqual(c.strings, ['a', 'b', 'plain']);
  assert.deepEqual([...c.labelStart], [0, 2, 3]);
  assert.deepEqual([...c.labelIdx], [0, 1, 0]);
  assert.deepEqual([...c.op], [0, 1]);
  assert.deepEqual(c.logs.fieldsJson, ['']);
});
