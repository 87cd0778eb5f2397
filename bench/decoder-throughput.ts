/**
 * Micro-benchmark: events/s of the TCP decoder on 256-record msgpack batches —
 * the WebAssembly component (wasmtime engine when the addon has it, and V8 via
 * jco transpile) vs the same logic in TypeScript (probes/tcp/reference-decoder.ts),
 * in the same process. Two kinds of rows: decode only (the call and its output as
 * JS values), and the pipeline (DecoderManager: batch encoding, the call, metric
 * updates applied to a prom-client registry, event lines rendered to a stream
 * that discards them) with the TS decoder behind a fake engine (object output)
 * and the component behind wasmtime (compact output).
 *
 * Usage: node dist/bench/decoder-throughput.js [--seconds 2] [--json]
 */
import { performance } from 'node:perf_hooks';
import * as fs from 'node:fs';
import { Registry } from 'prom-client';
import { MonotonicClock } from '../runtime/daemon/clock';
import { DecoderManager } from '../runtime/decoders/decoder-manager';
import { DECODER_INTERFACE, loadNativeEngine, type DecoderEngine, type DecoderInstance } from '../runtime/decoders/engine';
import type { DecodeOutput as HostDecodeOutput, DecoderInfo as HostDecoderInfo } from '../runtime/decoders/engine';
import { ManualScheduler, fakeSource } from '../runtime/decoders/testing';
import { createEventWriter } from '../runtime/log/event-writer';
import { nullLogger } from '../runtime/log/logger';
import { LF_TCP_EVENT_KIND as K, LF_TCP_ROLE as R } from '../probes/tcp/generated/events';
import { ReferenceTcpDecoder } from '../probes/tcp/reference-decoder';
import { encodeBatch } from '../runtime/decoders/batch-encoder';
import { encodeTcpEvent, packBatch } from '../test/helpers/tcp-records';
import { fmt, type BenchRow, type BenchSection } from './bench-result';
import { loadCoreTcpDecode, loadJcoTcpDecoder, loadWasmtimeTcpDecoder, tcpWasmPath } from '../test/decoders/tcp-harness';

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

/** The TS reference decoder as a decoder engine (object output), for the pipeline rows. */
function referenceEngine(): DecoderEngine {
  return {
    compile: () => ({
      sha256: '',
      imports: () => [],
      exports: () => [DECODER_INTERFACE],
      world: () => 'decoder-plugin',
      instantiate(): DecoderInstance {
        const ref = new ReferenceTcpDecoder();
        return {
          describe: () => ref.describe() as HostDecoderInfo,
          decode: (b) => ref.decode(b) as HostDecodeOutput,
          decodeAsync: async (b) => ref.decode(b) as HostDecodeOutput,
          memoryBytes: () => 0,
          poisoned: false,
        };
      },
    }),
  };
}

/** Everything a decoded batch costs the daemon, sync mode, events to a discarding stream. */
function pipeline(engine: DecoderEngine, bytes: Buffer, logs: boolean): { run: (records: Buffer[]) => void } {
  const scheduler = new ManualScheduler();
  const sink = { write: () => true, on: () => sink, writableLength: 0 };
  const manager = new DecoderManager({
    engine,
    sources: [fakeSource('/bench/tcp.wasm')],
    registry: new Registry(),
    logger: nullLogger,
    events: logs ? createEventWriter({ format: 'json', stream: sink, logger: nullLogger }) : undefined,
    wallClock: new MonotonicClock(),
    mode: 'sync',
    schedule: scheduler.schedule,
    readFile: () => bytes,
  });
  const st = manager.status()[0];
  if (st?.state !== 'running') throw new Error(`bench: decoder not running: ${st?.refusal?.message ?? st?.state}`);
  return {
    run(records) {
      manager.dispatch('tcp', records);
      scheduler.run();
    },
  };
}

