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
/** Tiny messages are the worst case (the fixed per-syscall probe cost dominates); 16 KiB is a typical RPC payload. */
const MSG_SIZES = [64, 16384];
const DURATION_MS = 2000;
const PAIRS = Number(process.env.LIGHTFOOT_BENCH_PAIRS ?? 5);

async function pingpong(bin: string, port: number, comm: string, MSG: number): Promise<number> {
  const c = spawnWorkload(bin, ['pingpong', '--host', '127.0.0.1', '--port', String(port), '--conns', String(CONNS), '--msg-bytes', String(MSG), '--duration-ms', String(DURATION_MS), '--comm', comm]);
  const m = await c.waitForLine(/^RESULT .*rps=([\d.]+)/, DURATION_MS + 20_000);
  await c.exited;
  return Number(m[1]);
}

async function pairs(bin: string, port: number, msg: number): Promise<{ plain: number[]; watched: number[] }> {
  const plain: number[] = [];
  const watched: number[] = [];
  await pingpong(bin, port, 'lfbench-cli', msg); // warm-up
  for (let i = 0; i < PAIRS; i++) {
    plain.push(await pingpong(bin, port, 'lfbench-cli', msg));
    const d = await startDaemon(['--comm', 'lfbench-cli', '--comm', 'lfbench-srv', '--no-events']);
    try {
      watched.push(await pingpong(bin, port, 'lfbench-cli', msg));
    } finally {
      await d.stop();
    }
  }
  return { plain, watched };
}

export async function tcpOverhead(): Promise<BenchSection> {
  const { tcpWorkload: bin } = await buildWorkloads();
  const srv = await startServer(bin, ['pingpong-server', '--port', '0', '--comm', 'lfbench-srv']);
  const rows: BenchSection['rows'] = [];
  try {
    for (const msg of MSG_SIZES) {
      const { plain, watched } = await pairs(bin, srv.port, msg);
      const perRequestNs = (1 / median(watched) - 1 / median(plain)) * 1e9;
      rows.push(
        { name: `${msg} B messages, unmonitored`, value: median(plain), unit: 'req/s', detail: plain.map((x) => fmt(x)).join(', ') },
        { name: `${msg} B messages, monitored`, value: median(watched), unit: 'req/s', detail: watched.map((x) => fmt(x)).join(', ') },
        { name: `${msg} B messages, ratio monitored / unmonitored`, value: median(watched) / median(plain), unit: 'x', detail: `target >= 0.95; ≈ ${fmt(perRequestNs)} ns of CPU per request (4 watched syscalls)` },
      );
    }
  } finally {
    await srv.handle.kill();
    await cleanup.run();
  }
  return {
    title: 'Workload overhead (loopback request/response)',
    method: `C ping-pong workload (test/workloads/tcp_workload.c), ${CONNS} connections, one write + one read of S bytes per request, TCP_NODELAY, ${DURATION_MS} ms per run; ${PAIRS} unmonitored/monitored pairs interleaved, medians. lightfoot (default flags: no --bpf-stats, --no-events) watches BOTH the client and the server, so every request fires 4 send/recv hooks; 2 vCPUs are saturated by the workload, so every nanosecond of probe work shows.`,
    rows,
  };
}
