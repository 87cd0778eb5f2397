/**
 * Host throughput: how many TCP events per second the host turns into metrics.
 * End to end, from real connections through the kernel, ring buffer and
 * decoders to the metrics, checking nothing was dropped.
 */
import { buildWorkloads } from '../test/helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../test/helpers/process';
import { eventually, startDaemon } from '../test/helpers/daemon';
import { sumOf } from '../test/helpers/prom';
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

export async function hostThroughput(): Promise<BenchSection> {
  const e2e = await endToEnd();
  return {
    title: 'Host throughput (TCP events)',
    method: `End to end: ${fmt(CONNS)} short loopback connections (C workload), both sides watched (4 events per side per connection), from the first connect until every close is in the metrics; the rate is bounded by how fast the workload makes connections.`,
    rows: [
      { name: 'end to end, events decoded per second', value: e2e.eventsPerSec, unit: 'events/s', detail: `${fmt(e2e.events)} events in ${fmt(e2e.seconds, 2)} s, ${e2e.dropped} dropped` },
      { name: 'end to end, events dropped', value: e2e.dropped, unit: 'events' },
    ],
  };
}
