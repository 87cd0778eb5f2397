import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode as decodeMsgpack } from '../../sdk/host/msgpack';
import type { DecodeOutput, DecoderInfo } from '../../runtime/decoders/engine';
import { createHarness, emptyOutput, fakeInfo, fault, type Harness } from '../../runtime/decoders/testing';

type Batch = {
  probe: string;
  records: Buffer[];
  streams?: { c: number; d: number; data: Buffer; eos: boolean; gap?: boolean }[];
  closed?: number[];
  logs: boolean;
};

/** A decoder that records every batch it gets and answers with `reply`. */
function recorder(h: Harness, file: string, info: DecoderInfo, reply: (b: Batch, n: number) => DecodeOutput = () => emptyOutput()) {
  const got: Batch[] = [];
  h.add(file, {
    info,
    decode: (batch, { n }) => {
      const b = decodeMsgpack(batch) as unknown as Batch;
      got.push(b);
      return reply(b, n);
    },
  });
  return got;
}

const rec = (kind: number, ...rest: number[]): Buffer => Buffer.from([kind, ...rest]);

test('routing by probe and record kind; one batch per decoder per dispatch', async () => {
  const h = createHarness();
  const a = recorder(h, '/d/a.wasm', fakeInfo('a', { subscriptions: [{ probe: 'tcp', kinds: [1], streams: false }] }));
  const b = recorder(h, '/d/b.wasm', fakeInfo('b', { subscriptions: [{ probe: 'tcp', kinds: [], streams: false }, { probe: 'tls', kinds: [7], streams: false }] }));
  const m = h.manager({ probeSchemas: { tcp: 3 } });
  m.dispatch('tcp', [rec(1, 0xa), rec(2, 0xb), rec(1, 0xc)]);
  m.dispatch('tls', [rec(7), rec(8)]);
  m.dispatch('udp', [rec(1)]);
  h.scheduler.run();
  await m.flush();
  assert.deepEqual(a.map((x) => x.records), [[rec(1, 0xa), rec(1, 0xc)]]);
  assert.equal((a[0] as unknown as { schema: number }).schema, 3);
  assert.deepEqual(b.map((x) => [x.probe, x.records]), [['tcp', [rec(1, 0xa), rec(2, 0xb), rec(1, 0xc)]], ['tls', [rec(7)]]]);
  assert.equal(a[0]!.logs, true);
  assert.equal(m.subscribes('udp'), false);
  assert.equal(m.subscribes('tls'), true);
  assert.equal(await h.metric('lightfoot_decoder_batch_records', { decoder: 'b' }, 'lightfoot_decoder_batch_records_count'), 2);
  assert.equal(await h.metric('lightfoot_decoder_calls_total', { decoder: 'a', result: 'ok' }), 1);
});

test('dispatches while a decoder is busy are merged into one batch', async () => {
  const h = createHarness();
  const a = recorder(h, '/d/a.wasm', fakeInfo('a'));
  const m = h.manager();
  m.dispatch('tcp', [rec(1)]);
  m.dispatch('tcp', [rec(2)]);
  h.scheduler.run();
  assert.deepEqual(a.map((x) => x.records.length), [2]);
});

test('a refused decoder does not stop the others', async () => {
  const h = createHarness();
  h.files['/d/bad.wasm'] = Buffer.from('garbage');
  const a = recorder(h, '/d/a.wasm', fakeInfo('a'));
  h.add('/d/dup.wasm', { info: fakeInfo('a') });
  const m = h.manager({ sources: [
    { path: '/d/bad.wasm', origin: 'dir', requirePinned: false, enabled: true, limits: { memoryBytes: 1 << 24, deadlineMs: 10 }, from: 'x' },
    ...['/d/a.wasm', '/d/dup.wasm'].map((p) => ({ path: p, origin: 'dir' as const, requirePinned: false, enabled: true, limits: { memoryBytes: 1 << 24, deadlineMs: 10 }, from: 'x' })),
  ] });
  const st = m.status();
  assert.deepEqual(st.map((s) => [s.label, s.state]), [['bad', 'refused'], ['a', 'running'], ['dup', 'refused']]);
  assert.match(st[2]!.refusal!.message, /already used by \/d\/a\.wasm/);
  m.dispatch('tcp', [rec(1)]);
  h.scheduler.run();
  assert.equal(a.length, 1);
  assert.equal(await h.metric('lightfoot_decoder_state', { decoder: 'bad', state: 'refused' }), 1);
  assert.equal(await h.metric('lightfoot_decoder_state', { decoder: 'a', state: 'running' }), 1);
  assert.equal(await h.metric('lightfoot_decoder_memory_bytes', { decoder: 'a' }), 65536);
});

