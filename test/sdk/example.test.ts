// sdk/examples/http1-requests: builds, passes its fixtures, and its counts do not
// depend on how the host happens to cut the streams (fast-check over random
// splits and `consumed` round trips). Prints V8 decode throughput.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { encodeBatch } from '../../sdk/host/fixtures';
import { encode } from '../../sdk/host/msgpack';
import { Decoder } from '../../sdk/host/types';
import { loadV8 } from '../../sdk/host/v8-engine';
import { copyProject, mustBuild, runCli } from './helpers';

let dir = '';
let bytes: Buffer;

before(() => {
  dir = copyProject('sdk/examples/http1-requests');
  mustBuild(dir);
  bytes = readFileSync(path.join(dir, 'http1-requests.wasm'));
});

test('fixtures pass', () => {
  const r = runCli(['test', dir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /4 passed, 0 failed/);
});

const REQ = 'GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody';
const RESP = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 500 E\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n';

/** Feeds the conversation cut at `cuts`, honouring `consumed` like the host. */
function counts(dec: Decoder, cutsReq: number[], cutsResp: number[]): Record<string, number> {
  const pieces = (s: string, cuts: number[]): string[] => {
    const at = [...new Set(cuts.map((c) => c % (s.length + 1)))].sort((a, b) => a - b);
    const out: string[] = [];
    let prev = 0;
    for (const c of [...at, s.length]) { out.push(s.slice(prev, c)); prev = c; }
    return out;
  };
  const req = pieces(REQ, cutsReq), resp = pieces(RESP, cutsResp);
  const pending = new Map<string, Buffer>();
  const total: Record<string, number> = {};
  // Requests first, then responses (a response never precedes its request).
  const plan = [...req.map((data) => ({ c: 1, d: 0 as const, data })), ...resp.map((data) => ({ c: 1, d: 1 as const, data }))];
  for (let i = 0; i <= plan.length; i++) {
    const streams = i < plan.length ? [plan[i]] : [];
    const { bytes: b, sent } = encodeBatch({ probe: 'tcp', streams, closed: i === plan.length ? [1] : [] }, pending);
    const out = dec.decode(b);
    for (const m of out.metrics) if (m.metric === 0) total[m.labels.join('/')] = (total[m.labels.join('/')] ?? 0) + m.value;
    for (const [key, data] of sent) {
      const p = out.streams.find((s) => `${s.connection}/${s.direction === 'ingress' ? 1 : 0}` === key);
      const consumed = p ? p.consumed : 0; // the host keeps what is not reported
      assert.ok(consumed <= data.length);
      if (consumed < data.length) pending.set(key, data.subarray(consumed));
    }
  }
  return total;
}

test('counts do not depend on where segments are cut', async () => {
  const dec = await loadV8(bytes);
  const want = { 'GET/2xx': 1, 'POST/5xx': 1 };
  assert.deepEqual(counts(dec, [], []), want);
  fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }),
    (a, b) => { assert.deepEqual(counts(dec, a, b), want); }), { numRuns: 300 });
});

test('V8 throughput (informational)', async (t) => {
  const dec = await loadV8(bytes);
  // 256 connections x one request line + one response each: a busy batch.
  const streams = [];
  for (let c = 1; c <= 256; c++) {
    streams.push({ c: BigInt(c), d: 0, data: Buffer.from(`GET /item/${c} HTTP/1.1\r\nHost: x\r\n\r\n`), eos: false });
    streams.push({ c: BigInt(c), d: 1, data: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), eos: false });
  }
  const batch = encode({ v: 1, probe: 'tcp', schema: 1, logs: false, records: [], streams });
  for (let i = 0; i < 50; i++) dec.decode(batch);
  const n = 400;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) dec.decode(batch);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  t.diagnostic(`http1-requests on V8: ${(n * 512 / s / 1e6).toFixed(2)} M segments/s, ${(n * batch.length / s / 1e6).toFixed(1)} MB/s of batch (${batch.length} B batches, ${(s / n * 1e6).toFixed(0)} µs each)`);
});

test('server side: a response segment before its request in one batch still pairs (a request line that was incomplete when the response came)', async () => {
  const dec = await loadV8(bytes);
  const batch = (streams: { c: bigint; d: number; data: Buffer; eos: boolean }[]) => encode({ v: 1, probe: 'tcp', schema: 1, logs: false, records: [], streams });
  const resp = (n: number) => Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'.repeat(n));
  // Server conn 1: two responses (egress, d 0) then the two requests (ingress, d 1).
  const out = dec.decode(batch([
    { c: 1n, d: 0, data: resp(2), eos: false },
    { c: 1n, d: 1, data: Buffer.from('GET /x HTTP/1.1\r\n\r\nHEAD /y HTTP/1.1\r\n\r\n'), eos: false },
    // Conn 2: a response whose request is not in the batch: counted, method unknown.
    { c: 2n, d: 0, data: resp(1), eos: false },
  ]));
  const got: Record<string, number> = {};
  for (const m of out.metrics.filter((x) => x.metric === 0)) got[m.labels.join('/')] = (got[m.labels.join('/')] ?? 0) + m.value;
  assert.deepEqual(got, { 'GET/4xx': 1, 'HEAD/4xx': 1, 'unknown/4xx': 1 });
});
