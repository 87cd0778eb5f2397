/**
 * Micro-benchmark: what Kubernetes mode adds to the daemon's per-batch work.
 * The same 256-record TCP batches go through DecoderManager (sync mode, event
 * lines on, written to a discarding stream) twice, interleaved round by
 * round: plain host mode, and Kubernetes mode, where every record teaches the
 * owner table (socket/pid → cgroup, as RingPipeline does for rings that declare an owner), every metric update
 * is relabelled (pid → namespace, pod, container, label_app) and every event
 * line gets the pod identity and the Cloud Logging fields appended.
 *
 * Usage: node dist/bench/kube-enrichment.js [--seconds 1] [--rounds 7]
 */
import { performance } from 'node:perf_hooks';
import * as fs from 'node:fs';
import { Registry } from 'prom-client';
import { MonotonicClock } from '../runtime/daemon/clock';
import { DecoderManager } from '../runtime/decoders/decoder-manager';
import { loadNativeEngine, type DecoderEngine } from '../runtime/decoders/engine';
import { ManualScheduler, fakeSource } from '../runtime/decoders/testing';
import { createEventWriter } from '../runtime/log/event-writer';
import { eventLineDecorator } from '../runtime/log/line-decorator';
import { nullLogger } from '../runtime/log/logger';
import { OwnerTable } from '../runtime/enrich/owner-table';
import { KubeSeriesLabeler, type IdentitySource } from '../runtime/enrich/kube-labels';
import { LF_TCP_EVENT_KIND as K, LF_TCP_EVENT_OFFSETS as O, LF_TCP_ROLE as R } from '../probes/tcp/generated/events';
import { encodeTcpEvent } from '../test/helpers/tcp-records';
import { tcpWasmPath } from '../test/decoders/tcp-harness';
import { median, type BenchRow, type BenchSection } from './bench-result';

const RECORDS = 256;

function batch(no: number): Buffer[] {
  const out: Buffer[] = [];
  for (let c = 0; c < 32; c++) {
    const base = {
      tgid: 1000 + (c & 7), comm: 'node', cookie: BigInt(no * 32 + c + 1), saddr: Uint8Array.from([10, 0, 0, 1]),
      daddr: Uint8Array.from([10, 0, (c >> 3) & 255, c & 7]), sport: 40000 + c, dport: 443, role: R.LF_TCP_ROLE_CLIENT,
      cgroup_id: BigInt(5000 + (c & 7)), open_ts_ns: 1_000_000n,
    };
    out.push(encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_OPEN, old_state: 2, new_state: 1, snd_cwnd: 10, ts_ns: 1_000_000n }));
    for (let f = 1; f <= 6; f++) {
      out.push(encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_FLUSH, new_state: 1, bytes_sent: BigInt(f * 1500), bytes_received: BigInt(f * 900), srtt_us: 200 + f, snd_cwnd: 10 + f, ts_ns: BigInt(1_000_000 + f * 1000) }));
    }
    out.push(encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_CLOSE, old_state: 5, new_state: 7, bytes_sent: 10_000n, bytes_received: 6_000n, srtt_us: 210, snd_cwnd: 16, ts_ns: 9_000_000n }));
  }
  return out;
}

