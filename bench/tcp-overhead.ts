/**
 * Workload overhead of the TCP probe on a loopback request/response workload
 * (the C ping-pong of test/workloads/tcp_workload.c), as ratios to the same
 * workload unmonitored, all measured in one run with the conditions
 * interleaved (their order rotates every round) so machine noise hits them
 * alike:
 * - watched: `lightfoot run` selects both ends (client and server);
 * - watched-capture: the same with cleartext payload capture on (--capture tcp,openssl);
 * - unselected: `lightfoot run` watches another process name only;
 * - no-op, kept hooks: no daemon, a no-op BPF program on every hook the TCP
 *   probe attaches (the floor for "watched");
 * - no-op, per-syscall hooks: no daemon, no-op programs on sock_send_length /
 *   sock_recv_length, the hooks the probe used to attach (the floor of the
 *   previous design, and what payload capture still costs at least).
 *
 * Run just this one with `npm run bench -- tcp-overhead`.
 * LIGHTFOOT_BENCH_ROUNDS (default 9) and LIGHTFOOT_BENCH_RUN_MS (default 1500) set its length.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { buildWorkloads } from '../test/helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../test/helpers/process';
import { eventually, startDaemon } from '../test/helpers/daemon';
import { sumOf } from '../test/helpers/prom';
import { fmt, median, processCpuUs, type BenchRow, type BenchSection } from './bench-result';

type Binding = typeof import('../runtime/native/binding');

const CONNS = 4;
/** Tiny messages are the worst case (a fixed per-syscall cost dominates); 16 KiB is a typical RPC payload. */
const MSG_SIZES = [64, 16384];
const RUN_MS = Number(process.env.LIGHTFOOT_BENCH_RUN_MS ?? 1500);
const ROUNDS = Number(process.env.LIGHTFOOT_BENCH_ROUNDS ?? 9);
const CLIENT = 'lfbench-cli';
const SERVER = 'lfbench-srv';

type Condition = 'plain' | 'watched' | 'watched-capture' | 'unselected' | 'noop-kept' | 'noop-per-syscall';
const CONDITIONS: Condition[] = ['plain', 'watched', 'watched-capture', 'unselected', 'noop-kept', 'noop-per-syscall'];
const TARGET: Partial<Record<Condition, Record<number, number>>> = {
  watched: { 64: 0.97, 16384: 0.99 },
  unselected: { 64: 0.995, 16384: 0.995 },
};

interface Run {
  rps: number;
  /** CPU time of client and server per request, µs: what the probe adds, far less disturbed by other load than throughput. */
  cpuUs: number;
}

let serverPid = 0;

async function pingpong(bin: string, port: number, msg: number): Promise<Run> {
  const srv0 = processCpuUs(serverPid);
  const c = spawnWorkload(bin, ['pingpong', '--host', '127.0.0.1', '--port', String(port), '--conns', String(CONNS), '--msg-bytes', String(msg), '--duration-ms', String(RUN_MS), '--comm', CLIENT]);
  const m = await c.waitForLine(/^RESULT requests=(\d+) .*rps=([\d.]+)/, RUN_MS + 20_000);
  const cpu = await c.waitForLine(/^CPU client_us=(\d+)/, 10_000);
  await c.exited;
  const requests = Number(m[1]);
  return { rps: Number(m[2]), cpuUs: (Number(cpu[1]) + processCpuUs(serverPid) - srv0) / Math.max(1, requests) };
}

/** No-op programs of test/fixtures/bpf/noop_hooks.bpf.c whose names start with `prefix`, attached. */
function attachNoop(nb: Binding, file: string, prefix: string): () => void {
  const obj = nb.BpfObject.open(file);
  const names = obj.programs().map((p) => p.name);
  for (const n of names) obj.setAutoload(n, n.startsWith(prefix));
  obj.load();
  const links = names.filter((n) => n.startsWith(prefix)).map((n) => obj.attach(n));
  return () => {
    for (const l of links) l.destroy();
    obj.close();
  };
}

