/**
 * The TCP decoder component (probes/tcp/wasm/, under V8 via jco and under the
 * wasmtime engine when the addon has it) against its TypeScript twin
 * (probes/tcp/reference-decoder.ts): identical outputs, equal to exact expected
 * values, plus differential property tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LF_TCP_EVENT_FLAG as F, LF_TCP_EVENT_KIND as K, LF_TCP_ROLE as R, type LfTcpEvent } from '../../probes/tcp/generated/events';
import { ReferenceTcpDecoder, type DecodeOutput, type MetricUpdate } from '../../probes/tcp/reference-decoder';
import { encodeBatch } from '../../runtime/decoders/batch-encoder';

/** The TCP metrics users see (docs/metrics.md): the component must declare exactly these. */
const metricNames = [
  'lightfoot_tcp_connections_opened_total',
  'lightfoot_tcp_connections_closed_total',
  'lightfoot_tcp_connect_failures_total',
  'lightfoot_tcp_bytes_sent_total',
  'lightfoot_tcp_bytes_received_total',
  'lightfoot_tcp_retransmits_total',
  'lightfoot_tcp_resets_total',
  'lightfoot_tcp_rtt_seconds',
  'lightfoot_tcp_congestion_window_segments',
  'lightfoot_tcp_active_connections',
];
const RTT_BUCKETS_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
import { encodeTcpEvent } from '../helpers/tcp-records';
import { loadJcoTcpDecoder, loadWasmtimeTcpDecoder, type TcpDecoderUnderTest } from './tcp-harness';

const M = {
  opened: 0, closed: 1, connectFailed: 2, bytesSent: 3, bytesReceived: 4,
  retransmits: 5, resets: 6, rtt: 7, cwnd: 8, active: 9,
} as const;

function reference(): TcpDecoderUnderTest {
  const d = new ReferenceTcpDecoder();
  return { name: 'reference-ts', describe: () => d.describe(), decode: (b) => d.decode(b) };
}

/** Fresh instances of every implementation available. */
async function implementations(): Promise<TcpDecoderUnderTest[]> {
  const all = [reference(), await loadJcoTcpDecoder()];
  const wt = loadWasmtimeTcpDecoder();
  if (wt) all.push(wt);
  return all;
}

type Result = { ok: DecodeOutput } | { err: string };
function run(d: TcpDecoderUnderTest, batch: Buffer): Result {
  try {
    return { ok: d.decode(batch) };
  } catch (e) {
    const kind = (e as { decodeError?: string }).decodeError;
    if (kind === 'malformed' || kind === 'unsupported') return { err: kind };
    throw e; // a trap or a bug: the property fails
  }
}

/** Decodes the batches in order on fresh instances of every implementation; asserts they agree; returns the outputs. */
async function decodeAll(batches: Buffer[]): Promise<DecodeOutput[]> {
  const impls = await implementations();
  const results = impls.map((d) => batches.map((b) => run(d, b)));
  for (let i = 1; i < impls.length; i++) {
    assert.deepStrictEqual(results[i], results[0], `${impls[i].name} differs from ${impls[0].name}`);
  }
  return results[0].map((r) => {
    if ('err' in r) throw new Error(`decode-error ${r.err}`);
    return r.ok;
  });
}

const batchOf = (records: Buffer[], logs = true, extra: { probe?: string; schema?: number; closed?: bigint[] } = {}) =>
  encodeBatch({ probe: extra.probe ?? 'tcp', schema: extra.schema ?? 1, records, logs, closed: extra.closed });

const lo = Uint8Array.from([127, 0, 0, 1]);
const client: Partial<LfTcpEvent> = {
  tgid: 42, comm: 'curl', cookie: 7n, saddr: lo, daddr: lo, sport: 50000, dport: 8080, role: R.LF_TCP_ROLE_CLIENT,
  cgroup_id: 1n, ts_ns: 5_000_000n, open_ts_ns: 3_000_000n,
};
const CL = ['42', 'curl', 'client', '127.0.0.1', '8080'];
const up = (metric: number, labels: string[], op: MetricUpdate['op'], value: number): MetricUpdate => ({ metric, labels, op, value });
const metricsOf = (outs: DecodeOutput[]) => outs.map((o) => o.metrics);

