/**
 * What the http2 decoder tests and benchmark share: the component
 * (dist/probes/http2/decoder.wasm) under V8 or wasmtime, real HTTP/2 traffic
 * recorded by a loopback TCP proxy between a real client and server (the bytes
 * and arrival times each direction carried), a feeder that hands recordings to
 * the decoder as the host does (unconsumed bytes kept and resent, `ts` marks,
 * optional re-chunking, gaps, mid-connection starts), and a summary of the
 * output by metric name and labels.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { packageRoot } from '../../runtime/package-root';
import { encodeBatch, type BatchInput } from '../../runtime/decoders/batch-encoder';
import { loadV8 } from '../../sdk/host/v8-engine';
import { spawnWorkload } from '../helpers/process';
import type { Decoder, DecodeOutput, DecoderInfo } from '../../sdk/host/types';

let built: string | undefined;
export function http2WasmPath(): string {
  if (built) return built;
  if (process.env.LIGHTFOOT_HTTP2_WASM) return (built = path.resolve(process.env.LIGHTFOOT_HTTP2_WASM));
  const root = packageRoot();
  const r = spawnSync('bash', [path.join(root, 'scripts', 'build-decoders.sh'), 'http2'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/build-decoders.sh http2 failed: ${r.stderr}`);
  return (built = path.join(root, 'dist', 'probes', 'http2', 'decoder.wasm'));
}

export async function loadHttp2(engine: 'v8' | 'wasmtime' = 'v8'): Promise<Decoder> {
  const bytes = fs.readFileSync(http2WasmPath());
  if (engine === 'v8') return loadV8(bytes);
  const { loadWasmtime } = require('../../sdk/host/wasmtime-engine') as typeof import('../../sdk/host/wasmtime-engine');
  return loadWasmtime(bytes);
}

/** One read of the proxy: dir 0 = client->server bytes, 1 = server->client. */
export interface Chunk {
  dir: 0 | 1;
  tsNs: number;
  data: Buffer;
}
export interface Recording {
  chunks: Chunk[];
  /** Connections through the proxy, in accept order. */
  connections: number;
}

/**
 * A loopback proxy to `port` that records what crossed it, per connection.
 * `stop()` returns the recordings (one per proxied connection).
 */
export async function recordingProxy(port: number): Promise<{ port: number; stop(): Promise<Chunk[][]> }> {
  const recs: Chunk[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const rec: Chunk[] = [];
    recs.push(rec);
    const u = net.connect(port, '127.0.0.1');
    sockets.add(c).add(u);
    const now = (): number => Number(process.hrtime.bigint());
    c.on('data', (d) => {
      rec.push({ dir: 0, tsNs: now(), data: Buffer.from(d) });
      u.write(d);
    });
    u.on('data', (d) => {
      rec.push({ dir: 1, tsNs: now(), data: Buffer.from(d) });
      c.write(d);
    });
    c.on('end', () => u.end());
    u.on('end', () => c.end());
    c.on('close', () => u.destroy());
    u.on('close', () => c.destroy());
    c.on('error', () => undefined);
    u.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    async stop() {
      await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r(undefined)));
      return recs;
    },
  };
}

export interface FeedOptions {
  /** Which side the watched process is: client (egress = client->server) or server. */
  side?: 'client' | 'server';
  connection?: bigint;
  /** Re-chunk: a function giving the next chunk length (default: as recorded). */
  split?: () => number;
  /** Start at this recorded chunk (a mid-connection start); the first segment has no preface. */
  startAt?: number;
  /** Chunks whose bytes are lost: the next segment of that direction carries gap. */
  lose?: ReadonlySet<number>;
  logs?: boolean;
  /** End with a `closed` list for the connection (default true). */
  close?: boolean;
  /** Segments per decode() call (default 1). */
  perBatch?: number;
  /** Sees every batch handed to the decoder (benchmarks replay them). */
  onBatch?: (input: BatchInput) => void;
}

export interface Fed {
  outputs: DecodeOutput[];
  calls: number;
}

