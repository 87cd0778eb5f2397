/**
 * TLS plaintext capture cost: a Node https request/response workload (server
 * and client processes, keep-alive, OpenSSL inside the node binary) with
 * `lightfoot run` watching both processes through the openssl module and the
 * http1-requests decoder on its streams, as a ratio to the same workload
 * unmonitored, conditions interleaved. Also: uprobe hits per request (one
 * extra run with --bpf-stats) and binary introspection time on the ~100 MB
 * node executable, first parse and cached.
 */
import * as path from 'node:path';
import { cleanup, spawnWorkload } from '../test/helpers/process';
import { startDaemon, eventually } from '../test/helpers/daemon';
import { sumOf } from '../test/helpers/prom';
import { buildHttp1ForTls, makeCert } from '../test/helpers/tls';
import { fmt, median, processCpuUs, type BenchSection } from './bench-result';

const DURATION_MS = 3000;
const CONCURRENCY = 4;
const PAIRS = Number(process.env.LIGHTFOOT_BENCH_PAIRS ?? 5);

const SERVER = `
const https = require('https'); const fs = require('fs');
const s = https.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]) }, (req, res) => { res.end('hello world'); });
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;
const CLIENT = `
const https = require('https');
const [port, ms, conc] = process.argv.slice(1).map(Number);
const agent = new https.Agent({ keepAlive: true, maxSockets: conc });
process.stdin.once('data', () => {
  let n = 0; const end = Date.now() + ms; const t0 = process.hrtime.bigint();
  const one = () => {
    if (Date.now() >= end) return Promise.resolve();
    return new Promise((r, j) => https.get({ host: '127.0.0.1', port, path: '/x', agent, rejectUnauthorized: false }, (res) => { res.resume(); res.on('end', r); }).on('error', j)).then(() => { n++; return one(); });
  };
  Promise.all(Array.from({ length: conc }, one)).then(() => {
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log('RESULT requests=' + n + ' rps=' + (n / s).toFixed(1)); process.exit(0);
  });
});
console.log('READY');
`;

interface RunStats { rps: number; requests: number; hits?: number; bpfUs?: number; daemonUs?: number }

async function oneRun(port: number, serverPid: number, decoders: string, monitored: boolean, bpfStats = false): Promise<RunStats> {
  const client = spawnWorkload(process.execPath, ['-e', CLIENT, String(port), String(DURATION_MS), String(CONCURRENCY)], { stdin: true });
  await client.waitForLine(/^READY/);
  const d = monitored
    ? await startDaemon(['--pid', String(serverPid), '--pid', String(client.pid), '--decoders', decoders, '--no-events', ...(bpfStats ? ['--bpf-stats'] : [])])
    : undefined;
  try {
    if (d) await eventually(() => d.logs.some((l) => l.msg === 'uprobes attached'), 10_000);
    const daemon0 = d ? processCpuUs(d.proc.pid!) : 0;
    client.send('go');
    const m = await client.waitForLine(/^RESULT requests=(\d+) rps=([\d.]+)/, DURATION_MS + 20_000);
    const out: RunStats = { rps: Number(m[2]), requests: Number(m[1]) };
    if (d && bpfStats) {
      const s = await d.scrape();
      out.hits = ['lf_ssl_rw_enter', 'lf_ssl_rw_ex_enter', 'lf_ssl_write_ex2_enter', 'lf_ssl_rw_exit', 'lf_ssl_free']
        .reduce((n, p) => n + sumOf(s, 'lightfoot_bpf_program_runs_total', { program: p }), 0);
      // Time inside every BPF program of the daemon (uprobes, companions, TCP), as the kernel measures it.
      out.bpfUs = sumOf(s, 'lightfoot_bpf_program_run_seconds_total') * 1e6;
      out.daemonUs = processCpuUs(d.proc.pid!) - daemon0;
    }
    return out;
  } finally {
    await d?.stop();
    await client.kill();
  }
}

export async function tlsOverhead(): Promise<BenchSection> {
  const native = require('../runtime/native/binding') as typeof import('../runtime/native/binding');
  const decoders = buildHttp1ForTls();
  const cert = makeCert();
  const server = spawnWorkload(process.execPath, ['-e', SERVER, cert.key, cert.cert]);
  const port = Number((await server.waitForLine(/^PORT (\d+)/))[1]);
  const rows: BenchSection['rows'] = [];
  try {
    await oneRun(port, server.pid, decoders, false); // warm-up
    const plain: number[] = [];
    const watched: number[] = [];
    for (let i = 0; i < PAIRS; i++) {
      plain.push((await oneRun(port, server.pid, decoders, false)).rps);
      watched.push((await oneRun(port, server.pid, decoders, true)).rps);
    }
    const stats = await oneRun(port, server.pid, decoders, true, true);
    const perReq = (1 / median(watched) - 1 / median(plain)) * 1e6;
    rows.push(
      { name: 'Node https, unmonitored', value: median(plain), unit: 'req/s', detail: plain.map((x) => fmt(x)).join(', ') },
      { name: 'Node https, monitored (openssl module + http1 decoder, both processes)', value: median(watched), unit: 'req/s', detail: watched.map((x) => fmt(x)).join(', ') },
      { name: 'Node https, ratio monitored / unmonitored', value: median(watched) / median(plain), unit: 'x', detail: `target >= 0.90; ≈ ${fmt(perReq, 1)} µs of CPU per request (both sides)` },
      { name: 'uprobe hits per request (both processes)', value: (stats.hits ?? 0) / Math.max(1, stats.requests), unit: 'hits', detail: `${fmt(stats.hits ?? 0)} program runs for ${fmt(stats.requests)} requests (--bpf-stats run)` },
      { name: 'where it goes: BPF program time per request', value: (stats.bpfUs ?? 0) / Math.max(1, stats.requests), unit: 'µs', detail: 'kernel run-time stats of all the daemon\'s programs (--bpf-stats run); the uprobe trap and uretprobe trampoline around each hit are not included' },
      { name: 'where it goes: daemon CPU per request', value: (stats.daemonUs ?? 0) / Math.max(1, stats.requests), unit: 'µs', detail: 'utime + stime of lightfoot run during the --bpf-stats run: ring reading, reassembly, the http1 decoder; on 2 vCPUs it competes with the workload' },
    );
    // Introspection of the ~100 MB node executable.
    const node = path.resolve(process.execPath);
    const cold: number[] = [];
    const cached: number[] = [];
    for (let i = 0; i < 5; i++) {
      native.clearBinaryCache();
      let t = process.hrtime.bigint();
      const info = native.readBinaryInfo(node, { names: ['SSL_read', 'SSL_write'] });
      cold.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      native.readBinaryInfo(node, { names: ['SSL_read', 'SSL_write'] });
      cached.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (i === 0) rows.push({ name: 'introspected binary', value: info.sizeBytes / 1e6, unit: 'MB', detail: `${node}, ${fmt(info.symbolCount)} function symbols` });
    }
    rows.push(
      { name: 'introspection, first parse (file in page cache)', value: median(cold), unit: 'ms', detail: cold.map((x) => fmt(x, 1)).join(', ') },
      { name: 'introspection, cached (same dev/inode/mtime)', value: median(cached), unit: 'ms', detail: cached.map((x) => fmt(x, 3)).join(', ') },
    );
  } finally {
    await server.kill();
    await cleanup.run();
  }
  return {
    title: 'TLS plaintext capture (Node https, openssl module)',
    method: `Node ${process.version} https server and client processes on loopback, keep-alive, ${CONCURRENCY} concurrent requests of 11-byte responses for ${DURATION_MS} ms per run; ${PAIRS} unmonitored/monitored pairs interleaved, medians. Monitored: \`lightfoot run --pid SERVER --pid CLIENT\` with the http1-requests decoder subscribed to the openssl streams (uprobes on the node binary's SSL_read/SSL_write, entry + uretprobe, plus the socket join hooks). Introspection: readBinaryInfo() of the node executable, symbols .symtab + .dynsym, build-id, text bounds.`,
    rows,
  };
}
