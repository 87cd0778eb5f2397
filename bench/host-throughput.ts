/**
 * Host throughput: how many TCP events per second the host turns into metrics.
 * (1) End to end, from real connections through the kernel, ring buffer and
 * decoder, checking nothing was dropped. (2) The decoder alone on recorded
 * batches: the ceiling of the host side.
 */
import { buildWorkloads } from '../test/helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../test/helpers/process';
import { eventually, startDaemon } from '../test/helpers/daemon';
import { sumOf } from '../test/helpers/prom';
import { encodeTcpEvent, packBatch } from '../test/helpers/tcp-records';
import { TcpDecoder, type TcpSink } from '../probes/tcp/decoder';
import { LF_TCP_EVENT_KIND as K, LF_TCP_ROLE as R } from '../probes/tcp/generated/events';
import { Registry } from 'prom-client';
import { tcpMetrics } from '../runtime/metrics/tcp-metrics';
import { tcpSink } from '../runtime/daemon/tcp-sink';
import { MonotonicClock } from '../runtime/daemon/clock';
import { fmt, type BenchSection } from './bench-result';

const CONNS = Number(process.env.LIGHTFOOT_BENCH_CONNS ?? 20_000);

async function endToEnd(): Promise<{ eventsPerSec: number; events: number; dropped: number; seconds: number }> {
  const { tcpWorkload: bin } = await buildWorkloads();
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', 'lfbench-esrv']);
  const d = await startDaemon(['--comm', 'lfbench-ecli', '--comm', 'lfbench-esrv', '--no-events']);
  try {
    const t0 = process.hrtime.bigint();
    const cli = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(srv.port), '--conns', String(CONNS), '--bytes', '16', '--comm', 'lfbench-ecli']);
    await cli.waitForLine(/^DONE /, 300_000);
    await cli.exited;
    let s = await d.scrape();
    await eventually(async () => {
      s = await d.scrape();
      return sumOf(s, 'lightfoot_tcp_connections_closed_total', { comm: 'lfbench-ecli' }) === CONNS;
    }, 60_000);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const events = sumOf(s, 'lightfoot_events_total', { probe: 'tcp' });
    const dropped = sumOf(s, 'lightfoot_probe_kernel_events_total', { probe: 'tcp', stat: 'dropped' });
    return { eventsPerSec: events / seconds, events, dropped, seconds };
  } finally {
    await d.stop();
    await srv.handle.kill();
    await cleanup.run();
  }
}

function decoderOnly(): { eventsPerSec: number; perEventNs: number } {
  const lo = Uint8Array.from([127, 0, 0, 1]);
  const records: Buffer[] = [];
  for (let i = 0; i < 256; i++) {
    const cookie = BigInt(1 + (i >> 2));
    const kind = [K.LF_TCP_EV_OPEN, K.LF_TCP_EV_STATE, K.LF_TCP_EV_FLUSH, K.LF_TCP_EV_CLOSE][i & 3];
    records.push(encodeTcpEvent({ kind, cookie, tgid: 4242, comm: 'bench', role: R.LF_TCP_ROLE_CLIENT, saddr: lo, daddr: lo, sport: 40000 + (i >> 2), dport: 8080, bytes_sent: BigInt(100 * (i & 3)), bytes_received: BigInt(50 * (i & 3)), srtt_us: 30, snd_cwnd: 10 }));
  }
  const batch = packBatch(records);
  const registry = new Registry();
  const sink: TcpSink = tcpSink(tcpMetrics(registry, { maxSeries: 10_000 }), undefined, new MonotonicClock());
  const decoder = new TcpDecoder(sink);
  for (let i = 0; i < 200; i++) decoder.decodeBatch(batch); // warm-up
  const rounds = 2000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) decoder.decodeBatch(batch);
  const ns = Number(process.hrtime.bigint() - t0);
  const events = rounds * records.length;
  return { eventsPerSec: events / (ns / 1e9), perEventNs: ns / events };
}

export async function hostThroughput(): Promise<BenchSection> {
  const e2e = await endToEnd();
  const dec = decoderOnly();
  return {
    title: 'Host throughput (TCP events)',
    method: `End to end: ${fmt(CONNS)} short loopback connections (C workload), both sides watched (4 events per side per connection), from the first connect until every close is in the metrics; the rate is bounded by how fast the workload makes connections. Decoder only: the TypeScript TCP decoder plus prom-client updates on a 256-record batch (64 connections: open, state, flush, close), no event lines.`,
    rows: [
      { name: 'end to end, events decoded per second', value: e2e.eventsPerSec, unit: 'events/s', detail: `${fmt(e2e.events)} events in ${fmt(e2e.seconds, 2)} s, ${e2e.dropped} dropped` },
      { name: 'end to end, events dropped', value: e2e.dropped, unit: 'events' },
      { name: 'decoder + metrics only', value: dec.eventsPerSec, unit: 'events/s', detail: `${fmt(dec.perEventNs)} ns per event` },
    ],
  };
}
