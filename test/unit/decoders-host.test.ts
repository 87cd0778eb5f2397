import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import { DecoderHost, type DecodeOutcome, type DecoderHostOptions } from '../../runtime/decoders/decoder-host';
import { DecoderMetricRegistry } from '../../runtime/decoders/metric-registry';
import { decoderSelfMetrics } from '../../runtime/decoders/self-metrics';
import { emptyBatch } from '../../runtime/decoders/batch-encoder';
import type { LogFields, Logger } from '../../runtime/log/logger';
import {
  FakeClock,
  FakeEngine,
  codedError,
  decodeError,
  emptyOutput,
  fakeFiles,
  fakeInfo,
  fakeSource,
  fault,
  type FakeDecoderSpec,
} from '../../runtime/decoders/testing';

interface Logged {
  level: string;
  msg: string;
  fields?: LogFields;
}

function capture(): { logger: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const make = (): Logger => ({
    error: (msg, fields) => void lines.push({ level: 'error', msg, fields }),
    warn: (msg, fields) => void lines.push({ level: 'warn', msg, fields }),
    info: (msg, fields) => void lines.push({ level: 'info', msg, fields }),
    debug: (msg, fields) => void lines.push({ level: 'debug', msg, fields }),
    child: () => make(),
    enabled: () => true,
  });
  return { logger: make(), lines };
}

function setup(spec: FakeDecoderSpec, over: Partial<DecoderHostOptions> = {}) {
  const engine = new FakeEngine();
  const clock = new FakeClock();
  const registry = new Registry();
  const { logger, lines } = capture();
  const files: Record<string, Buffer> = { '/d/x.wasm': engine.add('x', spec) };
  const host = new DecoderHost({
    source: fakeSource('/d/x.wasm'),
    engine,
    metrics: new DecoderMetricRegistry({ registry, maxSeries: 100 }),
    self: decoderSelfMetrics(registry),
    logger,
    mode: 'sync',
    clock,
    timers: clock,
    readFile: fakeFiles(files),
    ...over,
  });
  const metric = async (name: string, labels: Record<string, string>): Promise<number | undefined> => {
    const data = await registry.getSingleMetric(name)!.get();
    return data.values.find((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))?.value;
  };
  return { engine, clock, registry, host, lines, files, metric };
}

const sync = (o: DecodeOutcome | Promise<DecodeOutcome>): DecodeOutcome => {
  assert.ok(!(o instanceof Promise));
  return o as DecodeOutcome;
};
const batch = emptyBatch('tcp');

test('loads, describes and reports running', () => {
  const { host } = setup({ info: fakeInfo('h2') });
  assert.equal(host.load(), true);
  assert.equal(host.state, 'running');
  assert.equal(host.label, 'h2');
  assert.equal(host.info?.version, '0.1.0');
  assert.deepEqual(sync(host.decode(batch, 0)), { ok: true, output: emptyOutput() });
});