test('describe: the metric names, labels and buckets of docs/metrics.md', async () => {
  const impls = await implementations();
  const info = impls[0].describe();
  for (const d of impls.slice(1)) assert.deepStrictEqual(d.describe(), info, d.name);
  assert.equal(info.name, 'tcp');
  assert.equal(info.version, '0.1.0');
  assert.deepStrictEqual(info.subscriptions, [{ probe: 'tcp', kinds: [], streams: false }]);
  assert.deepStrictEqual(info.metrics.map((m) => m.name), [...metricNames]);
  const rtt = info.metrics[M.rtt];
  assert.equal(rtt.kind, 'histogram');
  assert.deepStrictEqual(rtt.buckets, RTT_BUCKETS_SECONDS);
  assert.deepStrictEqual(info.metrics[M.resets].labels, ['pid', 'comm', 'role', 'peer', 'port', 'direction']);
  assert.deepStrictEqual(info.metrics[M.cwnd].kind, 'gauge');
  assert.deepStrictEqual(info.metrics[M.active].kind, 'gauge');
  for (const m of info.metrics) if (m.name !== 'lightfoot_tcp_resets_total') assert.deepStrictEqual(m.labels, ['pid', 'comm', 'role', 'peer', 'port']);
});

const clientRecords = [
  encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_OPEN, old_state: 2, new_state: 1, snd_cwnd: 10 }),
  encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_FLUSH, bytes_sent: 100n, bytes_received: 40n, srtt_us: 250, snd_cwnd: 10 }),
  encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_FLUSH, bytes_sent: 100n, bytes_received: 90n, total_retrans: 2, snd_cwnd: 10 }),
  encodeTcpEvent({
    ...client, kind: K.LF_TCP_EV_CLOSE, old_state: 5, new_state: 7, bytes_sent: 300n, bytes_received: 90n,
    total_retrans: 3, srtt_us: 500, snd_cwnd: 12, ts_ns: 5_001_870_000n,
  }),
];

test('client connection open/flush/flush/close in one batch: aggregated, byte deltas counted once', async () => {
  const [out] = await decodeAll([batchOf(clientRecords)]);
  assert.deepStrictEqual(out.metrics, [
    up(M.opened, CL, 'add', 1),
    // active +1 and -1 in the same batch sum to 0: dropped
    up(M.cwnd, CL, 'set', 12),
    up(M.bytesSent, CL, 'add', 300),
    up(M.bytesReceived, CL, 'add', 90),
    up(M.rtt, CL, 'observe', 0.00025),
    up(M.retransmits, CL, 'add', 3),
    up(M.rtt, CL, 'observe', 0.0005),
    up(M.closed, CL, 'add', 1),
  ]);
  assert.deepStrictEqual(out.logs.map((l) => l.message), ['open', 'flush', 'flush', 'close']);
  assert.deepStrictEqual(out.annotations, []);
  assert.deepStrictEqual(out.streams, []);
  const close = out.logs[3];
  assert.equal(close.level, 'info');
  assert.equal(close.connection, 7n);
  assert.deepStrictEqual(close.fields, [
    ['pid', 42], ['comm', 'curl'], ['role', 'client'], ['local', '127.0.0.1:50000'], ['remote', '127.0.0.1:8080'],
    ['oldState', 'FIN_WAIT2'], ['state', 'CLOSE'], ['preexisting', false], ['connectFailed', false],
    ['bytesSent', 300], ['bytesReceived', 90], ['retransmits', 3], ['srttUs', 500], ['cwnd', 12],
    ['resetsSent', 0], ['resetsReceived', 0], ['ageMs', 4998.87], ['cgroupId', '1'], ['tsNs', 5_001_870_000],
  ]);
});