test('bounded queue: overload is counted, never silent (async decoder stuck)', async () => {
  const h = createHarness();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  h.add('/d/a.wasm', { info: fakeInfo('a'), asyncGate: () => gate });
  const m = h.manager({ mode: 'async', limits: { maxQueuedBatches: 2, maxBatchRecords: 2 } });
  m.dispatch('tcp', [rec(1)]);
  h.scheduler.run(); // call 1 in flight
  for (let i = 0; i < 6; i++) m.dispatch('tcp', [rec(1), rec(2)]); // 2 fit in the queue, 4 dropped
  assert.equal(await h.metric('lightfoot_decoder_batches_dropped_total', { decoder: 'a', reason: 'queue_full' }), 4);
  assert.equal(await h.metric('lightfoot_decoder_records_dropped_total', { decoder: 'a', reason: 'queue_full' }), 8);
  release();
  await m.flush();
  assert.equal(h.engine.calls.length, 3);
});

test('backoff and quarantine: batches dropped and counted by reason', async () => {
  const h = createHarness();
  h.add('/d/a.wasm', { info: fakeInfo('a'), decode: () => { throw fault('trap'); } });
  const m = h.manager({ policy: { quarantineFaults: 2 } });
  m.dispatch('tcp', [rec(1)]);
  h.scheduler.run();
  m.dispatch('tcp', [rec(1), rec(2)]);
  assert.equal(await h.metric('lightfoot_decoder_batches_dropped_total', { decoder: 'a', reason: 'backoff' }), 1);
  assert.equal(await h.metric('lightfoot_decoder_records_dropped_total', { decoder: 'a', reason: 'backoff' }), 2);
  h.clock.advance(100);
  m.dispatch('tcp', [rec(1)]);
  h.scheduler.run();
  assert.equal(m.status()[0]!.state, 'quarantined');
  m.dispatch('tcp', [rec(1)]);
  assert.equal(await h.metric('lightfoot_decoder_batches_dropped_total', { decoder: 'a', reason: 'quarantined' }), 1);
  assert.equal(await h.metric('lightfoot_decoder_faults_total', { decoder: 'a', kind: 'trap' }), 2);
});

test('streams: unconsumed bytes are kept and put in front of the next segment', async () => {
  const h = createHarness();
  const consumed = [3, 0, 6];
  const got = recorder(h, '/d/s.wasm', fakeInfo('s', { subscriptions: [{ probe: 'tcp', kinds: [9], streams: true }] }), (b, n) =>
    emptyOutput({ streams: (b.streams ?? []).map((s) => ({ connection: BigInt(s.c), direction: s.d === 1 ? 'ingress' : 'egress', consumed: consumed[n] ?? s.data.length })) }),
  );
  const m = h.manager();
  assert.equal(m.wantsStreams('tcp'), true);
  m.dispatchStream('tcp', { connection: 5n, direction: 1, data: Buffer.from('abcdef'), gap: false });
  h.scheduler.run();
  m.dispatchStream('tcp', { connection: 5n, direction: 1, data: Buffer.from('gh'), gap: false });
  h.scheduler.run();
  m.dispatchStream('tcp', { connection: 5n, direction: 1, data: Buffer.from('i'), gap: false });
  h.scheduler.run();
  assert.deepEqual(got.map((b) => b.streams!.map((s) => [s.c, s.d, s.data.toString(), s.eos, s.gap ?? false])), [
    [[5, 1, 'abcdef', false, false]],
    [[5, 1, 'defgh', false, false]], // 3 consumed: "def" kept
    [[5, 1, 'defghi', false, false]], // 0 consumed: everything kept
  ]);
  assert.equal(m.lane('s')!.streams('tcp')!.pending(5n, 1), 0);
  // Nothing new: no call.
  h.scheduler.run();
  assert.equal(got.length, 3);
});