test('refusals carry a reason and a fix', () => {
  const cases: [FakeDecoderSpec | 'missing' | 'garbage', Partial<DecoderHostOptions>, RegExp, RegExp][] = [
    ['missing', {}, /cannot read the file \(ENOENT\)/, /check the path given by --decoders/],
    ['garbage', {}, /bad magic number/, /not a WebAssembly component/],
    [{ info: fakeInfo('a'), imports: ['wasi:filesystem/types@0.2.0'] }, {}, /imports wasi:filesystem\/types@0\.2\.0: decoders get no imports/, /no imports/],
    [{ info: fakeInfo('a'), compileError: codedError('LF_ERR_WASM_WORLD', 'does not export lightfoot:decoder/decoder@0.2.0') }, {}, /does not export/, /world decoder-plugin/],
    [{ info: fakeInfo('a'), exports: ['other:thing/x@1.0.0'] }, {}, /does not export lightfoot:decoder\/decoder@0\.2\.0 \(exports: other:thing/, /decoder-plugin/],
    [{ info: fakeInfo('a'), instantiateError: fault('oom', 'memory limit') }, {}, /instantiating: memory limit/, /decoders verify/],
    [{ info: fakeInfo('a'), describe: () => { throw fault('trap', 'unreachable'); } }, {}, /describe\(\) failed: trap: unreachable/, /verify/],
    [{ info: fakeInfo('Bad_Name') }, {}, /describe\(\): name "Bad_Name": expected \[a-z\]\[a-z0-9-\]\*/, /verify/],
    [{ info: fakeInfo('a', { subscriptions: [] }) }, {}, /a decoder must subscribe to at least one probe/, /verify/],
    [{ info: fakeInfo('a', { subscriptions: [{ probe: 'tcp', kinds: [256], streams: false }] }) }, {}, /kinds must be record kinds 0\.\.255/, /verify/],
    [{ info: fakeInfo('a', { metrics: [{ name: 'lightfoot_x', kind: 'counter', help: 'h', labels: [], buckets: [] }] }) }, {}, /counter names must end in _total/, /verify/],
    [{ info: fakeInfo('a') }, { nameTakenBy: () => '/d/other.wasm' }, /decoder name a is already used by \/d\/other\.wasm/, /load only one/],
  ];
  for (const [spec, over, msg, hint] of cases) {
    const s = setup(typeof spec === 'string' ? { info: fakeInfo('a') } : spec, over);
    if (spec === 'missing') delete s.files['/d/x.wasm'];
    if (spec === 'garbage') s.files['/d/x.wasm'] = Buffer.from('not wasm');
    assert.equal(s.host.load(), false, String(msg));
    assert.equal(s.host.state, 'refused');
    assert.match(s.host.refusal!.message, msg);
    assert.match(s.host.refusal!.hint, hint);
    assert.equal(sync(s.host.decode(batch, 0)).ok, false);
  }
});

test('sha256 pin: mismatch refused before compiling, with expected and actual', () => {
  const engine = new FakeEngine();
  const bytes = engine.add('x', { info: fakeInfo('a') });
  const actual = createHash('sha256').update(bytes).digest('hex');
  let compiled = 0;
  const counting = { compile: (b: Buffer) => (compiled++, engine.compile(b)) };
  const s = setup({ info: fakeInfo('a') }, { engine: counting, source: fakeSource('/d/x.wasm', { sha256: 'a'.repeat(64) }) });
  s.files['/d/x.wasm'] = bytes;
  assert.equal(s.host.load(), false);
  assert.equal(compiled, 0);
  assert.equal(s.host.refusal!.message, `sha256 mismatch: expected ${'a'.repeat(64)}, actual ${actual}`);
  assert.match(s.host.refusal!.hint, new RegExp(`set its sha256 to ${actual}`));

  const ok = setup({ info: fakeInfo('a') }, { engine, source: fakeSource('/d/x.wasm', { sha256: actual }) });
  ok.files['/d/x.wasm'] = bytes;
  assert.equal(ok.host.load(), true);

  const unpinned = setup({ info: fakeInfo('a') }, { source: fakeSource('/d/x.wasm', { requirePinned: true }) });
  assert.equal(unpinned.host.load(), false);
  assert.match(unpinned.host.refusal!.message, /not pinned/);
  assert.match(unpinned.host.refusal!.hint, /add "sha256": "[0-9a-f]{64}"/);
});

test('fault → backoff with doubling delays → restart; counted by kind', async () => {
  let failing = true;
  const s = setup({
    info: fakeInfo('a'),
    decode: () => {
      if (failing) throw fault('timeout', 'deadline');
      return emptyOutput();
    },
  }, { policy: { quarantineFaults: 100 } });
  assert.ok(s.host.load());
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) {
    const r = sync(s.host.decode(batch, 3));
    assert.deepEqual(r, { ok: false, reason: 'fault', message: 'timeout: deadline' });
    assert.equal(s.host.state, 'backoff');
    assert.equal(sync(s.host.decode(batch, 0)).ok, false, 'no calls during backoff');
    const [d] = s.clock.pending();
    delays.push(d!);
    s.clock.advance(d! - 1);
    assert.equal(s.host.state, 'backoff');
    s.clock.advance(1);
    assert.equal(s.host.state, 'running');
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000]);
  assert.equal(s.engine.instances, 11);
  assert.equal(await s.metric('lightfoot_decoder_faults_total', { decoder: 'a', kind: 'timeout' }), 10);
  assert.equal(await s.metric('lightfoot_decoder_restarts_total', { decoder: 'a' }), 10);
  assert.equal(await s.metric('lightfoot_decoder_calls_total', { decoder: 'a', result: 'fault' }), 10);

  // A fault-free window resets the backoff.
  failing = false;
  s.clock.advance(60_000);
  assert.equal(sync(s.host.decode(batch, 0)).ok, true);
  failing = true;
  sync(s.host.decode(batch, 0));
  assert.deepEqual(s.clock.pending(), [100]);
});