test('client connection, one record per batch: the same totals, deltas per batch', async () => {
  const outs = await decodeAll(clientRecords.map((r) => batchOf([r])));
  assert.deepStrictEqual(metricsOf(outs), [
    [up(M.opened, CL, 'add', 1), up(M.active, CL, 'add', 1), up(M.cwnd, CL, 'set', 10)],
    [up(M.bytesSent, CL, 'add', 100), up(M.bytesReceived, CL, 'add', 40), up(M.rtt, CL, 'observe', 0.00025), up(M.cwnd, CL, 'set', 10)],
    [up(M.bytesReceived, CL, 'add', 50), up(M.retransmits, CL, 'add', 2), up(M.cwnd, CL, 'set', 10)],
    [
      up(M.bytesSent, CL, 'add', 200), up(M.retransmits, CL, 'add', 1), up(M.rtt, CL, 'observe', 0.0005),
      up(M.cwnd, CL, 'set', 12), up(M.closed, CL, 'add', 1), up(M.active, CL, 'add', -1),
    ],
  ]);
});

test('server connection: port label is the local port; same label sets aggregate across connections', async () => {
  const peer = Uint8Array.from([10, 0, 0, 9]);
  const srv = { tgid: 7, comm: 'nginx', saddr: lo, daddr: peer, sport: 8080, role: R.LF_TCP_ROLE_SERVER };
  const [out] = await decodeAll([
    batchOf([
      encodeTcpEvent({ ...srv, cookie: 1n, dport: 40001, kind: K.LF_TCP_EV_OPEN }),
      encodeTcpEvent({ ...srv, cookie: 2n, dport: 40002, kind: K.LF_TCP_EV_OPEN }),
      encodeTcpEvent({ ...srv, cookie: 1n, dport: 40001, kind: K.LF_TCP_EV_FLUSH, bytes_received: 10n }),
      encodeTcpEvent({ ...srv, cookie: 2n, dport: 40002, kind: K.LF_TCP_EV_FLUSH, bytes_received: 5n }),
    ]),
  ]);
  const SL = ['7', 'nginx', 'server', '10.0.0.9', '8080'];
  assert.deepStrictEqual(out.metrics, [up(M.opened, SL, 'add', 2), up(M.active, SL, 'add', 2), up(M.bytesReceived, SL, 'add', 15)]);
  assert.deepStrictEqual(out.logs[0].fields.slice(3, 5), [['local', '127.0.0.1:8080'], ['remote', '10.0.0.9:40001']]);
});

test('RST after an abortive close: the reset counts, the bytes are not counted again', async () => {
  const outs = await decodeAll([
    batchOf([
      encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_OPEN }),
      encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_CLOSE, old_state: 1, new_state: 7, bytes_sent: 10n, bytes_received: 5n }),
    ]),
    batchOf([
      encodeTcpEvent({
        ...client, kind: K.LF_TCP_EV_RESET, flags: F.LF_TCP_F_RESET_SENT, bytes_sent: 10n, bytes_received: 5n,
        resets_sent: 1, snd_cwnd: 10,
      }),
    ]),
  ]);
  assert.deepStrictEqual(outs[0].metrics, [
    up(M.opened, CL, 'add', 1), up(M.bytesSent, CL, 'add', 10), up(M.bytesReceived, CL, 'add', 5), up(M.closed, CL, 'add', 1),
  ]);
  assert.deepStrictEqual(outs[1].metrics, [up(M.resets, [...CL, 'sent'], 'add', 1)]);
  const rst = outs[1].logs[0];
  assert.equal(rst.message, 'reset');
  assert.deepStrictEqual(rst.fields.find(([k]) => k === 'resetDirection'), ['resetDirection', 'sent']);
  assert.deepStrictEqual(rst.fields.find(([k]) => k === 'resetsSent'), ['resetsSent', 1]);
});

test('received RST: direction received; reset events set no cwnd', async () => {
  const [out] = await decodeAll([
    batchOf([encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_RESET, flags: F.LF_TCP_F_RESET_RECEIVED, snd_cwnd: 10 })]),
  ]);
  assert.deepStrictEqual(out.metrics, [up(M.resets, [...CL, 'received'], 'add', 1)]);
});

