/** Routes what the TCP decoder finds to Prometheus metrics and the event stream. */
import type { TcpConnectionEvent, TcpSeriesLabels, TcpSink } from '../../probes/tcp/decoder';
import type { TcpLabels, TcpMetrics } from '../metrics/tcp-metrics';
import type { EventWriter } from '../log/event-writer';
import { MonotonicClock } from './clock';

function toLabels(l: TcpSeriesLabels): TcpLabels {
  return { pid: Number(l.pid), comm: l.comm, role: l.role, peer: l.peer, port: Number(l.port) };
}

export function tcpSink(metrics: TcpMetrics, events: EventWriter | undefined, clock: MonotonicClock): TcpSink {
  return {
    opened(l) {
      const labels = toLabels(l);
      metrics.opened(labels);
      metrics.activeDelta(labels, 1);
    },
    closed(l) {
      const labels = toLabels(l);
      metrics.closed(labels);
      metrics.activeDelta(labels, -1);
    },
    connectFailed: (l) => metrics.connectFailed(toLabels(l)),
    bytes(l, sent, received) {
      const labels = toLabels(l);
      if (sent) metrics.bytesSent(labels, sent);
      if (received) metrics.bytesReceived(labels, received);
    },
    retransmits: (l, n) => metrics.retransmits(toLabels(l), n),
    reset: (l, direction) => metrics.resets(toLabels(l), direction),
    rtt: (l, seconds) => metrics.observeRtt(toLabels(l), seconds),
    cwnd: (l, segments) => metrics.congestionWindow(toLabels(l), segments),
    event(e: TcpConnectionEvent) {
      if (!events) return;
      const { tsNs, ageNs, cgroupId, cookie, bytesSent, bytesReceived, ...rest } = e;
      events.write({
        ...rest,
        event: e.event,
        time: clock.toIso(tsNs),
        probe: 'tcp',
        cookie: cookie.toString(),
        cgroupId: cgroupId.toString(),
        bytesSent: Number(bytesSent),
        bytesReceived: Number(bytesReceived),
        ageMs: Number(ageNs / 1000n) / 1000,
      });
    },
  };
}