test('quarantine after 5 faults in 60 s: no more calls, logged once with what to do', async () => {
  const s = setup({ info: fakeInfo('a'), decode: () => { throw fault('trap', 'unreachable executed'); } });
  assert.ok(s.host.load());
  for (let i = 0; i < 4; i++) {
    sync(s.host.decode(batch, 1));
    assert.equal(s.host.state, 'backoff');
    s.clock.advance(s.clock.pending()[0]!);
  }
  sync(s.host.decode(batch, 1));
  assert.equal(s.host.state, 'quarantined');
  assert.deepEqual(s.clock.pending(), [], 'no restart scheduled');
  s.clock.advance(3_600_000);
  assert.equal(s.host.state, 'quarantined');
  const calls = s.engine.calls.length;
  assert.equal(sync(s.host.decode(batch, 1)).ok, false);
  assert.equal(s.engine.calls.length, calls);
  const errors = s.lines.filter((l) => l.level === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.msg, /decoder a quarantined: 5 faults in 60 s \(last: trap: unreachable executed\)/);
  assert.match(String(errors[0]!.fields?.hint), /enabled": false/);
  assert.equal(s.host.faultCount, 5);
});

test('faults spread wider than the window do not quarantine', () => {
  const s = setup({ info: fakeInfo('a'), decode: () => { throw fault('oom'); } });
  assert.ok(s.host.load());
  for (let i = 0; i < 12; i++) {
    sync(s.host.decode(batch, 1));
    assert.equal(s.host.state, 'backoff');
    assert.deepEqual(s.clock.pending(), [100], 'a fault after a quiet window starts the backoff over');
    s.clock.advance(61_000);
    assert.equal(s.host.state, 'running');
  }
});

test('bad_output: counted as a fault, instance kept, nothing applied', async () => {
  const s = setup({
    info: fakeInfo('a', { metrics: [{ name: 'lightfoot_a_total', kind: 'counter', help: 'h', labels: [], buckets: [] }] }),
    decode: () => emptyOutput({ metrics: [{ metric: 0, labels: [], op: 'add', value: 1 }, { metric: 0, labels: [], op: 'add', value: -1 }] }),
  });
  assert.ok(s.host.load());
  const r = sync(s.host.decode(batch, 0));
  assert.equal(r.ok, false);
  assert.equal((r as { reason: string }).reason, 'bad_output');
  assert.match((r as { message: string }).message, /negative add -1 to a counter/);
  assert.equal(s.host.state, 'running');
  assert.equal(s.engine.instances, 1);
  assert.equal(await s.metric('lightfoot_decoder_faults_total', { decoder: 'a', kind: 'bad_output' }), 1);
  assert.equal(await s.metric('lightfoot_a_total', {}), 0);
});

test('decode-error is not a fault', async () => {
  const s = setup({ info: fakeInfo('a'), decode: () => { throw decodeError('malformed', 'bad map'); } });
  assert.ok(s.host.load());
  assert.deepEqual(sync(s.host.decode(batch, 0)), { ok: false, reason: 'decode_error', message: 'malformed: bad map' });
  assert.equal(s.host.state, 'running');
  assert.equal(s.host.faultCount, 0);
  assert.equal(await s.metric('lightfoot_decoder_calls_total', { decoder: 'a', result: 'decode_error' }), 1);
});

test('a restart that describes itself differently is quarantined', () => {
  const s = setup({ info: fakeInfo('a'), describe: (n) => fakeInfo('a', { version: n === 0 ? '1.0.0' : '2.0.0' }), decode: () => { throw fault('trap'); } });
  assert.ok(s.host.load());
  sync(s.host.decode(batch, 0));
  s.clock.advance(100);
  assert.equal(s.host.state, 'quarantined');
});

test('async mode: decodeAsync, one call at a time', async () => {
  let release!: () => void;
  const s = setup({ info: fakeInfo('a'), asyncGate: () => new Promise<void>((r) => (release = r)) }, { mode: 'async' });
  assert.ok(s.host.load());
  const p = s.host.decode(batch, 0);
  assert.ok(p instanceof Promise);
  assert.equal(s.host.busy, true);
  const second = s.host.decode(batch, 0);
  assert.deepEqual(second, { ok: false, reason: 'not_running', message: 'decoder is busy' });
  release();
  assert.deepEqual(await p, { ok: true, output: emptyOutput() });
  assert.equal(s.host.busy, false);
});

test('async fault rejects into backoff, never throws', async () => {
  const s = setup({ info: fakeInfo('a'), decode: () => { throw fault('timeout'); } }, { mode: 'async' });
  assert.ok(s.host.load());
  const r = await s.host.decode(batch, 0);
  assert.equal(r.ok, false);
  assert.equal(s.host.state, 'backoff');
});