test('failed connect: a connect failure, no open, no close, connectFailed in the event', async () => {
  const [out] = await decodeAll([
    batchOf([
      encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_STATE, old_state: 7, new_state: 2 }),
      encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_CLOSE, flags: F.LF_TCP_F_NEVER_ESTABLISHED, old_state: 2, new_state: 7 }),
    ]),
  ]);
  assert.deepStrictEqual(out.metrics, [up(M.connectFailed, CL, 'add', 1)]);
  assert.deepStrictEqual(out.logs.map((l) => [l.message, l.fields.find(([k]) => k === 'connectFailed')![1]]), [
    ['state', false],
    ['close', true],
  ]);
});

test('malformed records are skipped and counted; the rest of the batch decodes', async () => {
  const short = encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_OPEN }).subarray(0, 100);
  const badKind = encodeTcpEvent({ ...client, kind: 9 });
  const outs = await decodeAll([
    batchOf([short, badKind, encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_OPEN })]),
    batchOf([Buffer.from([K.LF_TCP_EV_OPEN])], false),
  ]);
  assert.deepStrictEqual(outs[0].metrics, [up(M.opened, CL, 'add', 1), up(M.active, CL, 'add', 1)]);
  assert.deepStrictEqual(
    outs[0].logs.map((l) => [l.level, l.message]),
    [['info', 'open'], ['warn', 'malformed-records']],
  );
  assert.deepStrictEqual(outs[0].logs[1].fields, [['count', 2], ['total', 2]]);
  assert.equal(outs[0].logs[1].connection, 0n);
  // the diagnostic is not a per-event line: it comes with logs:false too
  assert.deepStrictEqual(outs[1], {
    metrics: [], logs: [{ level: 'warn', message: 'malformed-records', connection: 0n, fields: [['count', 1], ['total', 3]] }],
    annotations: [], streams: [],
  });
});

test('IPv6 and v4-mapped peers: RFC 5952 text, v4-mapped as IPv4, brackets in endpoints', async () => {
  const v6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const local6 = Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd]);
  const mapped = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]);
  const base6 = { ...client, family: 10, dport: 443, kind: K.LF_TCP_EV_OPEN };
  const [out] = await decodeAll([
    batchOf([
      encodeTcpEvent({ ...base6, cookie: 1n, saddr: local6, daddr: v6 }),
      encodeTcpEvent({ ...base6, cookie: 2n, saddr: mapped, daddr: mapped }),
      encodeTcpEvent({ ...base6, cookie: 3n, family: 7, saddr: lo, daddr: lo }),
    ]),
  ]);
  assert.deepStrictEqual(out.metrics.filter((m) => m.metric === M.opened).map((m) => m.labels[3]), ['2001:db8::1', '10.1.2.3', 'unknown-family-7']);
  assert.deepStrictEqual(
    out.logs.map((l) => l.fields.slice(3, 5).map(([, v]) => v)),
    [['[fe80::abcd]:50000', '[2001:db8::1]:443'], ['10.1.2.3:50000', '10.1.2.3:443'], ['unknown-family-7:50000', 'unknown-family-7:443']],
  );
});

test('logs:false suppresses the event logs, not the metrics', async () => {
  const [withLogs] = await decodeAll([batchOf(clientRecords, true)]);
  const [without] = await decodeAll([batchOf(clientRecords, false)]);
  assert.deepStrictEqual(without.logs, []);
  assert.deepStrictEqual(without.metrics, withLogs.metrics);
});

test('latin1 process names and odd states come out as the TS decoder prints them', async () => {
  const [out] = await decodeAll([
    batchOf([encodeTcpEvent({ ...client, comm: 'caf\u00e9-\u00ff', kind: K.LF_TCP_EV_STATE, old_state: 14, new_state: 200 })]),
  ]);
  assert.deepStrictEqual(out.logs[0].fields.slice(1, 2), [['comm', 'caf\u00e9-\u00ff']]);
  assert.deepStrictEqual(out.logs[0].fields.slice(5, 7), [['oldState', 'STATE_14'], ['state', 'STATE_200']]);
});

