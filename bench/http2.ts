/**
 * HTTP/2 benchmarks.
 *
 * 1. Decoder throughput: a recorded gRPC conversation (grpc-js h2c, both
 *    directions, the batches the host would send) decoded by the http2
 *    component (wasmtime engine when the addon has it, else V8), against the
 *    same framing and HPACK work done in the same process by hpack.js (a
 *    well-kept JavaScript HPACK): frames/s and MB/s, ratio.
 * 2. Workload overhead: Node http2 request/response (h2c) throughput with
 *    `lightfoot run` watching client and server, as a ratio to unmonitored, in
 *    one interleaved run; and the same with the http2 decoder disabled (no
 *    payload capture), which prices the capture itself.
 *
 * Usage: node dist/bench/http2.js [--json]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeBatch, type BatchInput } from '../runtime/decoders/batch-encoder';
import { packageRoot } from '../runtime/package-root';
import { startDaemon } from '../test/helpers/daemon';
import { cleanup } from '../test/helpers/process';
import { feed, http2WasmPath, loadHttp2, peerRun, peerServer, recordPeers, type Chunk } from '../test/decoders/http2-harness';
import { loadV8 } from '../sdk/host/v8-engine';
import { wasmEngineClass } from '../sdk/host/wasmtime-engine';
import type { Decoder } from '../sdk/host/types';
import { fmt, median, type BenchSection } from './bench-result';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const hpack = require('hpack.js');

const REPS = 20;
const PAIRS = Number(process.env.LIGHTFOOT_BENCH_PAIRS ?? 5);
const DURATION_MS = 2000;

/** The recorded conversation's frames and bytes (both directions). */
function frameCount(chunks: Chunk[]): { frames: number; bytes: number } {
  let frames = 0, bytes = 0;
  for (const dir of [0, 1]) {
    let b = Buffer.concat(chunks.filter((c) => c.dir === dir).map((c) => c.data));
    bytes += b.length;
    if (dir === 0) b = b.subarray(24);
    for (let o = 0; o + 9 <= b.length; o += 9 + b.readUIntBE(o, 3)) frames++;
  }
  return { frames, bytes };
}

/** The baseline: frames reassembled per direction, header blocks through hpack.js. */
function hpackJsPass(inputs: BatchInput[]): number {
  const st = new Map<string, { pend: Buffer; dec: any; preface: boolean; block: Buffer[] | undefined }>();
  let statuses = 0;
  for (const input of inputs) {
    for (const seg of input.streams ?? []) {
      const key = `${seg.connection}/${seg.direction}`;
      let s = st.get(key);
      if (!s) st.set(key, (s = { pend: Buffer.alloc(0), dec: hpack.decompressor.create({ table: { maxSize: 4096 } }), preface: seg.direction === 0, block: undefined }));
      // the host resends unconsumed bytes in front: the recorded segments already hold them
      let b = Buffer.concat(seg.data as Buffer[]);
      let o = 0;
      if (s.preface && b.length >= 24) { o = 24; s.preface = false; }
      for (; o + 9 <= b.length; ) {
        const len = b.readUIntBE(o, 3);
        if (o + 9 + len > b.length) break;
        const type = b[o + 3]!, flags = b[o + 4]!;
        let p = b.subarray(o + 9, o + 9 + len);
        o += 9 + len;
        if (type === 1) {
          let pad = 0;
          if (flags & 0x8) { pad = p[0]!; p = p.subarray(1); }
          if (flags & 0x20) p = p.subarray(5);
          s.block = [p.subarray(0, p.length - pad)];
        } else if (type === 9 && s.block) s.block.push(p);
        else continue;
        if (flags & 0x4) {
          s.dec.write(Buffer.concat(s.block!));
          s.dec.execute();
          let h;
          while ((h = s.dec.read()) !== null) if (h.name === ':status' || h.name === 'grpc-status' || h.name === ':path') statuses++;
          s.block = undefined;
        }
      }
      b = b.subarray(o);
      s.pend = b;
    }
    for (const c of input.closed ?? []) { st.delete(`${c}/0`); st.delete(`${c}/1`); }
  }
  return statuses;
}