test('streams: a probe gap drops held bytes and flags the next segment; overflow does too, counted', async () => {
  const h = createHarness();
  const got = recorder(h, '/d/s.wasm', fakeInfo('s', { subscriptions: [{ probe: 'tcp', kinds: [], streams: true }] }), (b) =>
    emptyOutput({ streams: (b.streams ?? []).map((s) => ({ connection: BigInt(s.c), direction: 'egress', consumed: 0 })) }),
  );
  const m = h.manager({ limits: { maxStreamBytes: 8 } });
  m.dispatchStream('tcp', { connection: 1n, direction: 0, data: Buffer.from('abc'), gap: false });
  h.scheduler.run();
  m.dispatchStream('tcp', { connection: 1n, direction: 0, data: Buffer.from('XY'), gap: true });
  h.scheduler.run();
  m.dispatchStream('tcp', { connection: 1n, direction: 0, data: Buffer.from('1234567'), gap: false }); // 2 + 7 > 8
  h.scheduler.run();
  assert.deepEqual(got.map((b) => b.streams!.map((s) => [s.data.toString(), s.gap ?? false])), [
    [['abc', false]],
    [['XY', true]],
    [['1234567', true]],
  ]);
  assert.equal(await h.metric('lightfoot_decoder_stream_bytes_dropped_total', { decoder: 's', reason: 'gap' }), 3);
  assert.equal(await h.metric('lightfoot_decoder_stream_bytes_dropped_total', { decoder: 's', reason: 'overflow' }), 2);
});

test('closed: decoders get the connection in `closed`, streams get eos, state is freed', async () => {
  const h = createHarness();
  const got = recorder(h, '/d/s.wasm', fakeInfo('s', { subscriptions: [{ probe: 'tcp', kinds: [], streams: true }] }), (b) =>
    emptyOutput({ streams: (b.streams ?? []).map((s) => ({ connection: BigInt(s.c), direction: 'egress', consumed: 1 })) }),
  );
  const m = h.manager();
  m.dispatchStream('tcp', { connection: 4n, direction: 0, data: Buffer.from('xyz'), gap: false });
  h.scheduler.run();
  const table = m.lane('s')!.streams('tcp')!;
  assert.equal(table.pending(4n, 0), 2);
  m.connectionClosed('tcp', 4n);
  h.scheduler.run();
  assert.deepEqual(got[1]!.closed, [4]);
  assert.deepEqual(got[1]!.streams!.map((s) => [s.c, s.data.toString(), s.eos]), [[4, 'yz', true]]);
  assert.equal(table.pending(4n, 0), undefined);
  assert.equal(table.size, 0);
  // data after close is dropped, not resurrecting the stream
  m.connectionClosed('tcp', 4n);
  h.scheduler.run();
  assert.deepEqual(got[2]!.closed, [4]);
});

