/**
 * Workload overhead: a loopback TCP request/response workload's throughput
 * with `lightfoot run` watching both of its processes, as a ratio to the same
 * workload unmonitored, measured in the same run with the two conditions
 * interleaved so machine noise hits both alike.
 */
import { buildWorkloads } from '../test/helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../test/helpers/process';
import { startDaemon } from '../test/helpers/daemon';
import { fmt, median, type BenchSection } from './bench-result';

const CONNS = 4;
const MSG = 64;
const DURATION_MS = 2000;
const PAIRS = Number(process.env.LIGHTFOOT_BENCH_PAIRS ?? 5);

async function pingpong(bin: string, port: number, comm: string): Promise<number> {
  const c = spawnWorkload(bin, ['pingpong', '--host', '127.0.0.1', '--port', String(port), '--conns', String(CONNS), '--msg-bytes', String(MSG), '--duration-ms', String(DURATION_MS), '--comm', comm]);
  const m = await c.waitForLine(/^RESULT .*rps=([\d.]+)/, DURATION_MS + 20_000);
  await c.exited;
  return Number(m[1]);
}

export async function tcpOverhead(): Promise<BenchSection> {
  const { tcpWorkload: bin } = await buildWorkloads();
  const srv = await startServer(bin, ['pingpong-server', '--port', '0', '--comm', 'lfbench-srv']);
  const plain: number[] = [];
  const watched: number[] = [];
  try {
    await pingpong(bin, srv.port, 'lfbench-cli'); // warm-up
    for (let i = 0; i < PAIRS; i++) {
      plain.push(await pingpong(bin, srv.port, 'lfbench-cli'));
      const d = await startDaemon(['--comm', 'lfbench-cli', '--comm', 'lfbench-srv', '--no-events']);
      try {
        watched.push(await pingpong(bin, srv.port, 'lfbench-cli'));
      } finally {
        await d.stop();
      }
    }
  } finally {
    await srv.handle.kill();
    await cleanup.run();
  }
  const ratio = median(watched) / median(plain);
  return {
    title: 'Workload overhead (loopback request/response)',
    method: `C ping-pong workload (test/workloads/tcp_workload.c), ${CONNS} connections x ${MSG} B messages, ${DURATION_MS} ms per run, TCP_NODELAY; ${PAIRS} unmonitored/monitored pairs interleaved; lightfoot watches both the client and the server (every request fires the send and recv hooks on both sides). Median of each condition.`,
    rows: [
      { name: 'unmonitored', value: median(plain), unit: 'req/s', detail: plain.map((x) => fmt(x)).join(', ') },
      { name: 'monitored by lightfoot', value: median(watched), unit: 'req/s', detail: watched.map((x) => fmt(x)).join(', ') },
      { name: 'ratio monitored / unmonitored', value: ratio, unit: 'x', detail: 'target >= 0.95' },
    ],
  };
}
