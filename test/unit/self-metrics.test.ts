import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { MonotonicTracker, metricNames, selfMetrics, type ProgramStats } from '../../runtime/metrics/self-metrics';
import { createLogger } from '../../runtime/log/logger';

const lines = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '));

test('MonotonicTracker: deltas, and a decrease restarts from the new total', () => {
  const t = new MonotonicTracker();
  assert.deepEqual([t.advance('a', 5), t.advance('a', 8), t.advance('a', 8), t.advance('a', 2), t.advance('b', 1)], [5, 3, 0, 2, 1]);
});

test('events, lost totals, batches, disabled programs', async () => {
  const registry = new Registry();
  const self = selfMetrics(registry, { defaultMetrics: false });
  self.events('tcp', 10);
  self.events('tcp', 5);
  self.eventsLostTotal('tcp', 3);
  self.eventsLostTotal('tcp', 7n);
  self.eventsLostTotal('tcp', 2); // kernel counter restarted
  self.ringbufBatch('tcp', 3);
  self.ringbufBatch('tcp', 100);
  self.programDisabled('tcp', 'tcp_sockops', true);
  self.programDisabled('tcp', 'tcp_probe', false);
  const text = await registry.metrics();
  assert.deepEqual(lines(text, 'lightfoot_events_total'), ['lightfoot_events_total{probe="tcp"} 15']);
  assert.deepEqual(lines(text, 'lightfoot_events_lost_total'), ['lightfoot_events_lost_total{probe="tcp"} 9']);
  assert.deepEqual(lines(text, 'lightfoot_ringbuf_batches_total'), ['lightfoot_ringbuf_batches_total{probe="tcp"} 2']);
  assert.ok(text.includes('lightfoot_ringbuf_batch_records_bucket{le="4",probe="tcp"} 1'));
  assert.ok(text.includes('lightfoot_ringbuf_batch_records_sum{probe="tcp"} 103'));
  assert.deepEqual(lines(text, 'lightfoot_probe_programs_disabled'), [
    'lightfoot_probe_programs_disabled{probe="tcp",program="tcp_sockops"} 1',
    'lightfoot_probe_programs_disabled{probe="tcp",program="tcp_probe"} 0',
  ]);
});

test('program stats and targets are read at scrape time; a throwing reader never breaks the scrape', async () => {
  const registry = new Registry();
  let stats: ProgramStats[] = [{ program: 'tcp_probe', runTimeNs: 1_500_000_000n, runCount: 10 }];
  let fail = false;
  let targets = 3;
  const logs: string[] = [];
  const logger = createLogger({ format: 'json', level: 'debug', stream: { write: (s: string) => logs.push(s), on: () => undefined } });
  selfMetrics(registry, {
    defaultMetrics: false,
    logger,
    programStats: () => {
      if (fail) throw new Error('bpf_obj_get_info_by_fd: EPERM');
      return stats;
    },
    targetCount: () => {
      if (fail) throw new Error('nope');
      return targets;
    },
  });
  let text = await registry.metrics();
  assert.deepEqual(lines(text, 'lightfoot_bpf_program_run_seconds_total'), ['lightfoot_bpf_program_run_seconds_total{program="tcp_probe"} 1.5']);
  assert.deepEqual(lines(text, 'lightfoot_bpf_program_runs_total'), ['lightfoot_bpf_program_runs_total{program="tcp_probe"} 10']);
  assert.deepEqual(lines(text, 'lightfoot_targets'), ['lightfoot_targets 3']);

  stats = [{ program: 'tcp_probe', runTimeNs: 2_000_000_000, runCount: 25n }];
  targets = 4;
  text = await registry.metrics();
  assert.deepEqual(lines(text, 'lightfoot_bpf_program_run_seconds_total'), ['lightfoot_bpf_program_run_seconds_total{program="tcp_probe"} 2']);
  assert.deepEqual(lines(text, 'lightfoot_bpf_program_runs_total'), ['lightfoot_bpf_program_runs_total{program="tcp_probe"} 25']);
  assert.deepEqual(lines(text, 'lightfoot_targets'), ['lightfoot_targets 4']);

  fail = true;
  text = await registry.metrics();
  assert.deepEqual(lines(text, 'lightfoot_bpf_program_runs_total'), ['lightfoot_bpf_program_runs_total{program="tcp_probe"} 25']);
  assert.deepEqual(lines(text, 'lightfoot_targets'), ['lightfoot_targets 4']);
  await registry.metrics();
  assert.equal(logs.length, 1, 'the failure is logged once');
  assert.match(logs[0]!, /"level":"debug".*keeping previous values/);
});

test('default process metrics are prefixed lightfoot_', async () => {
  const registry = new Registry();
  selfMetrics(registry);
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
  for (const n of metricNames) assert.ok(names.includes(n), n);
  assert.ok(names.includes('lightfoot_process_cpu_seconds_total'));
  assert.ok(names.includes('lightfoot_nodejs_heap_size_used_bytes'));
  assert.ok(names.every((n) => n.startsWith('lightfoot_')));
});