/** One run of the workload under `cond`; checks that "watched" really watched both ends. */
async function runUnder(cond: Condition, bin: string, port: number, msg: number, noopFile: string, nb: Binding): Promise<Run> {
  switch (cond) {
    case 'plain':
      return pingpong(bin, port, msg);
    case 'noop-kept':
    case 'noop-per-syscall': {
      const detach = attachNoop(nb, noopFile, cond === 'noop-kept' ? 'lf_noop_kept_' : 'lf_noop_per_syscall_');
      try {
        return await pingpong(bin, port, msg);
      } finally {
        detach();
      }
    }
    case 'watched':
    case 'watched-capture':
    case 'unselected': {
      const sel = cond === 'unselected' ? ['--comm', 'lfbench-other'] : ['--comm', CLIENT, '--comm', SERVER];
      // watched-capture: cleartext payload capture on (--capture tcp), the http2 decoder fed every payload.
      const d = await startDaemon([...sel, '--no-events', ...(cond === 'watched-capture' ? ['--capture', 'tcp,openssl'] : [])]);
      try {
        const rps = await pingpong(bin, port, msg);
        if (cond !== 'unselected') {
          // With capture on, the daemon may still be working through the payload backlog.
          let opened: number[] = [];
          await eventually(async () => {
            const s = await d.scrape();
            opened = [CLIENT, SERVER].map((comm) => sumOf(s, 'lightfoot_tcp_connections_opened_total', { comm }));
            return opened.every((n) => n === CONNS);
          }, 15_000, 100).catch(() => {
            throw new Error(`bench: ${cond}: both ends should be watched, opened ${opened.join('/')} of ${CONNS}`);
          });
        }
        return rps;
      } finally {
        await d.stop();
      }
    }
  }
}

/**
 * How often the probe's hooks (not its iterators, which the host runs itself)
 * fire per request while it watches, from the kernel's own run counts
 * (--bpf-stats): exact whatever the machine's load.
 */
async function hookRunsPerRequest(cond: 'watched' | 'unselected', bin: string, port: number, msg: number): Promise<{ perRequest: number; runs: number; requests: number }> {
  const sel = cond === 'watched' ? ['--comm', CLIENT, '--comm', SERVER] : ['--comm', 'lfbench-other'];
  const d = await startDaemon([...sel, '--no-events', '--bpf-stats']);
  try {
    const hookRuns = async (): Promise<number> =>
      (await d.scrape()).filter((x) => x.name === 'lightfoot_bpf_program_runs_total' && !x.labels.program.endsWith('_iter')).reduce((a, x) => a + x.value, 0);
    const before = await hookRuns();
    const c = spawnWorkload(bin, ['pingpong', '--host', '127.0.0.1', '--port', String(port), '--conns', String(CONNS), '--msg-bytes', String(msg), '--duration-ms', String(RUN_MS), '--comm', CLIENT]);
    const m = await c.waitForLine(/^RESULT requests=(\d+)/, RUN_MS + 20_000);
    await c.exited;
    const runs = (await hookRuns()) - before;
    return { perRequest: runs / Number(m[1]), runs, requests: Number(m[1]) };
  } finally {
    await d.stop();
  }
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
};

