import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { OVERFLOW_VALUE, SeriesCap, seriesRefusedCounter } from '../../runtime/metrics/series-cap';

test('beyond the cap, new label sets fold into _overflow_; totals stay exact; refusals count once per set', async () => {
  const registry = new Registry();
  const refused = seriesRefusedCounter(registry);
  const c = new Counter({ name: 'demo_total', help: 'Demo.', labelNames: ['peer', 'port'] as const, registers: [registry] });
  const cap = new SeriesCap(['peer', 'port'] as const, { metric: 'demo_total', maxSeries: 2, refused });
  const inc = (peer: string, port: string, n: number) => c.inc(cap.admit({ peer, port }), n);
  inc('a', '1', 1);
  inc('b', '1', 2);
  inc('c', '1', 4); // refused (new)
  inc('c', '1', 8); // refused again: not counted twice
  inc('d', '2', 16); // refused (new)
  inc('a', '1', 32); // already seen: passes
  assert.equal(cap.size, 2);
  assert.equal(
    await registry.metrics(),
    `# HELP lightfoot_metric_series_refused_total New label sets folded into the "_overflow_" series because the metric reached --max-series.
# TYPE lightfoot_metric_series_refused_total counter
lightfoot_metric_series_refused_total{metric="demo_total"} 2

# HELP demo_total Demo.
# TYPE demo_total counter
demo_total{peer="a",port="1"} 33
demo_total{peer="b",port="1"} 2
demo_total{peer="_overflow_",port="_overflow_"} 28
`,
  );
});

test('admit returns the labels object itself when admitted, the shared overflow set otherwise', () => {
  const refused = seriesRefusedCounter(new Registry());
  const cap = new SeriesCap(['x'] as const, { metric: 'm', maxSeries: 1, refused });
  const a = { x: '1' };
  assert.equal(cap.admit(a), a);
  assert.deepEqual(cap.admit({ x: '2' }), { x: OVERFLOW_VALUE });
});

test('the refused counter is shared per registry', () => {
  const r = new Registry();
  assert.equal(seriesRefusedCounter(r), seriesRefusedCounter(r));
});

test('refused-set memory is bounded: cleared past maxRefusedTracked', async () => {
  const registry = new Registry();
  const refused = seriesRefusedCounter(registry);
  const cap = new SeriesCap(['x'] as const, { metric: 'm', maxSeries: 0, refused, maxRefusedTracked: 2 });
  for (const x of ['a', 'b', 'a', 'b', 'c', 'a']) cap.admit({ x });
  // a, b counted; c clears the memory and is counted; a is counted again.
  const v = (await refused.get()).values[0]!.value;
  assert.equal(v, 4);
});
