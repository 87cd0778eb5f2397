/**
 * Micro-benchmark: events/s of the TCP decoder on 256-record msgpack batches —
 * the WebAssembly component (wasmtime engine when the addon has it, and V8 via
 * jco transpile) vs the same logic in TypeScript (probes/tcp/reference-decoder.ts),
 * in the same process.
 *
 * Usage: node dist/bench/decoder-throughput.js [--seconds 2] [--json]
 */
import { performance } from 'node:perf_hooks';
import { LF_TCP_EVENT_KIND as K, LF_TCP_ROLE as R } from '../probes/tcp/generated/events';
import { ReferenceTcpDecoder } from '../probes/tcp/reference-decoder';
import { encodeBatch } from '../runtime/decoders/batch-encoder';
import { encodeTcpEvent, packBatch } from '../test/helpers/tcp-records';
import { fmt, type BenchRow, type BenchSection } from './bench-result';
import { loadCoreTcpDecode, loadJcoTcpDecoder, loadWasmtimeTcpDecoder } from '../test/decoders/tcp-harness';

const RECORDS = 256;
const CONNS_PER_BATCH = 32; // open, 6 flushes, close each
const DISTINCT_BATCHES = 200;

function records(batchNo: number): Buffer[] {
  const out: Buffer[] = [];
  for (let c = 0; c < CONNS_PER_BATCH; c++) {
    const cookie = BigInt(batchNo * CONNS_PER_BATCH + c + 1);
    const peer = Uint8Array.from([10, 0, (c >> 3) & 255, c & 7]); // 8 connections per peer: label sets shared
    const base = {
      tgid: 1000 + (c & 3), comm: 'node', cookie, saddr: Uint8Array.from([10, 0, 0, 1]), daddr: peer,
      sport: 40000 + c, dport: 443, role: R.LF_TCP_ROLE_CLIENT, cgroup_id: 4242n, open_ts_ns: 1_000_000n,
    };
    out.push(encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_OPEN, old_state: 2, new_state: 1, snd_cwnd: 10, ts_ns: 1_000_000n }));
    for (let f = 1; f <= 6; f++) {
      out.push(encodeTcpEvent({
        ...base, kind: K.LF_TCP_EV_FLUSH, new_state: 1, bytes_sent: BigInt(f * 1500), bytes_received: BigInt(f * 900),
        total_retrans: f >> 2, srtt_us: 200 + f, snd_cwnd: 10 + f, ts_ns: BigInt(1_000_000 + f * 1000),
      }));
    }
    out.push(encodeTcpEvent({
      ...base, kind: K.LF_TCP_EV_CLOSE, old_state: 5, new_state: 7, bytes_sent: 10_000n, bytes_received: 6_000n,
      total_retrans: 2, srtt_us: 210, snd_cwnd: 16, ts_ns: 9_000_000n,
    }));
  }
  if (out.length !== RECORDS) throw new Error('bench: batch size');
  return out;
}

interface Row { name: string; logs: boolean; eventsPerSec: number; usPerBatch: number }

function measure(name: string, logs: boolean, batches: Buffer[], decode: (b: Buffer) => unknown, seconds: number): Row {
  // warm-up: JIT, table growth
  const warmEnd = performance.now() + Math.min(1000, seconds * 500);
  let i = 0;
  while (performance.now() < warmEnd) decode(batches[i++ % batches.length]);
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let t = t0;
  while (t < end) {
    for (let k = 0; k < 16; k++) decode(batches[i++ % batches.length]);
    n += 16;
    t = performance.now();
  }
  const secs = (t - t0) / 1000;
  return { name, logs, eventsPerSec: (n * RECORDS) / secs, usPerBatch: (secs * 1e6) / n };
}

async function measureAll(seconds: number): Promise<{ rows: Row[]; batchBytes: number }> {
  const recs = Array.from({ length: DISTINCT_BATCHES }, (_, b) => records(b));
  const rows: Row[] = [];
  for (const logs of [true, false]) {
    const batches = recs.map((r) => encodeBatch({ probe: 'tcp', schema: 1, records: r, logs }));
    const ref = new ReferenceTcpDecoder();
    rows.push(measure('ts reference-decoder.ts', logs, batches, (b) => ref.decode(b), seconds));
    const wt = loadWasmtimeTcpDecoder();
    if (wt) rows.push(measure('wasm (wasmtime engine)', logs, batches, (b) => wt.decode(b), seconds));
    const jco = await loadJcoTcpDecoder();
    rows.push(measure('wasm (V8, jco transpile)', logs, batches, (b) => jco.decode(b), seconds));
    const core = await loadCoreTcpDecode();
    rows.push(measure('wasm guest only (V8 core module, no lifting)', logs, batches, core, seconds));
  }
  return { rows, batchBytes: encodeBatch({ probe: 'tcp', schema: 1, records: recs[0], logs: true }).length };
}

/** The section of docs/benchmarks.md (bench/run.ts). */
export async function decoderThroughput(seconds = 2): Promise<BenchSection> {
  const { rows, batchBytes } = await measureAll(seconds);
  const out: BenchRow[] = [];
  for (const logs of [false, true]) {
    const rs = rows.filter((r) => r.logs === logs);
    const ts = rs.find((r) => r.name.startsWith('ts '))!;
    for (const r of rs) {
      out.push({ name: `${r.name}, logs ${logs ? 'on' : 'off'}`, value: r.eventsPerSec, unit: 'events/s', detail: `${fmt(r.usPerBatch, 1)} µs per batch` });
      if (r !== ts) out.push({ name: `ratio ${r.name} / ts, logs ${logs ? 'on' : 'off'}`, value: r.eventsPerSec / ts.eventsPerSec, unit: 'x', detail: r.name.includes('wasmtime') ? 'target >= 1.0' : '' });
    }
  }
  return {
    title: 'TCP decoder: WebAssembly component vs the same logic in TypeScript',
    method: `The shipped tcp decoder component (C, probes/tcp/wasm) and its TypeScript twin (probes/tcp/reference-decoder.ts) on the same ${RECORDS}-record msgpack batches (${fmt(batchBytes)} bytes; 32 connections: open, 6 flushes, close), ${seconds} s each, same process. "logs on" also returns one structured log event per record, which dominates the cost of crossing the component boundary; the daemon runs with logs on unless --no-events. "guest only" calls the core module without lifting results into JS: the decoder's own speed.`,
    rows: out,
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const seconds = Number(args[args.indexOf('--seconds') + 1]) || 2;
  const json = args.includes('--json');
  const { rows, batchBytes } = await measureAll(seconds);
  if (json) {
    console.log(JSON.stringify({ records: RECORDS, batchBytes, rows }));
    return;
  }
  console.log(`TCP decoder throughput, ${RECORDS}-record batches (${batchBytes} bytes msgpack), ${seconds}s each`);
  for (const logs of [true, false]) {
    const rs = rows.filter((r) => r.logs === logs);
    const ts = rs.find((r) => r.name.startsWith('ts '))!;
    console.log(`\nlogs: ${logs}`);
    for (const r of rs) {
      console.log(
        `  ${r.name.padEnd(46)} ${(r.eventsPerSec / 1e6).toFixed(2).padStart(6)} M events/s  ${r.usPerBatch.toFixed(1).padStart(7)} µs/batch  ` +
          `${(r.eventsPerSec / ts.eventsPerSec).toFixed(2)}× ts`,
      );
    }
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