test('logs go to the event writer with decoder, level, connection, fields and annotations', async () => {
  const h = createHarness();
  recorder(h, '/d/h2.wasm', fakeInfo('h2'), (_b, n) =>
    n === 0
      ? emptyOutput({
          annotations: [{ connection: 42n, key: 'protocol', value: 'h2' }],
          logs: [{ level: 'info', message: 'open', connection: 42n, fields: [['stream', 1], ['big', 2n ** 63n], ['event', 'x']] }],
        })
      : emptyOutput({
          logs: [
            { level: 'debug', message: 'noise', connection: 42n, fields: [] },
            { level: 'warn', message: 'goaway', connection: 42n, fields: [['code', 0]] },
            { level: 'error', message: '', connection: 0n, fields: [] },
          ],
        }),
  );
  const m = h.manager();
  m.dispatch('tcp', [rec(1)]);
  h.scheduler.run();
  m.connectionClosed('tcp', 42n);
  assert.deepEqual(m.annotations(42n), { protocol: 'h2' }, 'kept until the close is delivered');
  h.scheduler.run();
  assert.deepEqual(h.events, [
    { event: 'open', decoder: 'h2', level: 'info', connection: '42', stream: 1, big: (2n ** 63n).toString(), field_event: 'x', annotations: { protocol: 'h2' } },
    { event: 'goaway', decoder: 'h2', level: 'warn', connection: '42', code: 0, annotations: { protocol: 'h2' } },
  ]);
  assert.equal(m.annotations(42n), undefined, 'freed after the close was delivered');
  assert.equal(await h.metric('lightfoot_decoder_logs_dropped_total', { decoder: 'h2', reason: 'invalid' }), 1);
});

test('no event writer: batches say logs=false and nothing is written', async () => {
  const h = createHarness();
  const got = recorder(h, '/d/a.wasm', fakeInfo('a'), () => emptyOutput({ logs: [{ level: 'error', message: 'x', connection: 0n, fields: [] }] }));
  const m = h.manager({ events: undefined });
  m.dispatch('tcp', [rec(1)]);
  h.scheduler.run();
  assert.equal(got[0]!.logs, false);
  assert.deepEqual(h.events, []);
});

test('bad_output from the manager view: metrics untouched, stream bytes reset with gap', async () => {
  const h = createHarness();
  const got = recorder(
    h,
    '/d/s.wasm',
    fakeInfo('s', { subscriptions: [{ probe: 'tcp', kinds: [], streams: true }], metrics: [{ name: 'lightfoot_s_total', kind: 'counter', help: 'h', labels: [], buckets: [] }] }),
    (_b, n) => (n === 0 ? emptyOutput({ metrics: [{ metric: 0, labels: [], op: 'add', value: 1 }, { metric: 9, labels: [], op: 'add', value: 1 }] }) : emptyOutput()),
  );
  const m = h.manager();
  m.dispatchStream('tcp', { connection: 1n, direction: 0, data: Buffer.from('ab'), gap: false });
  h.scheduler.run();
  m.dispatchStream('tcp', { connection: 1n, direction: 0, data: Buffer.from('cd'), gap: false });
  h.scheduler.run();
  assert.deepEqual(got[1]!.streams!.map((s) => [s.data.toString(), s.gap ?? false]), [['cd', true]]);
  assert.equal(await h.metric('lightfoot_s_total'), 0);
  assert.equal(await h.metric('lightfoot_decoder_faults_total', { decoder: 's', kind: 'bad_output' }), 1);
});

test('restart after a fault: streams flagged gap, later batches delivered again', async () => {
  const h = createHarness();
  let fail = true;
  const got = recorder(h, '/d/s.wasm', fakeInfo('s', { subscriptions: [{ probe: 'tcp', kinds: [], streams: true }] }), (b) => {
    if (fail) {
      fail = false;
      throw fault('oom');
    }
    return emptyOutput({ streams: (b.streams ?? []).map((s) => ({ connection: BigInt(s.c), direction: 'egress', consumed: s.data.length })) });
  });
  const m = h.manager();
  m.dispatchStream('tcp', { connection: 1n, direction: 0, data: Buffer.from('ab'), gap: false });
  h.scheduler.run();
  m.dispatchStream('tcp', { connection: 1n, direction: 0, data: Buffer.from('lost'), gap: false }); // during backoff
  h.clock.advance(100);
  m.dispatchStream('tcp', { connection: 1n, direction: 0, data: Buffer.from('cd'), gap: false });
  h.scheduler.run();
  assert.deepEqual(got.map((b) => b.streams!.map((s) => [s.data.toString(), s.gap ?? false])), [[['ab', false]], [['cd', true]]]);
  assert.equal(await h.metric('lightfoot_decoder_stream_bytes_dropped_total', { decoder: 's', reason: 'state' }), 4);
});