function pipeline(engine: DecoderEngine, wasm: Buffer, kube: boolean): (records: Buffer[]) => void {
  const scheduler = new ManualScheduler();
  const sink = { write: () => true, on: () => sink, writableLength: 0 };
  const owners = new OwnerTable();
  const pods = new Map<bigint, { namespace: string; pod: string; podUid: string; container: string; labels: Record<string, string> }>();
  for (let i = 0; i < 8; i++) pods.set(BigInt(5000 + i), { namespace: 'shop', pod: `web-${i}`, podUid: `u${i}`, container: 'app', labels: { app: 'web', tier: 'front' } });
  const identities: IdentitySource = {
    ofPid: (pid) => { const cg = owners.cgroupOfPid(pid); return cg === undefined ? undefined : pods.get(cg); },
    ofConnection: (c) => { const cg = owners.cgroupOfCookie(c); return cg === undefined ? undefined : pods.get(cg); },
  };
  const manager = new DecoderManager({
    engine,
    sources: [fakeSource('/bench/tcp.wasm')],
    registry: new Registry(),
    logger: nullLogger,
    events: createEventWriter({ format: kube ? 'cloud' : 'json', stream: sink, logger: nullLogger, decorate: kube ? eventLineDecorator({ cloud: true, identities }) : undefined }),
    wallClock: new MonotonicClock(),
    mode: 'sync',
    schedule: scheduler.schedule,
    readFile: () => wasm,
    labeler: kube ? new KubeSeriesLabeler({ identities, podLabelKeys: ['app'], dropPid: true }) : undefined,
  });
  if (manager.status()[0]?.state !== 'running') throw new Error('bench: decoder not running');
  return (records) => {
    if (kube) {
      for (const r of records) {
        const cookie = r.readBigUInt64LE(O.cookie);
        owners.see(cookie, r.readUInt32LE(O.tgid), r.readBigUInt64LE(O.cgroup_id));
        if (r[0] === K.LF_TCP_EV_CLOSE) owners.closed(cookie);
      }
    }
    manager.dispatch('tcp', records);
    scheduler.run();
  };
}

function rate(run: (r: Buffer[]) => void, batches: Buffer[][], seconds: number): number {
  let n = 0;
  let i = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let t = t0;
  while (t < end) {
    for (let k = 0; k < 8; k++) run(batches[i++ % batches.length]!);
    n += 8;
    t = performance.now();
  }
  return (n * RECORDS) / ((t - t0) / 1000);
}

export async function kubeEnrichment(seconds = 1, rounds = 7): Promise<BenchSection> {
  const batches = Array.from({ length: 100 }, (_, b) => batch(b));
  let engine: DecoderEngine;
  try {
    engine = loadNativeEngine({ cacheDir: '' });
  } catch (err) {
    throw new Error(`bench kube-enrichment needs the native addon (npm run build): ${(err as Error).message}`);
  }
  const wasm = fs.readFileSync(tcpWasmPath());
  const plain = pipeline(engine, wasm, false);
  const kube = pipeline(engine, wasm, true);
  rate(plain, batches, 0.5); // warm-up
  rate(kube, batches, 0.5);
  const p: number[] = [];
  const k: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = rate(plain, batches, seconds);
    const b = rate(kube, batches, seconds);
    p.push(a);
    k.push(b);
    ratios.push(b / a);
  }
  const us = (eps: number): string => `${((1e6 / eps) * 1000).toFixed(0)} ns/event`;
  const rows: BenchRow[] = [
    { name: 'host mode (json lines)', value: median(p), unit: 'events/s', detail: `${us(median(p))}; rounds: ${p.map((x) => Math.round(x)).join(', ')}` },
    { name: 'Kubernetes mode (owner table, relabelled metrics, identity + Cloud Logging fields on lines)', value: median(k), unit: 'events/s', detail: `${us(median(k))}; rounds: ${k.map((x) => Math.round(x)).join(', ')}` },
    { name: 'ratio Kubernetes / host', value: median(ratios), unit: 'x', detail: `per-round ratios ${ratios.map((x) => x.toFixed(3)).join(', ')}; ≈ ${(1e9 / median(k) - 1e9 / median(p)).toFixed(0)} ns more per event` },
  ];
  return {
    title: 'Kubernetes enrichment (pod labels on metrics and event lines)',
    method: `The built-in tcp decoder (wasmtime, compact output) through DecoderManager in sync mode on ${RECORDS}-record batches (32 connections of 8 pods: open, 6 flushes, close), event lines on and discarded; ${rounds} interleaved rounds of ${seconds} s per mode, medians. Kubernetes mode adds what the daemon adds there: the owner table fed from each record, relabelling of every metric update (pid → namespace, pod, container, label_app) and the identity and Cloud Logging fields appended to every line.`,
    rows,
  };
}

if (require.main === module) {
  const arg = (n: string, d: number): number => {
    const i = process.argv.indexOf(n);
    return i >= 0 ? Number(process.argv[i + 1]) : d;
  };
  kubeEnrichment(arg('--seconds', 1), arg('--rounds', 7))
    .then((s) => process.stdout.write(JSON.stringify(s, null, 2) + '\n'))
    .catch((err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exitCode = 1;
    });
}