export async function tcpOverhead(): Promise<BenchSection> {
  const nb = require('../runtime/native/binding') as Binding;
  const { tcpWorkload: bin } = await buildWorkloads();
  const fixtures = execFileSync('bash', [path.resolve(__dirname, '../../test/fixtures/bpf/build.sh')], { encoding: 'utf8' }).trim();
  const noopFile = path.join(fixtures, 'noop_hooks.bpf.o');
  const srv = await startServer(bin, ['pingpong-server', '--port', '0', '--comm', SERVER], { timeoutMs: 0 }); // outlives spawnWorkload's default 2 min
  serverPid = srv.handle.pid;
  const rows: BenchRow[] = [];
  try {
    for (const msg of MSG_SIZES) {
      const rps = new Map<Condition, number[]>(CONDITIONS.map((c) => [c, []]));
      const ratios = new Map<Condition, number[]>(CONDITIONS.map((c) => [c, []]));
      const cpu = new Map<Condition, number[]>(CONDITIONS.map((c) => [c, []]));
      const cpuRatios = new Map<Condition, number[]>(CONDITIONS.map((c) => [c, []]));
      await pingpong(bin, srv.port, msg); // warm-up
      for (let round = 0; round < ROUNDS; round++) {
        const order = CONDITIONS.map((_, i) => CONDITIONS[(i + round) % CONDITIONS.length]);
        const got = new Map<Condition, Run>();
        for (const cond of order) got.set(cond, await runUnder(cond, bin, srv.port, msg, noopFile, nb));
        const base = got.get('plain')!;
        for (const cond of CONDITIONS) {
          const r = got.get(cond)!;
          rps.get(cond)!.push(r.rps);
          ratios.get(cond)!.push(r.rps / base.rps);
          cpu.get(cond)!.push(r.cpuUs);
          cpuRatios.get(cond)!.push(base.cpuUs / r.cpuUs);
        }
        process.stderr.write(`bench: tcp-overhead ${msg} B round ${round + 1}/${ROUNDS}: ${CONDITIONS.map((c) => `${c} ${fmt(got.get(c)!.rps)} req/s ${fmt(got.get(c)!.cpuUs, 2)} µs`).join(', ')}\n`);
      }
      const plain = rps.get('plain')!;
      const spread = (r: number[]): string =>
        `median of ${ROUNDS} per-round ratios, IQR ${fmt(quantile(r, 0.25), 3)}–${fmt(quantile(r, 0.75), 3)}, range ${fmt(Math.min(...r), 3)}–${fmt(Math.max(...r), 3)}`;
      rows.push(
        { name: `${msg} B messages, unmonitored`, value: median(plain), unit: 'req/s', detail: `median of ${ROUNDS}; ${plain.map((x) => fmt(x)).join(', ')}` },
        { name: `${msg} B messages, unmonitored, CPU per request`, value: median(cpu.get('plain')!), unit: 'µs', detail: `client + server, median of ${ROUNDS}` },
      );
      for (const cond of ['watched', 'unselected'] as const) {
        const h = await hookRunsPerRequest(cond, bin, srv.port, msg);
        rows.push({
          name: `${msg} B messages, probe hook runs per request, ${cond}`,
          value: h.perRequest,
          unit: 'runs',
          detail: `kernel run counts (--bpf-stats) of the probe's hooks: ${fmt(h.runs)} runs for ${fmt(h.requests)} requests over ${CONNS} connections (their opening and closing); the previous design ran 4 per request`,
        });
      }
      for (const cond of CONDITIONS.filter((c) => c !== 'plain')) {
        const target = TARGET[cond]?.[msg];
        const r = ratios.get(cond)!;
        const c = cpuRatios.get(cond)!;
        const extraNs = (median(cpu.get(cond)!) - median(cpu.get('plain')!)) * 1000;
        rows.push(
          {
            name: `${msg} B messages, throughput ratio ${cond} / unmonitored`,
            value: median(r),
            unit: 'x',
            detail: `${spread(r)}; ${fmt(median(rps.get(cond)!))} req/s` + (target ? `; target >= ${target}` : ''),
          },
          {
            name: `${msg} B messages, CPU-per-request ratio unmonitored / ${cond}`,
            value: median(c),
            unit: 'x',
            detail: `${spread(c)}; ≈ ${fmt(extraNs)} ns more CPU per request (medians)` + (target ? `; target >= ${target}` : ''),
          },
        );
      }
    }
  } finally {
    await srv.handle.kill();
    await cleanup.run();
  }
  return {
    title: 'Workload overhead (loopback request/response)',
    method:
      `C ping-pong workload (test/workloads/tcp_workload.c), ${CONNS} persistent connections, one write + one read of S bytes per request, TCP_NODELAY, ${RUN_MS} ms per run; ` +
      `${ROUNDS} rounds, each running every condition once in a rotating order; a ratio is condition / unmonitored within one round, and the row gives the median over rounds with its spread. ` +
      `"watched": lightfoot (default flags: no --bpf-stats, --no-events) selects BOTH the client and the server by --comm (checked: both ends' connections are counted); "watched-capture": the same plus --capture tcp,openssl (cleartext payload capture for the built-in http2 decoder: per-syscall hooks on the whole host, every payload of the selected processes copied to the daemon); ` +
      `"unselected": lightfoot runs with --comm lfbench-other and the workload is outside the selection; ` +
      `"noop-kept": no daemon, a no-op BPF program on each hook the TCP probe attaches (inet_sock_set_state, tcp_destroy_sock, tcp_send_reset, tcp_receive_reset, sched_process_free): the kernel's floor for "watched"; ` +
      `"noop-per-syscall": no daemon, no-op programs on sock_send_length and sock_recv_length, the per-send/recv hooks of the previous design (and of payload capture). ` +
      `2 vCPUs are saturated by the workload, so every nanosecond of probe work shows. ` +
      `Two ratios per condition: throughput (requests/s), and CPU per request (client getrusage + server utime/stime from /proc, per request), whose inverse equals the throughput ratio on an idle machine but is much less disturbed when other work shares the CPUs.`,
    rows,
  };
}
