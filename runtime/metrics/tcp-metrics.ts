// TCP connection metrics, prom-client factory style: (registry, cfg) => TcpMetrics.
// Base units (bytes, seconds). Every update goes through the family's series
// cap, and the hot-path methods never throw on odd input (negative, NaN).

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { SeriesCap, seriesRefusedCounter } from './series-cap';

export type TcpLabelName = 'pid' | 'comm' | 'role' | 'peer' | 'port';
export type TcpRole = 'client' | 'server' | 'unknown';
export type ResetDirection = 'sent' | 'received';

export interface TcpLabels {
  pid: number | string;
  comm: string;
  role: TcpRole;
  /** Remote IP as text ("10.0.0.1", "::1"). */
  peer: string;
  /** Service port: the remote port for clients, the local port for servers. */
  port: number | string;
}

export const TCP_LABEL_NAMES: readonly TcpLabelName[] = ['pid', 'comm', 'role', 'peer', 'port'];

export const metricNames = [
  'lightfoot_tcp_connections_opened_total',
  'lightfoot_tcp_connections_closed_total',
  'lightfoot_tcp_connect_failures_total',
  'lightfoot_tcp_bytes_sent_total',
  'lightfoot_tcp_bytes_received_total',
  'lightfoot_tcp_retransmits_total',
  'lightfoot_tcp_resets_total',
  'lightfoot_tcp_rtt_seconds',
  'lightfoot_tcp_congestion_window_segments',
  'lightfoot_tcp_active_connections',
] as const;

/** Smoothed RTT from loopback (~50µs) to intercontinental WAN (seconds). */
export const RTT_BUCKETS_SECONDS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

export interface TcpMetricsConfig {
  /** Label sets per family before folding into "_overflow_". */
  maxSeries: number;
  rttBuckets?: number[];
}

type Amount = number | bigint;

export interface TcpMetrics {
  opened(labels: TcpLabels, count?: Amount): void;
  closed(labels: TcpLabels, count?: Amount): void;
  connectFailed(labels: TcpLabels, count?: Amount): void;
  bytesSent(labels: TcpLabels, bytes: Amount): void;
  bytesReceived(labels: TcpLabels, bytes: Amount): void;
  retransmits(labels: TcpLabels, count: Amount): void;
  resets(labels: TcpLabels, direction: ResetDirection, count?: Amount): void;
  observeRtt(labels: TcpLabels, seconds: number): void;
  /** snd_cwnd of the latest sample for this label set. */
  congestionWindow(labels: TcpLabels, segments: number): void;
  /** +1 on open, -1 on close; the gauge is a sum over connections. */
  activeDelta(labels: TcpLabels, delta: number): void;
}

const toLabels = (l: TcpLabels): Record<TcpLabelName, string> => ({
  pid: String(l.pid),
  comm: l.comm,
  role: l.role,
  peer: l.peer,
  port: String(l.port),
});

const amount = (v: Amount | undefined): number | undefined => {
  const n = v === undefined ? 1 : Number(v);
  // Counters must not go backwards and NaN would poison the series.
  return Number.isFinite(n) && n >= 0 ? n : undefined;
};

/**
 * @example
 * const tcp = tcpMetrics(registry, { maxSeries: 10_000 });
 * tcp.bytesSent({ pid: 42, comm: 'curl', role: 'client', peer: '10.0.0.1', port: 443 }, 1500);
 */
export function tcpMetrics(registry: Registry, cfg: TcpMetricsConfig): TcpMetrics {
  const refused = seriesRefusedCounter(registry);
  const registers = [registry];
  const labelNames = TCP_LABEL_NAMES;
  const cap = <L extends string>(metric: string, names: readonly L[]): SeriesCap<L> =>
    new SeriesCap<L>(names, { metric, maxSeries: cfg.maxSeries, refused });

  const counter = (name: string, help: string) => {
    const c = new Counter<TcpLabelName>({ name, help, labelNames, registers });
    const sc = cap(name, labelNames);
    return (l: TcpLabels, v: Amount | undefined): void => {
      const n = amount(v);
      if (n !== undefined) c.inc(sc.admit(toLabels(l)), n);
    };
  };

  const opened = counter('lightfoot_tcp_connections_opened_total', 'TCP connections established by watched processes.');
  const closed = counter('lightfoot_tcp_connections_closed_total', 'TCP connections of watched processes that closed.');
  const failed = counter(
    'lightfoot_tcp_connect_failures_total',
    'Outgoing TCP connection attempts that failed (refused, timed out, reset during handshake).',
  );
  const sent = counter('lightfoot_tcp_bytes_sent_total', 'Payload bytes sent on TCP connections.');
  const received = counter('lightfoot_tcp_bytes_received_total', 'Payload bytes received on TCP connections.');
  const retrans = counter('lightfoot_tcp_retransmits_total', 'TCP segments retransmitted.');

  const resetNames = [...labelNames, 'direction'] as const;
  const resetCounter = new Counter<TcpLabelName | 'direction'>({
    name: 'lightfoot_tcp_resets_total',
    help: 'TCP resets, by direction: sent by the watched process or received from the peer.',
    labelNames: resetNames,
    registers,
  });
  const resetCap = cap('lightfoot_tcp_resets_total', resetNames);

  const rtt = new Histogram<TcpLabelName>({
    name: 'lightfoot_tcp_rtt_seconds',
    help: 'Smoothed round-trip time (srtt) samples of TCP connections.',
    labelNames,
    buckets: cfg.rttBuckets ?? RTT_BUCKETS_SECONDS,
    registers,
  });
  const rttCap = cap('lightfoot_tcp_rtt_seconds', labelNames);

  const cwnd = new Gauge<TcpLabelName>({
    name: 'lightfoot_tcp_congestion_window_segments',
    help: 'Congestion window (snd_cwnd, in segments) of the most recent sample.',
    labelNames,
    registers,
  });
  const cwndCap = cap('lightfoot_tcp_congestion_window_segments', labelNames);

  const active = new Gauge<TcpLabelName>({
    name: 'lightfoot_tcp_active_connections',
    help: 'TCP connections currently open.',
    labelNames,
    registers,
  });
  const activeCap = cap('lightfoot_tcp_active_connections', labelNames);

  return {
    opened: (l, n) => opened(l, n),
    closed: (l, n) => closed(l, n),
    connectFailed: (l, n) => failed(l, n),
    bytesSent: (l, n) => sent(l, n),
    bytesReceived: (l, n) => received(l, n),
    retransmits: (l, n) => retrans(l, n),
    resets(l, direction, count) {
      const n = amount(count);
      if (n !== undefined) resetCounter.inc(resetCap.admit({ ...toLabels(l), direction }), n);
    },
    observeRtt(l, seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) rtt.observe(rttCap.admit(toLabels(l)), seconds);
    },
    congestionWindow(l, segments) {
      if (Number.isFinite(segments) && segments >= 0) cwnd.set(cwndCap.admit(toLabels(l)), segments);
    },
    activeDelta(l, delta) {
      if (Number.isFinite(delta) && delta !== 0) active.inc(activeCap.admit(toLabels(l)), delta);
    },
  };
}
