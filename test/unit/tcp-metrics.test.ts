import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { RTT_BUCKETS_SECONDS, metricNames, tcpMetrics, type TcpLabels } from '../../runtime/metrics/tcp-metrics';

const client: TcpLabels = { pid: 42, comm: 'curl', role: 'client', peer: '10.0.0.1', port: 443 };
const server: TcpLabels = { pid: 7, comm: 'nginx', role: 'server', peer: '::1', port: '80' };

const lines = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '));

test('registers every metric in metricNames with the typed labels', async () => {
  const registry = new Registry();
  tcpMetrics(registry, { maxSeries: 10 });
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
  assert.deepEqual(names, [...metricNames, 'lightfoot_metric_series_refused_total'].sort());
  assert.equal(RTT_BUCKETS_SECONDS[0], 0.00005);
  assert.equal(RTT_BUCKETS_SECONDS.at(-1), 5);
});

test('counters, gauges and histogram in base units', async () => {
  const registry = new Registry();
  const tcp = tcpMetrics(registry, { maxSeries: 10 });
  tcp.opened(client);
  tcp.opened(client, 2n);
  tcp.closed(client);
  tcp.connectFailed(client);
  tcp.bytesSent(client, 1500);
  tcp.bytesSent(client, 10n ** 12n);
  tcp.bytesReceived(server, 99);
  tcp.retransmits(client, 3);
  tcp.resets(client, 'sent');
  tcp.resets(client, 'received', 2);
  tcp.observeRtt(client, 0.0003);
  tcp.congestionWindow(client, 10);
  tcp.congestionWindow(client, 24);
  tcp.activeDelta(client, 1);
  tcp.activeDelta(client, 1);
  tcp.activeDelta(client, -1);
  // Ignored: negative and NaN must not throw or corrupt counters.
  tcp.bytesSent(client, -5);
  tcp.bytesSent(client, Number.NaN);
  tcp.observeRtt(client, Number.POSITIVE_INFINITY);
  const text = await registry.metrics();
  const l = 'pid="42",comm="curl",role="client",peer="10.0.0.1",port="443"';
  assert.deepEqual(lines(text, 'lightfoot_tcp_connections_opened_total'), [`lightfoot_tcp_connections_opened_total{${l}} 3`]);
  assert.deepEqual(lines(text, 'lightfoot_tcp_connections_closed_total'), [`lightfoot_tcp_connections_closed_total{${l}} 1`]);
  assert.deepEqual(lines(text, 'lightfoot_tcp_connect_failures_total'), [`lightfoot_tcp_connect_failures_total{${l}} 1`]);
  assert.deepEqual(lines(text, 'lightfoot_tcp_bytes_sent_total'), [`lightfoot_tcp_bytes_sent_total{${l}} 1000000001500`]);
  assert.deepEqual(lines(text, 'lightfoot_tcp_bytes_received_total'), [
    'lightfoot_tcp_bytes_received_total{pid="7",comm="nginx",role="server",peer="::1",port="80"} 99',
  ]);
  assert.deepEqual(lines(text, 'lightfoot_tcp_retransmits_total'), [`lightfoot_tcp_retransmits_total{${l}} 3`]);
  assert.deepEqual(lines(text, 'lightfoot_tcp_resets_total'), [
    `lightfoot_tcp_resets_total{${l},direction="sent"} 1`,
    `lightfoot_tcp_resets_total{${l},direction="received"} 2`,
  ]);
  assert.deepEqual(lines(text, 'lightfoot_tcp_congestion_window_segments'), [`lightfoot_tcp_congestion_window_segments{${l}} 24`]);
  assert.deepEqual(lines(text, 'lightfoot_tcp_active_connections'), [`lightfoot_tcp_active_connections{${l}} 1`]);
  assert.ok(text.includes(`lightfoot_tcp_rtt_seconds_bucket{le="0.0005",${l}} 1`));
  assert.ok(text.includes(`lightfoot_tcp_rtt_seconds_bucket{le="0.00025",${l}} 0`));
  assert.ok(text.includes(`lightfoot_tcp_rtt_seconds_count{${l}} 1`));
});

test('cap per family with exact overflow exposition', async () => {
  const registry = new Registry();
  const tcp = tcpMetrics(registry, { maxSeries: 1 });
  const peer = (p: string): TcpLabels => ({ ...client, peer: p });
  tcp.bytesSent(peer('10.0.0.1'), 100);
  tcp.bytesSent(peer('10.0.0.2'), 10);
  tcp.bytesSent(peer('10.0.0.2'), 10);
  tcp.bytesSent(peer('10.0.0.3'), 1);
  tcp.opened(peer('10.0.0.2')); // a different family has its own cap
  const text = await registry.metrics();
  const o = 'pid="_overflow_",comm="_overflow_",role="_overflow_",peer="_overflow_",port="_overflow_"';
  assert.deepEqual(lines(text, 'lightfoot_tcp_bytes_sent_total'), [
    'lightfoot_tcp_bytes_sent_total{pid="42",comm="curl",role="client",peer="10.0.0.1",port="443"} 100',
    `lightfoot_tcp_bytes_sent_total{${o}} 21`,
  ]);
  assert.deepEqual(lines(text, 'lightfoot_tcp_connections_opened_total'), [
    'lightfoot_tcp_connections_opened_total{pid="42",comm="curl",role="client",peer="10.0.0.2",port="443"} 1',
  ]);
  assert.deepEqual(lines(text, 'lightfoot_metric_series_refused_total'), [
    'lightfoot_metric_series_refused_total{metric="lightfoot_tcp_bytes_sent_total"} 2',
  ]);
});

test('two factories on one registry share the refused counter but not metric names', () => {
  const registry = new Registry();
  tcpMetrics(registry, { maxSeries: 1 });
  assert.throws(() => tcpMetrics(registry, { maxSeries: 1 }), /already been registered/);
});