export async function http2DecoderThroughput(): Promise<BenchSection> {
  const rec = await recordPeers(['grpc-server', '--port', '0'], (p) => ['grpc-client', '--port', String(p), '--plan', 'ok:600,notfound:100,internal:100', '--stream', '50']);
  const { frames, bytes } = frameCount(rec.chunks);
  // The batches the host would send (64 reads per call), once per repetition with its own connection.
  const inputs: BatchInput[] = [];
  const probe = await loadHttp2('v8');
  feed(probe, rec.chunks, { perBatch: 64, logs: false, onBatch: (i) => inputs.push(i) });
  const reps: Buffer[] = [];
  const repInputs: BatchInput[] = [];
  for (let r = 0; r < REPS; r++) {
    const conn = BigInt(1000 + r);
    for (const i of inputs) {
      const x = { ...i, streams: i.streams!.map((s) => ({ ...s, connection: conn })) };
      repInputs.push(x);
      reps.push(encodeBatch(x));
    }
    const closed = { probe: 'tcp', schema: 1, records: [], closed: [conn], logs: false };
    repInputs.push(closed);
    reps.push(encodeBatch(closed));
  }
  let engine = 'wasmtime, decodeCompact as the daemon calls it';
  let dec: Pick<Decoder, 'decode'>;
  const { engine: WasmEngine } = wasmEngineClass();
  if (WasmEngine) {
    const inst = new WasmEngine({ cacheDir: '' }).compile(fs.readFileSync(http2WasmPath())).instantiate({ memoryBytes: 64 << 20, deadlineMs: 1000 });
    dec = { decode: (b: Buffer) => inst.decodeCompact(b) };
  } else {
    engine = 'V8 (jco)';
    dec = await loadV8(fs.readFileSync(http2WasmPath()));
  }
  const timeOurs = (): number => {
    const t0 = performance.now();
    for (const b of reps) dec.decode(b);
    return performance.now() - t0;
  };
  const timeLib = (): number => {
    const t0 = performance.now();
    hpackJsPass(repInputs);
    return performance.now() - t0;
  };
  timeOurs(); timeLib(); // warm-up
  const ours: number[] = [], lib: number[] = [];
  for (let i = 0; i < 7; i++) { ours.push(timeOurs()); lib.push(timeLib()); }
  const mo = median(ours) / 1000, ml = median(lib) / 1000;
  const totalFrames = frames * REPS, totalMB = (bytes * REPS) / 1e6;
  return {
    title: 'HTTP/2 decoder throughput (recorded gRPC conversation)',
    method: `grpc-js h2c, 800 unary calls (600 OK, 100 NOT_FOUND, 100 INTERNAL) + 50 server-streaming calls, recorded by a loopback proxy: ${fmt(frames)} frames, ${fmt(bytes / 1024)} KiB both directions; replayed ${REPS}× (one connection each) as the host's batches (64 reads per call, ts marks, logs off). Ours: the http2 component on ${engine} (framing, full HPACK with dynamic tables, streams, metric output). Baseline: frame reassembly in JS plus hpack.js 2.1.6 decompressing every header block, no metrics at all. 7 interleaved runs, medians.`,
    rows: [
      { name: `http2 component (${engine})`, value: totalFrames / mo, unit: 'frames/s', detail: `${fmt(totalMB / mo, 1)} MB/s; runs ${ours.map((x) => fmt(x)).join(', ')} ms` },
      { name: 'JS framing + hpack.js', value: totalFrames / ml, unit: 'frames/s', detail: `${fmt(totalMB / ml, 1)} MB/s; runs ${lib.map((x) => fmt(x)).join(', ')} ms` },
      { name: 'ratio component / hpack.js', value: ml / mo, unit: 'x', detail: 'target >= 1.5' },
    ],
  };
}

export async function http2Overhead(): Promise<BenchSection> {
  const cfgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-bench-h2-'));
  const noHttp2 = path.join(cfgDir, 'no-http2.json');
  fs.writeFileSync(noHttp2, JSON.stringify({ decoders: [{ path: path.join(packageRoot(), 'dist', 'probes', 'http2', 'decoder.wasm'), enabled: false }] }));
  const srv = await peerServer(['node-server', '--port', '0', '--comm', 'lfbench-h2s']);
  const run = async (): Promise<number> => {
    const line = await peerRun(['node-client', '--port', String(srv.port), '--duration-ms', String(DURATION_MS), '--concurrency', '4', '--comm', 'lfbench-h2c']);
    return Number(/rps=([\d.]+)/.exec(line)![1]);
  };
  const plain: number[] = [], watched: number[] = [], noCapture: number[] = [];
  const monitored = async (extra: string[]): Promise<number> => {
    const d = await startDaemon(['--comm', 'lfbench-h2c', '--comm', 'lfbench-h2s', '--no-events', ...extra]);
    try {
      return await run();
    } finally {
      await d.stop();
    }
  };
  try {
    await run(); // warm-up
    for (let i = 0; i < PAIRS; i++) {
      plain.push(await run());
      watched.push(await monitored(['--capture', 'tcp,openssl']));
      noCapture.push(await monitored(['--config', noHttp2]));
    }
  } finally {
    await srv.kill();
    await cleanup.run();
    fs.rmSync(cfgDir, { recursive: true, force: true });
  }
  return {
    title: 'Node http2 workload overhead (h2c)',
    method: `Node ${process.version} http2 server and client (test/workloads/h2-peers.js), one h2c session, 4 request loops, ${DURATION_MS} ms per run; ${PAIRS} rounds of unmonitored / monitored (tcp + http2 decoders, --capture tcp,openssl: cleartext payload capture on) / monitored with the http2 decoder disabled (--config enabled:false: no payload capture), interleaved, medians. lightfoot watches both processes.`,
    rows: [
      { name: 'unmonitored', value: median(plain), unit: 'req/s', detail: plain.map((x) => fmt(x)).join(', ') },
      { name: 'monitored (http2 decoder, capture on)', value: median(watched), unit: 'req/s', detail: watched.map((x) => fmt(x)).join(', ') },
      { name: 'monitored, http2 decoder disabled (capture off)', value: median(noCapture), unit: 'req/s', detail: noCapture.map((x) => fmt(x)).join(', ') },
      { name: 'ratio monitored / unmonitored', value: median(watched) / median(plain), unit: 'x', detail: 'target >= 0.90' },
      { name: 'ratio capture on / capture off', value: median(watched) / median(noCapture), unit: 'x', detail: 'the price of payload capture + HTTP/2 decoding' },
    ],
  };
}

export async function http2Bench(): Promise<BenchSection[]> {
  return [await http2DecoderThroughput(), await http2Overhead()];
}

if (require.main === module) {
  http2Bench().then((s) => process.stdout.write(`${JSON.stringify(s, null, 2)}\n`), (e) => {
    process.stderr.write(`${e.stack ?? e}\n`);
    process.exitCode = 1;
  });
}