/** Feeds a recording to the decoder as the host would: unconsumed bytes come back. */
export function feed(dec: Decoder, chunks: Chunk[], o: FeedOptions = {}): Fed {
  const conn = o.connection ?? 42n;
  const pend: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  const marks: [number[], number[]] = [[], []];
  const gap: [boolean, boolean] = [false, false];
  const outputs: DecodeOutput[] = [];
  const flip = o.side === 'server';
  let pieces: Chunk[] = [];
  chunks.forEach((c, i) => {
    if (o.startAt !== undefined && i < o.startAt) return;
    const dir = (flip ? 1 - c.dir : c.dir) as 0 | 1;
    if (o.lose?.has(i)) {
      pieces.push({ dir, tsNs: c.tsNs, data: Buffer.alloc(0), lost: true } as Chunk & { lost: true });
      return;
    }
    if (!o.split) pieces.push({ dir, tsNs: c.tsNs, data: c.data });
    else for (let off = 0; off < c.data.length; ) {
      const n = Math.max(1, Math.min(o.split(), c.data.length - off));
      pieces.push({ dir, tsNs: c.tsNs, data: c.data.subarray(off, off + n) });
      off += n;
    }
  });
  const per = o.perBatch ?? 1;
  let calls = 0;
  for (let i = 0; i < pieces.length; i += per) {
    const group = pieces.slice(i, i + per);
    const touched = new Set<0 | 1>();
    for (const p of group) {
      if ((p as { lost?: boolean }).lost) {
        pend[p.dir] = Buffer.alloc(0);
        marks[p.dir] = [];
        gap[p.dir] = true;
        continue;
      }
      const m = marks[p.dir];
      if (m.length === 0 || m[m.length - 1] !== p.tsNs) m.push(pend[p.dir].length, p.tsNs);
      pend[p.dir] = Buffer.concat([pend[p.dir], p.data]);
      touched.add(p.dir);
    }
    if (touched.size === 0) continue;
    const streams = [...touched].map((d) => ({ connection: conn, direction: d, data: [pend[d]], eos: false, gap: gap[d], marks: marks[d] }));
    const input: BatchInput = { probe: 'tcp', schema: 1, records: [], streams: streams.map((x) => ({ ...x, data: [Buffer.from(x.data[0]!)], marks: [...x.marks] })), logs: o.logs ?? true };
    o.onBatch?.(input);
    const out = dec.decode(encodeBatch(input));
    calls++;
    outputs.push(out);
    for (const d of touched) {
      gap[d] = false;
      const p = out.streams.find((s) => s.connection === conn && dirOf(s.direction) === d);
      const consumed = p ? p.consumed : 0;
      pend[d] = pend[d].subarray(consumed);
      // marks of the kept bytes, shifted
      const m = marks[d];
      const kept: number[] = [];
      for (let j = 0; j < m.length; j += 2) {
        const end = j + 2 < m.length ? m[j + 2]! : Infinity;
        if (end <= consumed) continue;
        kept.push(Math.max(0, m[j]! - consumed), m[j + 1]!);
      }
      marks[d] = pend[d].length > 0 ? kept : [];
    }
  }
  if (o.close ?? true) {
    outputs.push(dec.decode(encodeBatch({ probe: 'tcp', schema: 1, records: [], closed: [conn], logs: o.logs ?? true })));
    calls++;
  }
  return { outputs, calls };
}

const dirOf = (d: unknown): 0 | 1 => (d === 'ingress' || d === 1 ? 1 : 0);

/** Sums by `name{labels}`: adds summed, observations counted (and their values kept). */
export interface Summary {
  counts: Map<string, number>;
  observed: Map<string, number[]>;
  logs: { message: string; fields: Record<string, unknown>; connection: bigint }[];
  annotations: { connection: bigint; key: string; value: string }[];
}