function measure<T>(name: string, logs: boolean, batches: T[], decode: (b: T) => unknown, seconds: number): Row {
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
    let native: DecoderEngine | undefined;
    try {
      native = loadNativeEngine({ cacheDir: '' });
    } catch {
      native = undefined;
    }
    const wasmBytes = fs.readFileSync(tcpWasmPath());
    if (native) {
      const inst = native.compile(wasmBytes).instantiate({ memoryBytes: 64 << 20, deadlineMs: 5000 });
      if (inst.decodeCompact) rows.push(measure('wasm (wasmtime engine, compact)', logs, batches, (b) => inst.decodeCompact!(b), seconds));
    }
    const jco = await loadJcoTcpDecoder();
    rows.push(measure('wasm (V8, jco transpile)', logs, batches, (b) => jco.decode(b), seconds));
    const core = await loadCoreTcpDecode();
    rows.push(measure('wasm guest only (V8 core module, no lifting)', logs, batches, core, seconds));
    // Pipeline: the records (not pre-encoded batches) go through DecoderManager.dispatch.
    const ts = pipeline(referenceEngine(), Buffer.alloc(0), logs);
    rows.push(measure('pipeline: ts reference-decoder.ts (object output)', logs, recs, (r) => ts.run(r), seconds));
    if (native) {
      const wp = pipeline(native, wasmBytes, logs);
      rows.push(measure('pipeline: wasm (wasmtime engine, compact)', logs, recs, (r) => wp.run(r), seconds));
    }
  }
  return { rows, batchBytes: encodeBatch({ probe: 'tcp', schema: 1, records: recs[0], logs: true }).length };
}

/** What a row is compared with: the TS decoder measured the same way. */
function baseline(r: Row, rs: Row[]): Row {
  const pipe = r.name.startsWith('pipeline');
  return rs.find((x) => (pipe ? x.name.startsWith('pipeline: ts ') : x.name.startsWith('ts ')))!;
}

/** The section of docs/benchmarks.md (bench/run.ts). */
export async function decoderThroughput(seconds = 2): Promise<BenchSection> {
  const { rows, batchBytes } = await measureAll(seconds);
  const out: BenchRow[] = [];
  for (const logs of [false, true]) {
    const rs = rows.filter((r) => r.logs === logs);
    for (const r of rs) {
      const ts = baseline(r, rs);
      out.push({ name: `${r.name}, logs ${logs ? 'on' : 'off'}`, value: r.eventsPerSec, unit: 'events/s', detail: `${fmt(r.usPerBatch, 1)} µs per batch` });
      if (r !== ts) {
        out.push({
          name: `ratio ${r.name} / ${ts.name}, logs ${logs ? 'on' : 'off'}`,
          value: r.eventsPerSec / ts.eventsPerSec,
          unit: 'x',
          detail: r.name.includes('compact') ? 'target >= 1.0' : '',
        });
      }
    }
  }
  return {
    title: 'TCP decoder: WebAssembly component vs the same logic in TypeScript',
    method:
      `The shipped tcp decoder component (C, probes/tcp/wasm) and its TypeScript twin (probes/tcp/reference-decoder.ts) on the same ${RECORDS}-record msgpack batches (${fmt(batchBytes)} bytes; 32 connections: open, 6 flushes, close), ${seconds} s each, same process. ` +
      `"logs on" also returns one structured log event per record; the daemon runs with logs on unless --no-events. ` +
      `Decode-only rows (ratios against "ts reference-decoder.ts"): one decode call and its output as JS values, nothing applied. "wasmtime engine" is decode() (one JS object per update, label and field); "wasmtime engine, compact" is decodeCompact() (typed-array columns, interned strings, log fields pre-rendered as JSON by Rust); "guest only" calls the core module under V8 without lifting results into JS: the decoder's own speed. ` +
      `Pipeline rows (ratios against "pipeline: ts"): what the daemon does per batch, through DecoderManager in sync mode: dispatch of the ${RECORDS} records, msgpack batch encoding, the decode call, validation and application of every metric update to a prom-client registry (series cap included), and with logs on one JSON event line per log event (annotations, wall-clock time from tsNs via MonotonicClock) written to a stream that discards it. The TS decoder sits behind a fake engine and goes through the object path (decoderLogRecord + JSON.stringify); the component goes through the compact path (applyCompact + line concatenation).`,
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
      const base = baseline(r, rs);
      console.log(
        `  ${r.name.padEnd(52)} ${(r.eventsPerSec / 1e6).toFixed(2).padStart(6)} M events/s  ${r.usPerBatch.toFixed(1).padStart(7)} µs/batch  ` +
          `${(r.eventsPerSec / base.eventsPerSec).toFixed(2)}× ${base === ts ? 'ts' : 'pipeline ts'}`,
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
