import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { DecoderMetricRegistry, MetricDeclarationError, validateMetricDecls } from '../../runtime/decoders/metric-registry';
import type { MetricDecl } from '../../runtime/decoders/engine';

const counter = (name: string, labels: string[] = []): MetricDecl => ({ name, kind: 'counter', help: 'h', labels, buckets: [] });
const gauge = (name: string, labels: string[] = []): MetricDecl => ({ name, kind: 'gauge', help: 'h', labels, buckets: [] });
const histogram = (name: string, buckets: number[], labels: string[] = []): MetricDecl => ({ name, kind: 'histogram', help: 'h', labels, buckets });

test('declarations: each rule has a message that says what to change', () => {
  const cases: [MetricDecl, RegExp][] = [
    [counter('lightfoot_h2_frames'), /counter names must end in _total \(rename to lightfoot_h2_frames_total\)/],
    [gauge('lightfoot_h2_streams_total'), /only counters may end in _total; this is a gauge/],
    [counter('h2_frames_total'), /name must start with "lightfoot_"/],
    [counter('lightfoot_decoder_x_total'), /reserved for lightfoot's own decoder metrics/],
    [counter('lightfoot_h2-frames_total'), /not a valid Prometheus metric name/],
    [counter('lightfoot_h2:frames_total'), /":" is reserved for recording rules/],
    [counter('lightfoot_x_total', ['9bad']), /label "9bad" is not a valid label name/],
    [counter('lightfoot_x_total', ['__name']), /names starting with "__" are reserved/],
    [histogram('lightfoot_x_seconds', [1], ['le']), /label "le" is reserved by Prometheus/],
    [counter('lightfoot_x_total', ['a', 'a']), /label "a" is listed twice/],
    [histogram('lightfoot_x_seconds', [0.1, 0.1]), /buckets must be strictly ascending/],
    [histogram('lightfoot_x_seconds', [1, 0.5]), /buckets must be strictly ascending/],
    [histogram('lightfoot_x_seconds', [1, Infinity]), /buckets must be finite numbers/],
    [histogram('lightfoot_x_seconds', []), /a histogram needs bucket upper bounds/],
    [histogram('lightfoot_x_count', [1]), /must not end in _bucket, _sum or _count/],
    [{ ...gauge('lightfoot_x'), buckets: [1] }, /only histograms have buckets; this is a gauge/],
    [{ ...gauge('lightfoot_x'), help: ' ' }, /help text is empty/],
    [{ ...gauge('lightfoot_x'), kind: 'summary' as never }, /kind must be counter, gauge or histogram/],
  ];
  for (const [decl, re] of cases) {
    const problems = validateMetricDecls([decl]);
    assert.equal(problems.length >= 1, true, `${decl.name}: expected a problem`);
    assert.match(problems.join('\n'), re);
    assert.match(problems[0]!, /^metrics\[0\] "/);
  }
  assert.deepEqual(validateMetricDecls([counter('lightfoot_a_total', ['x']), gauge('lightfoot_b'), histogram('lightfoot_c_seconds', [0.1, 1])]), []);
  assert.match(validateMetricDecls([counter('lightfoot_a_total'), counter('lightfoot_a_total')]).join(), /declared twice/);
  assert.match(validateMetricDecls([histogram('lightfoot_a', [1]), gauge('lightfoot_a_sum')]).join(), /declared twice/);
});

test('ownership: a metric belongs to the decoder that declared it; sharing only when listed, with the same shape', () => {
  const registry = new Registry();
  const reg = new DecoderMetricRegistry({ registry, maxSeries: 100 });
  const a = reg.register('a', [counter('lightfoot_req_total', ['code'])]);
  // Same shape, not listed: refused, naming both decoders.
  assert.match(reg.check('b', [counter('lightfoot_req_total', ['code'])]).join(),
    /^metrics\[0\] "lightfoot_req_total": belongs to decoder a, which declared it first; decoder b may not write it \(to let it, list "lightfoot_req_total" in shareMetrics of b's --config entry/);
  assert.throws(() => reg.register('b', [counter('lightfoot_req_total', ['code'])]), MetricDeclarationError);
  // Listed but another shape: refused, showing both shapes.
  assert.match(reg.check('b', [counter('lightfoot_req_total', ['method'])], { shareMetrics: ['lightfoot_req_total'] }).join(),
    /shared with decoder a, which declared it as counter\{code\}; decoder b declares counter\{method\}/);
  // Listed with the same shape: both write one series.
  const b = reg.register('b', [counter('lightfoot_req_total', ['code'])], { shareMetrics: ['lightfoot_req_total'] });
  assert.deepEqual(reg.writers('lightfoot_req_total'), { owner: 'a', sharers: ['b'] });
  assert.equal(a.apply([{ metric: 0, labels: ['200'], op: 'add', value: 2 }]), null);
  assert.equal(b.apply([{ metric: 0, labels: ['200'], op: 'add', value: 3 }]), null);
  reg.register('a2', [histogram('lightfoot_lat_seconds', [1])]);
  assert.match(reg.check('c', [gauge('lightfoot_lat_seconds_sum')]).join(), /clashes with histogram lightfoot_lat_seconds of decoder a2/);
});

test('lightfoot\'s own metric names are reserved before any of them is registered', () => {
  const reg = new DecoderMetricRegistry({ registry: new Registry(), maxSeries: 100 }); // empty registry
  for (const name of ['lightfoot_events_total', 'lightfoot_events_lost_total', 'lightfoot_process_cpu_seconds_total',
    'lightfoot_nodejs_heap_size_total_bytes', 'lightfoot_metric_series_refused_total', 'lightfoot_probe_kernel_events_total',
    'lightfoot_targets', 'lightfoot_ringbuf_batch_records']) {
    const decl = name.endsWith('_total') ? counter(name) : gauge(name);
    assert.match(reg.check('x', [decl]).join(), new RegExp(`${name} is one of lightfoot's own metric names \\(reserved\\)`), name);
  }
  // A histogram whose derived series would be one of them.
  assert.match(reg.check('x', [histogram('lightfoot_ringbuf_x', [1])]).join(), /lightfoot_ringbuf_x is one of lightfoot's own metric names/);
  assert.deepEqual(reg.check('x', [counter('lightfoot_http_requests_total')]), []);
});

test('counters stay finite: an update that would reach +Inf rejects the whole output', async () => {
  const registry = new Registry();
  const reg = new DecoderMetricRegistry({ registry, maxSeries: 100 });
  const m = reg.register('d', [counter('lightfoot_big_total', ['k']), gauge('lightfoot_g')]);
  assert.equal(m.apply([{ metric: 0, labels: ['a'], op: 'add', value: 1.7e308 }]), null);
  assert.match(m.apply([{ metric: 1, labels: [], op: 'set', value: 1 }, { metric: 0, labels: ['a'], op: 'add', value: 1.7e308 }])!,
    /^metric update 1 \(lightfoot_big_total\): would make the counter non-finite/);
  // Two adds in one output that only together overflow.
  const m2 = reg.register('e', [counter('lightfoot_e_total')]);
  assert.match(m2.apply([{ metric: 0, labels: [], op: 'add', value: 1e308 }, { metric: 0, labels: [], op: 'add', value: 1e308 }])!, /update 1 .* non-finite/);
  const text = await registry.metrics();
  assert.match(text, /lightfoot_big_total\{k="a"\} 1\.7e\+308/);
  assert.match(text, /^lightfoot_g 0$/m, 'nothing of the rejected output applied');
  assert.doesNotMatch(text, /Inf/);
});

test('updates: any invalid update rejects the whole output and nothing is applied', async () => {
  const registry = new Registry();
  const reg = new DecoderMetricRegistry({ registry, maxSeries: 100 });
  const m = reg.register('d', [counter('lightfoot_req_total', ['code']), gauge('lightfoot_open'), histogram('lightfoot_lat_seconds', [0.1, 1])]);
  const good = { metric: 0, labels: ['200'], op: 'add', value: 2 };
  const bad: [unknown, RegExp][] = [
    [{ metric: 3, labels: [], op: 'add', value: 1 }, /metric index 3 is not declared \(the decoder declared 3\)/],
    [{ metric: 0, labels: [], op: 'add', value: 1 }, /0 label values for 1 labels \[code\]/],
    [{ metric: 0, labels: ['a'], op: 'add', value: NaN }, /value NaN is not a finite number/],
    [{ metric: 1, labels: [], op: 'set', value: Infinity }, /value Infinity is not a finite number/],
    [{ metric: 0, labels: ['a'], op: 'add', value: -1 }, /negative add -1 to a counter/],
    [{ metric: 0, labels: ['a'], op: 'set', value: 1 }, /"set" on a counter; only gauges can be set/],
    [{ metric: 1, labels: [], op: 'observe', value: 1 }, /"observe" on a gauge; only histograms observe/],
    [{ metric: 2, labels: [], op: 'add', value: 1 }, /"add" on a histogram; use "observe"/],
    [{ metric: 0, labels: [7], op: 'add', value: 1 }, /label value 7 is not a string/],
    [null, /not an update/],
  ];
  for (const [u, re] of bad) {
    const problem = m.apply([good, u]);
    assert.match(String(problem), re);
    assert.match(String(problem), /^metric update 1/);
  }
  const text0 = await registry.metrics();
  assert.doesNotMatch(text0, /lightfoot_req_total\{code="200"\}/, 'nothing applied');
  assert.equal(m.apply('nope'), 'metrics: not a list of updates');

  assert.equal(
    m.apply([good, { metric: 1, labels: [], op: 'set', value: -3 }, { metric: 1, labels: [], op: 'add', value: 1 }, { metric: 2, labels: [], op: 'observe', value: 0.5 }]),
    null,
  );
  const text = await registry.metrics();
  assert.match(text, /lightfoot_req_total\{code="200"\} 2/);
  assert.match(text, /lightfoot_open -2/);
  assert.match(text, /lightfoot_lat_seconds_bucket\{le="1"\} 1/);
});

test('updates go through the series cap: extra label sets fold into _overflow_', async () => {
  const registry = new Registry();
  const reg = new DecoderMetricRegistry({ registry, maxSeries: 2 });
  const m = reg.register('d', [counter('lightfoot_req_total', ['path'])]);
  for (const p of ['/a', '/b', '/c', '/d']) assert.equal(m.apply([{ metric: 0, labels: [p], op: 'add', value: 1 }]), null);
  const text = await registry.metrics();
  assert.match(text, /lightfoot_req_total\{path="_overflow_"\} 2/);
  assert.match(text, /lightfoot_metric_series_refused_total\{metric="lightfoot_req_total"\} 2/);
});