test('host-closed connections are forgotten like closed ones (a later RST still finds them)', async () => {
  const outs = await decodeAll([
    batchOf([encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_OPEN, bytes_sent: 5n })], false, { closed: [7n, 99n] }),
    batchOf([encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_RESET, bytes_sent: 5n })], false),
  ]);
  assert.deepStrictEqual(outs[1].metrics, [up(M.resets, [...CL, 'received'], 'add', 1)]);
});

test('decode errors: wrong probe or schema is unsupported, bad msgpack is malformed', async () => {
  const impls = await implementations();
  const cases: [Buffer, string][] = [
    [batchOf([], true, { probe: 'http' }), 'unsupported'],
    [batchOf([], true, { schema: 2 }), 'unsupported'],
    [Buffer.from([1, 2, 3]), 'malformed'],
    [Buffer.concat([batchOf([]), Buffer.from([0])]), 'malformed'],
    [Buffer.from([0x81, 0xa7, ...Buffer.from('records'), 0x91, 0xc4, 0x00]), 'malformed'], // empty record, no `v`
  ];
  for (const d of impls) {
    for (const [b, want] of cases) assert.deepStrictEqual(run(d, b), { err: want }, d.name);
    // still usable afterwards
    assert.deepStrictEqual(run(d, batchOf([])), { ok: { metrics: [], logs: [], annotations: [], streams: [] } }, d.name);
  }
});

test('the connection table is bounded: the oldest of 65536 live connections is evicted, and counted', async () => {
  const batches: Buffer[] = [];
  const total = 65536 + 100;
  for (let start = 0; start < total; start += 8192) {
    const recs: Buffer[] = [];
    for (let i = start; i < Math.min(total, start + 8192); i++) {
      recs.push(encodeTcpEvent({ ...client, cookie: BigInt(1000 + i), kind: K.LF_TCP_EV_OPEN, bytes_sent: 1n }));
    }
    batches.push(batchOf(recs, false));
  }
  // the first connection was evicted: its next flush looks like a new connection's first record
  batches.push(batchOf([encodeTcpEvent({ ...client, cookie: 1000n, kind: K.LF_TCP_EV_FLUSH, bytes_sent: 3n })], false));
  const outs = await decodeAll(batches);
  const last = outs[outs.length - 2];
  assert.deepStrictEqual(last.logs, [{ level: 'warn', message: 'connections-evicted', connection: 0n, fields: [['count', 100], ['total', 100]] }]);
  assert.deepStrictEqual(outs[outs.length - 1].metrics, [up(M.bytesSent, CL, 'add', 3)]);
  assert.deepStrictEqual(outs[outs.length - 1].logs[0].fields, [['count', 1], ['total', 101]]);
});

test('differential: churn over thousands of connections (hash deletes, recently-closed ring overflow)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer(), async (seed) => {
      let x = seed >>> 0 || 1;
      const rnd = (n: number) => {
        x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
        return x % n;
      };
      const batches: Buffer[] = [];
      for (let b = 0; b < 30; b++) {
        const recs: Buffer[] = [];
        for (let i = 0; i < 700; i++) {
          const cookie = BigInt(rnd(9000));
          recs.push(encodeTcpEvent({
            ...client, cookie, tgid: rnd(3), kind: [K.LF_TCP_EV_OPEN, K.LF_TCP_EV_FLUSH, K.LF_TCP_EV_CLOSE, K.LF_TCP_EV_RESET][rnd(4)],
            bytes_sent: BigInt(rnd(100000)), total_retrans: rnd(5), srtt_us: rnd(3) * 100, snd_cwnd: rnd(2) * 10,
          }));
        }
        batches.push(batchOf(recs, rnd(2) === 0));
      }
      await decodeAll(batches);
    }),
    { numRuns: 4 },
  );
});

// ---- differential property tests ----