test('invalid input is counted and never throws', async () => {
  const h = createHarness();
  recorder(h, '/d/s.wasm', fakeInfo('s', { subscriptions: [{ probe: 'tcp', kinds: [], streams: true }] }));
  const m = h.manager();
  m.dispatch('tcp', [Buffer.alloc(0), rec(1)]);
  m.dispatch('tcp', 'nope' as never);
  m.dispatchStream('tcp', { connection: -1n, direction: 0, data: Buffer.from('x'), gap: false });
  m.dispatchStream('tcp', { connection: 1n, direction: 2 as never, data: Buffer.from('x'), gap: false });
  m.connectionClosed('tcp', 1n << 64n);
  h.scheduler.run();
  assert.equal(await h.metric('lightfoot_decoder_input_invalid_total', { probe: 'tcp', reason: 'empty_record' }), 1);
  assert.equal(await h.metric('lightfoot_decoder_input_invalid_total', { probe: 'tcp', reason: 'bad_stream_segment' }), 2);
  assert.equal(await h.metric('lightfoot_decoder_input_invalid_total', { probe: 'tcp', reason: 'bad_connection' }), 1);
});

test('dispatch with no subscriber is a map lookup', () => {
  const h = createHarness();
  const m = h.manager();
  const recs = Array.from({ length: 1000 }, (_, i) => rec(i & 0xff));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 10_000; i++) m.dispatch('tcp', recs);
  const perCallNs = Number(process.hrtime.bigint() - t0) / 10_000;
  assert.ok(perCallNs < 2_000, `${perCallNs} ns per dispatch`);
  assert.equal(h.scheduler.size, 0);
});

test('a close rides with the records queued before it, later records go in a later batch', async () => {
  const h = createHarness();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const got: Batch[] = [];
  h.add('/d/a.wasm', {
    info: fakeInfo('a'),
    asyncGate: () => gate,
    decode: (b) => (got.push(decodeMsgpack(b) as unknown as Batch), emptyOutput()),
  });
  const m = h.manager({ mode: 'async' });
  m.dispatch('tcp', [rec(1, 1)]);
  h.scheduler.run(); // in flight
  m.dispatch('tcp', [rec(1, 2)]);
  m.connectionClosed('tcp', 9n);
  m.dispatch('tcp', [rec(1, 3)]);
  release();
  await m.flush();
  assert.deepEqual(got.map((b) => [b.records.map((r) => r[1]), b.closed ?? []]), [[[1], []], [[2], [9]], [[3], []]]);
});

test('a batch the host cannot encode is dropped and counted (encode_error), and the lane goes on', async () => {
  const h = createHarness();
  const a = recorder(h, '/d/a.wasm', fakeInfo('a', { subscriptions: [{ probe: 'tcp', kinds: [], streams: false }, { probe: 'tls', kinds: [], streams: false }] }));
  // A schema number outside u32 makes the encoder throw: a stand-in for any encoder bug.
  const m = h.manager({ probeSchemas: { tcp: -1 } });
  m.dispatch('tcp', [rec(1), rec(2)]);
  h.scheduler.run();
  m.dispatch('tls', [rec(7)]);
  h.scheduler.run();
  await m.flush();
  assert.deepEqual(a.map((x) => [x.probe, x.records]), [['tls', [rec(7)]]]);
  assert.equal(await h.metric('lightfoot_decoder_batches_dropped_total', { decoder: 'a', reason: 'encode_error' }), 1);
  assert.equal(await h.metric('lightfoot_decoder_records_dropped_total', { decoder: 'a', reason: 'encode_error' }), 2);
});
