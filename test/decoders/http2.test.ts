/**
 * The http2 decoder component against real HTTP/2 traffic: Node's http2 and
 * @grpc/grpc-js (h2c) in their own processes, recorded by a loopback proxy and
 * fed to the component as the host would. Exact counts on both sides, chunk
 * boundaries that do not matter, RST_STREAM, GOAWAY, PING, starts mid-connection
 * and losses that never give a wrong value.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup } from '../helpers/process';
import { feed, loadHttp2, recordPeers as record, series, summarize, total, type Chunk, type Summary } from './http2-harness';
import type { Decoder, DecoderInfo } from '../../sdk/host/types';

let dec: Decoder;
let info: DecoderInfo;

before(async () => {
  dec = await loadHttp2('v8');
  info = dec.describe();
});
after(() => cleanup.run());

const fresh = async (): Promise<Decoder> => loadHttp2('v8');
const sum = (d: Decoder, chunks: Chunk[], o: Parameters<typeof feed>[2] = {}): Summary => summarize(info, feed(d, chunks, o).outputs);

let nodeRec: { chunks: Chunk[]; done: string };
let grpcRec: { chunks: Chunk[]; done: string };

test('describe: OTel-named metrics, subscriptions to tcp (records + streams) and openssl (streams)', () => {
  assert.equal(info.name, 'http2');
  assert.deepEqual(info.subscriptions, [
    { probe: 'tcp', kinds: [1, 4, 5], streams: true },
    { probe: 'openssl', kinds: [0], streams: true },
  ]);
  const names = info.metrics.map((m) => m.name);
  for (const n of ['lightfoot_http_server_request_duration_seconds', 'lightfoot_http_client_request_duration_seconds',
    'lightfoot_rpc_server_duration_seconds', 'lightfoot_rpc_client_duration_seconds']) assert.ok(names.includes(n), n);
  assert.deepEqual(info.metrics.find((m) => m.name === 'lightfoot_rpc_client_duration_seconds')!.labels,
    ['rpc_system', 'rpc_service', 'rpc_method', 'rpc_grpc_status_code', 'server_address', 'server_port']);
});

test('Node http2 h2c: N requests are N streams with the right :path template and :status, client and server side', async () => {
  nodeRec = await record(['node-server', '--port', '0'], (p) => ['node-client', '--port', String(p), '--requests', '20', '--cancel', '2', '--ping']);
  assert.equal(nodeRec.done, 'DONE ok=16 notfound=4 cancelled=2 ping=1');
  for (const side of ['client', 'server'] as const) {
    const s = sum(await fresh(), nodeRec.chunks, { side });
    const metric = side === 'client' ? 'lightfoot_http_client_request_duration_seconds' : 'lightfoot_http_server_request_duration_seconds';
    const tail = side === 'client' ? 'server_address=unknown,server_port=unknown' : 'server_port=unknown';
    const route = side === 'client' ? 'url_template' : 'http_route';
    assert.deepEqual(series(s, metric), {
      [`{http_request_method=GET,http_response_status_code=200,${route}=/items/{id},${tail}}`]: 16,
      [`{http_request_method=GET,http_response_status_code=404,${route}=/missing,${tail}}`]: 4,
    }, side);
    assert.equal(total(s, 'lightfoot_http2_streams_started_total', { side }), 22);
    assert.equal(total(s, 'lightfoot_http2_streams_total', { side, outcome: 'complete' }), 20);
    assert.equal(total(s, 'lightfoot_http2_streams_total', { side, outcome: 'reset' }), 2);
    // the client cancels: RST_STREAM(CANCEL) sent by the client
    assert.deepEqual(series(s, 'lightfoot_http2_stream_resets_total'), { [`{side=${side},error_code=CANCEL,sender=${side === 'client' ? 'local' : 'peer'}}`]: 2 });
    assert.equal(total(s, 'lightfoot_http2_ping_rtt_seconds', { side, sender: side === 'client' ? 'local' : 'peer' }), 1);
    for (const v of s.observed.values()) for (const x of v) assert.ok(x >= 0 && x < 5, `durations from the marks: ${x}`);
    assert.equal(total(s, 'lightfoot_http2_connections_total', { side, detected: 'preface', transport: 'h2c' }), 1);
    assert.equal(total(s, 'lightfoot_http2_resyncs_total'), 0);
    assert.equal(total(s, 'lightfoot_http2_unknown_fields_total'), 0);
    const resets = s.logs.filter((l) => l.message === 'stream-reset');
    assert.equal(resets.length, 2);
    assert.equal(resets[0]!.fields.errorCode, 'CANCEL');
    assert.equal(resets[0]!.fields.route, '/slow');
    assert.deepEqual(s.annotations.map((a) => [a.key, a.value]), [['protocol', 'h2c']]);
  }
});

test('chunk boundaries do not matter: byte-by-byte, random splits, many segments per call give the same counts', async () => {
  const base = sum(await fresh(), nodeRec.chunks);
  const strip = (s: Summary): Record<string, number> => Object.fromEntries([...s.counts].filter(([k]) => !k.startsWith('lightfoot_http2_tracked')));
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 300) + 1;
  for (const o of [{ split: () => 1 }, { split: rnd }, { perBatch: 7 }, { split: rnd, perBatch: 13 }]) {
    assert.deepEqual(strip(sum(await fresh(), nodeRec.chunks, o)), strip(base), JSON.stringify(Object.keys(o)));
  }
});

test('gRPC (grpc-js h2c): unary OK / NOT_FOUND / INTERNAL counted exactly per code, plus a server-streaming call, both sides', async () => {
  grpcRec = await record(['grpc-server', '--port', '0'], (p) => ['grpc-client', '--port', String(p), '--plan', 'ok:7,notfound:3,internal:2', '--stream', '1']);
  assert.equal(grpcRec.done, 'DONE codes={"0":7,"5":3,"13":2} streamed=3');
  for (const side of ['client', 'server'] as const) {
    const s = sum(await fresh(), grpcRec.chunks, { side });
    const metric = side === 'client' ? 'lightfoot_rpc_client_duration_seconds' : 'lightfoot_rpc_server_duration_seconds';
    const tail = side === 'client' ? 'server_address=unknown,server_port=unknown' : 'server_port=unknown';
    assert.deepEqual(series(s, metric), {
      [`{rpc_system=grpc,rpc_service=lightfoot.test.Echo,rpc_method=Unary,rpc_grpc_status_code=0,${tail}}`]: 7,
      [`{rpc_system=grpc,rpc_service=lightfoot.test.Echo,rpc_method=Unary,rpc_grpc_status_code=5,${tail}}`]: 3,
      [`{rpc_system=grpc,rpc_service=lightfoot.test.Echo,rpc_method=Unary,rpc_grpc_status_code=13,${tail}}`]: 2,
      [`{rpc_system=grpc,rpc_service=lightfoot.test.Echo,rpc_method=Stream,rpc_grpc_status_code=0,${tail}}`]: 1,
    }, side);
    assert.equal(total(s, 'lightfoot_http_client_request_duration_seconds') + total(s, 'lightfoot_http_server_request_duration_seconds'), 0, 'gRPC is not counted as plain HTTP');
    const failed = s.logs.filter((l) => l.message === 'rpc-failed');
    assert.equal(failed.length, 5, 'one event line per failed RPC');
    assert.deepEqual(failed.map((f) => f.fields.grpcCode).sort(), ['INTERNAL', 'INTERNAL', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
    assert.equal(failed.find((f) => f.fields.grpcCode === 'NOT_FOUND')!.fields.grpcMessage, 'no such item: 42');
    assert.ok(!s.logs.some((l) => l.message !== 'rpc-failed' && 'grpcMessage' in l.fields), 'grpc-message only in failure lines');
  }
});

test('mid-connection start: the connection is found mid-stream, streams counted, fields known or `unknown`, never wrong', async () => {
  // Start at every chunk after the preface: whatever the decoder reports must be true.
  const truth = new Set(['/items/{id}', '/missing', 'unknown']);
  let sawMidstream = 0;
  for (let at = 3; at < nodeRec.chunks.length; at += 3) {
    const s = sum(await fresh(), nodeRec.chunks, { startAt: at, side: 'client' });
    for (const k of s.counts.keys()) {
      const m = /url_template=([^,]*)/.exec(k);
      if (m) assert.ok(truth.has(m[1]!), `start at ${at}: ${k}`);
      const st = /http_response_status_code=([^,]*)/.exec(k);
      if (st) assert.ok(['200', '404', 'unknown'].includes(st[1]!), `start at ${at}: ${k}`);
    }
    if (total(s, 'lightfoot_http2_connections_total', { detected: 'midstream' }) === 1) sawMidstream++;
    const started = total(s, 'lightfoot_http2_streams_started_total');
    assert.ok(started <= 22, `${started} streams at most`);
  }
  assert.ok(sawMidstream > 5, `recognised mid-stream ${sawMidstream} times`);
  // gRPC: a start after the first calls: later calls are counted as streams; what is
  // reported of them (grpc-js indexes content-type and grpc-status) is right or unknown.
  for (const at of [8, 12, 16]) {
    const s = sum(await fresh(), grpcRec.chunks, { startAt: at, side: 'server' });
    for (const k of s.counts.keys()) {
      if (k.startsWith('lightfoot_rpc_server_duration_seconds')) assert.match(k, /rpc_service=(lightfoot\.test\.Echo|unknown),rpc_method=(Unary|Stream|unknown),rpc_grpc_status_code=(0|5|13|unknown)/);
      assert.ok(!k.startsWith('lightfoot_http_server'), `gRPC never counted as plain HTTP: ${k}`);
    }
    assert.ok(total(s, 'lightfoot_http2_streams_total', { side: 'server', outcome: 'complete' }) >= 5, `later calls counted (start at ${at})`);
  }
});

test('a gap resynchronises (counted) and never yields a wrong value', async () => {
  for (let lost = 4; lost < nodeRec.chunks.length - 2; lost += 5) {
    const s = sum(await fresh(), nodeRec.chunks, { lose: new Set([lost]), side: 'server' });
    assert.ok(total(s, 'lightfoot_http2_resyncs_total', { reason: 'gap' }) <= 1);
    for (const k of s.counts.keys()) {
      const m = /http_route=([^,]*)/.exec(k);
      if (m) assert.ok(['/items/{id}', '/missing', 'unknown'].includes(m[1]!), `lost ${lost}: ${k}`);
    }
    assert.ok(total(s, 'lightfoot_http_server_request_duration_seconds') >= 14, `most requests still counted (lost chunk ${lost})`);
  }
});

test('GOAWAY on shutdown: a server closing its session sends GOAWAY(NO_ERROR), one event line with the debug length only', async () => {
  const s = sum(await fresh(), nodeRec.chunks, { side: 'server' });
  const goaways = s.logs.filter((l) => l.message === 'goaway');
  assert.ok(goaways.length >= 1);
  for (const g of goaways) {
    assert.equal(g.fields.errorCode, 'NO_ERROR');
    assert.equal(typeof g.fields.debugDataLength, 'number');
    assert.ok(!('debugData' in g.fields));
  }
  assert.equal(total(s, 'lightfoot_http2_goaways_total', { side: 'server' }), goaways.length);
});

test('fuzz through the real engine (wasmtime, daemon limits): mutated recordings, random frames, CONTINUATION floods, HPACK bombs, many connections — no fault, memory bounded', async (t) => {
  const { wasmEngineClass } = await import('../../sdk/host/wasmtime-engine');
  const { engine: WasmEngine, reason } = wasmEngineClass();
  if (!WasmEngine) return t.skip(`no wasmtime engine in the addon: ${reason}`);
  const fs = await import('node:fs');
  const { http2WasmPath } = await import('./http2-harness');
  const { encodeBatch } = await import('../../runtime/decoders/batch-encoder');
  const inst = new WasmEngine({ cacheDir: '' }).compile(fs.readFileSync(http2WasmPath())).instantiate({ memoryBytes: 64 << 20, deadlineMs: 1000 }); // the daemon's 100 ms, with room for a loaded CI machine
  const wt: Decoder = { engine: 'wasmtime', describe: () => inst.describe(), decode: (b: Buffer) => inst.decode(b) };
  let seed = 12345;
  const rnd = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  const frame = (type: number, flags: number, sid: number, payload: Buffer): Buffer => {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type; h[4] = flags; h.writeUInt32BE(sid, 5);
    return Buffer.concat([h, payload]);
  };
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  let conn = 1n;
  for (let round = 0; round < 300; round++) {
    const src = [nodeRec.chunks, grpcRec.chunks][round % 2]!;
    let chunks: Chunk[];
    if (round % 3 === 0) {
      // a recording with bytes flipped
      chunks = src.map((c) => ({ ...c, data: Buffer.from(c.data) }));
      for (let k = 0; k < 1 + rnd(6); k++) { const c = chunks[rnd(chunks.length)]!; if (c.data.length) c.data[rnd(c.data.length)] = rnd(256); }
    } else if (round % 3 === 1) {
      // random frames after a real preface: every type, random flags and lengths
      const parts: Buffer[] = [preface];
      for (let k = 0; k < 40; k++) parts.push(frame(rnd(12), rnd(256), rnd(4) === 0 ? 0 : 1 + 2 * rnd(20), Buffer.from(Array.from({ length: rnd(64) }, () => rnd(256)))));
      chunks = [{ dir: 0, tsNs: 1000, data: Buffer.concat(parts) }];
    } else {
      // HEADERS + a flood of CONTINUATION, then a bomb of indexed references to a 4 KB entry
      const lit = Buffer.concat([Buffer.from([0x40, 1, 0x7a, 0x7f, 0x81, 0x1e]), Buffer.alloc(4000, 0x61)]);
      const parts: Buffer[] = [preface, frame(1, 0, 1, lit)];
      for (let k = 0; k < 300; k++) parts.push(frame(9, 0, 1, Buffer.alloc(1000, 0xbe)));
      parts.push(frame(9, 4, 1, Buffer.alloc(100, 0xbe)), frame(1, 5, 3, Buffer.alloc(16000, 0xbe)));
      chunks = [{ dir: 0, tsNs: 1000, data: Buffer.concat(parts) }];
    }
    feed(wt, chunks, { connection: conn++, split: () => 1 + rnd(5000), perBatch: 1 + rnd(8), close: rnd(2) === 0 });
  }
  // many connections at once: the tables stay bounded
  const streams = Array.from({ length: 3000 }, (_, i) => ({ connection: BigInt(100000 + i), direction: 0 as const, data: [preface, frame(4, 0, 0, Buffer.alloc(0))], eos: false, gap: false }));
  wt.decode(encodeBatch({ probe: 'tcp', schema: 1, records: [], streams, logs: true }));
  assert.ok(inst.memoryBytes() < 48 << 20, `memory ${inst.memoryBytes()} bytes`);
  // still decodes real traffic exactly
  const s = summarize(info, feed(wt, nodeRec.chunks, { connection: 999n }).outputs);
  assert.equal(total(s, 'lightfoot_http_client_request_duration_seconds'), 20);
});