const COOKIES = [1n, 2n, 3n, 4n, 0xffff_ffff_ffff_fff0n];
const arbAddr = fc.oneof(
  fc.constant(Uint8Array.from([127, 0, 0, 1])),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((v4) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4])),
  fc.array(fc.constantFrom(0, 0, 1, 0xffff), { minLength: 8, maxLength: 8 }).map((g) => {
    const b = Buffer.alloc(16);
    g.forEach((x, i) => b.writeUInt16BE(x, 2 * i));
    return Uint8Array.from(b);
  }),
);
const arbU64 = fc.oneof(fc.bigInt({ min: 0n, max: 2000n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
const arbRecord = fc
  .record({
    kind: fc.integer({ min: 0, max: 7 }),
    family: fc.constantFrom(2, 10, 10, 0),
    old_state: fc.integer({ min: 0, max: 15 }),
    new_state: fc.integer({ min: 0, max: 15 }),
    role: fc.integer({ min: 0, max: 3 }),
    flags: fc.integer({ min: 0, max: 31 }),
    tgid: fc.constantFrom(1, 42, 4294967295),
    sport: fc.constantFrom(0, 80, 50000, 65535),
    dport: fc.constantFrom(443, 8080),
    ts_ns: arbU64,
    open_ts_ns: arbU64,
    cookie: fc.constantFrom(...COOKIES),
    cgroup_id: arbU64,
    saddr: arbAddr,
    daddr: arbAddr,
    comm: fc.constantFrom('curl', 'node', '', 'x'.repeat(15), 'caf\u00e9', '\u00ff\u00fe'),
    bytes_sent: arbU64,
    bytes_received: arbU64,
    total_retrans: fc.nat({ max: 0xffffffff }),
    srtt_us: fc.constantFrom(0, 1, 250, 123456, 0xffffffff),
    snd_cwnd: fc.constantFrom(0, 10, 0xffffffff),
    resets_sent: fc.nat(),
    resets_received: fc.nat(),
  })
  .chain((ev) =>
    fc.oneof(
      { weight: 9, arbitrary: fc.constant(encodeTcpEvent(ev as Partial<LfTcpEvent>)) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 151 }).map((n) => encodeTcpEvent(ev as Partial<LfTcpEvent>).subarray(0, n)) },
      { weight: 1, arbitrary: fc.constant(Buffer.concat([encodeTcpEvent(ev as Partial<LfTcpEvent>), Buffer.from([1, 2, 3])])) },
    ),
  );
const arbBatch = fc.record({
  records: fc.array(arbRecord, { maxLength: 24 }),
  logs: fc.boolean(),
  closed: fc.array(fc.constantFrom(...COOKIES), { maxLength: 2 }),
});

test('differential: random record sequences give identical outputs in TS and WASM', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(arbBatch, { minLength: 1, maxLength: 6 }), async (batches) => {
      await decodeAll(batches.map((b) => batchOf(b.records, b.logs, { closed: b.closed })));
    }),
    { numRuns: 150 },
  );
});

test('differential: random bytes never trap; both give the same decode-error kind or output', async () => {
  const impls = await implementations();
  const valid = batchOf([encodeTcpEvent({ ...client, kind: K.LF_TCP_EV_OPEN })]);
  const arbBytes = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    // a valid batch with bytes flipped or cut: deeper into the parser
    fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: valid.length })).map(([i, v, cut]) => {
      const b = Buffer.from(valid);
      b[i] = v;
      return Uint8Array.from(b.subarray(0, Math.max(cut, i + 1)));
    }),
    fc.uint8Array({ maxLength: 64 }).map((tail) => Uint8Array.from([0x82, 0xa1, 0x76, 0x01, ...tail])),
  );
  await fc.assert(
    fc.asyncProperty(arbBytes, async (bytes) => {
      const b = Buffer.from(bytes);
      const results = impls.map((d) => run(d, b));
      for (let i = 1; i < impls.length; i++) assert.deepStrictEqual(results[i], results[0], impls[i].name);
    }),
    { numRuns: 2000 },
  );
});