export function summarize(info: DecoderInfo, outs: DecodeOutput[]): Summary {
  const s: Summary = { counts: new Map(), observed: new Map(), logs: [], annotations: [] };
  for (const out of outs) {
    for (const m of out.metrics) {
      const decl = info.metrics[m.metric]!;
      const key = `${decl.name}{${decl.labels.map((l, i) => `${l}=${m.labels[i]}`).join(',')}}`;
      if (m.op === 'observe') {
        const arr = s.observed.get(key) ?? [];
        arr.push(m.value);
        s.observed.set(key, arr);
        s.counts.set(key, (s.counts.get(key) ?? 0) + 1);
      } else if (m.op === 'add') {
        s.counts.set(key, (s.counts.get(key) ?? 0) + m.value);
      } else {
        s.counts.set(key, m.value);
      }
    }
    for (const l of out.logs) s.logs.push({ message: l.message, connection: l.connection, fields: Object.fromEntries(l.fields) });
    s.annotations.push(...out.annotations);
  }
  return s;
}

/** The series of one metric as `{labels} -> count`, for exact comparisons. */
export function series(s: Summary, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of s.counts) if (k.startsWith(`${name}{`)) out[k.slice(name.length)] = v;
  return out;
}

export function total(s: Summary, name: string, match: Record<string, string> = {}): number {
  let t = 0;
  for (const [k, v] of s.counts) {
    if (!k.startsWith(`${name}{`)) continue;
    const labels = Object.fromEntries(k.slice(name.length + 1, -1).split(',').filter(Boolean).map((p) => p.split('=') as [string, string]));
    if (Object.entries(match).every(([a, b]) => labels[a] === b)) t += v;
  }
  return t;
}

export const PEERS = path.join(packageRoot(), 'test', 'workloads', 'h2-peers.js');

/** Starts an h2-peers.js server role; resolves with its port. */
export async function peerServer(args: string[], node = process.execPath): Promise<{ port: number; pid: number; kill(): Promise<unknown> }> {
  const h = spawnWorkload(node, [PEERS, ...args]);
  const m = await h.waitForLine(/^LISTENING (\d+)/, 15_000);
  return { port: Number(m[1]), pid: h.pid, kill: () => h.kill() };
}

/** Runs an h2-peers.js client role to its DONE line. */
export async function peerRun(args: string[], node = process.execPath): Promise<string> {
  const h = spawnWorkload(node, [PEERS, ...args]);
  const m = await h.waitForLine(/^DONE .*/, 60_000);
  await h.waitExit(10_000);
  return m[0];
}

/** Records one client run through a proxy in front of a server (one connection). */
export async function recordPeers(server: string[], client: (port: number) => string[]): Promise<{ chunks: Chunk[]; done: string }> {
  const srv = await peerServer(server);
  try {
    const proxy = await recordingProxy(srv.port);
    const done = await peerRun(client(proxy.port));
    const recs = await proxy.stop();
    if (recs.length !== 1) throw new Error(`expected one proxied connection, got ${recs.length}`);
    return { chunks: recs[0]!, done };
  } finally {
    await srv.kill();
  }
}

/** The header blocks (HEADERS/PUSH_PROMISE + CONTINUATION payloads) one direction carried, in order. */
export function headerBlocks(chunks: Chunk[], dir: 0 | 1): Buffer[] {
  let buf = Buffer.concat(chunks.filter((c) => c.dir === dir).map((c) => c.data));
  if (dir === 0 && buf.subarray(0, 3).toString() === 'PRI') buf = buf.subarray(24);
  const out: Buffer[] = [];
  let cur: Buffer[] | undefined;
  for (let o = 0; o + 9 <= buf.length; ) {
    const len = buf.readUIntBE(o, 3), type = buf[o + 3]!, flags = buf[o + 4]!;
    let p = buf.subarray(o + 9, o + 9 + len);
    o += 9 + len;
    if (type === 1 || type === 5) {
      let pad = 0;
      if (flags & 0x8) { pad = p[0]!; p = p.subarray(1); }
      if (type === 1 && flags & 0x20) p = p.subarray(5);
      if (type === 5) p = p.subarray(4);
      p = p.subarray(0, p.length - pad);
      cur = [p];
    } else if (type === 9 && cur) {
      cur.push(p);
    } else continue;
    if (flags & 0x4) { out.push(Buffer.concat(cur!)); cur = undefined; }
  }
  return out;
}
