import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createHarness, decodeError, emptyOutput, fakeInfo, fault } from '../../runtime/decoders/testing';
import type { DecodeOutput } from '../../runtime/decoders/engine';
import type { CallMode } from '../../runtime/decoders/decoder-host';

// Whatever the probes send and whatever the decoders answer (garbage outputs,
// faults, thrown non-errors), nothing throws past the manager, a scrape
// works, and the bounded structures stay bounded.

// Values whose conversion to text throws, or that have no prototype.
const toxic = fc.constantFrom<unknown>(
  Object.create(null),
  { toString: 1, valueOf: 1 },
  {
    get message(): string {
      throw new Error('getter');
    },
  },
  Symbol('s'),
  10n ** 30n,
);
const junk = fc.oneof(fc.anything({ withNullPrototype: true, withBigInt: true, withBoxedValues: true, withMap: true, withSet: true }), toxic);
const conn = fc.oneof(fc.bigInt({ min: 0n, max: 5n }), fc.bigInt({ min: -2n, max: (1n << 64n) + 2n }));
const outputArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({
    metrics: fc.array(
      fc.record({
        metric: fc.oneof(fc.nat(3), fc.integer(), fc.double()),
        labels: fc.array(fc.oneof(fc.string(), junk), { maxLength: 3 }),
        op: fc.constantFrom('add', 'set', 'observe', 'nope'),
        value: fc.oneof(fc.double(), junk),
      }),
      { maxLength: 4 },
    ),
    logs: fc.array(
      fc.record({
        level: fc.constantFrom('debug', 'info', 'warn', 'error', 'loud'),
        message: fc.string(),
        connection: conn,
        fields: fc.array(fc.tuple(fc.string(), fc.oneof(fc.string(), fc.double(), fc.bigInt(), fc.boolean(), junk)), { maxLength: 3 }),
      }),
      { maxLength: 3 },
    ),
    annotations: fc.array(fc.record({ connection: conn, key: fc.string(), value: fc.oneof(fc.string(), junk) }), { maxLength: 3 }),
    streams: fc.array(
      fc.record({ connection: conn, direction: fc.constantFrom('egress', 'ingress', 'up'), consumed: fc.oneof(fc.nat(20), fc.integer(), fc.double()) }),
      { maxLength: 3 },
    ),
  }),
  junk,
);
const behaviourArb = fc.oneof(
  { weight: 5, arbitrary: outputArb.map((o) => ({ out: o })) },
  { weight: 1, arbitrary: fc.constantFrom('trap', 'timeout', 'oom').map((k) => ({ throw: fault(k as 'trap') as unknown })) },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom<unknown>(decodeError('malformed'), new Error('plain'), 'a string', null), toxic).map((e) => ({ throw: e })) },
);
const opArb = fc.oneof(
  fc.record({ op: fc.constant('dispatch' as const), probe: fc.constantFrom('tcp', 'tls', 'x'), records: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }) }),
  fc.record({
    op: fc.constant('stream' as const),
    connection: conn,
    direction: fc.constantFrom(0, 1, 2),
    data: fc.uint8Array({ maxLength: 64 }),
    gap: fc.boolean(),
  }),
  fc.record({ op: fc.constant('close' as const), connection: conn }),
  fc.record({ op: fc.constant('time' as const), ms: fc.nat(5000) }),
  fc.record({ op: fc.constant('run' as const) }),
);

async function scenario(mode: CallMode, behaviours: { out?: unknown; throw?: unknown }[], ops: unknown[]): Promise<void> {
  const h = createHarness();
  const info = fakeInfo('p', {
    subscriptions: [{ probe: 'tcp', kinds: [1, 2, 3], streams: true }, { probe: 'tls', kinds: [], streams: false }],
    metrics: [
      { name: 'lightfoot_p_total', kind: 'counter', help: 'h', labels: ['a'], buckets: [] },
      { name: 'lightfoot_p_open', kind: 'gauge', help: 'h', labels: [], buckets: [] },
      { name: 'lightfoot_p_seconds', kind: 'histogram', help: 'h', labels: [], buckets: [0.1, 1] },
    ],
  });
  let i = 0;
  h.add('/d/p.wasm', {
    info,
    decode: () => {
      const b = behaviours[i++ % behaviours.length]!;
      if ('throw' in b) throw b.throw;
      return b.out as DecodeOutput;
    },
  });
  h.add('/d/q.wasm', { info: fakeInfo('q'), decode: () => emptyOutput() });
  const limits = { maxStreamBytes: 32, maxStreams: 4, maxQueuedBatches: 3, maxBatchRecords: 8 };
  const m = h.manager(mode === 'async' ? { mode, schedule: (fn) => void setImmediate(fn), limits, policy: { quarantineFaults: 1000 } } : { mode, limits });
  for (const o of ops as { op: string; [k: string]: unknown }[]) {
    switch (o.op) {
      case 'dispatch':
        m.dispatch(o.probe as string, (o.records as Uint8Array[]).map((r) => Buffer.from(r)));
        break;
      case 'stream':
        m.dispatchStream('tcp', { connection: o.connection as bigint, direction: o.direction as 0, data: Buffer.from(o.data as Uint8Array), gap: o.gap as boolean });
        break;
      case 'close':
        m.connectionClosed('tcp', o.connection as bigint);
        break;
      case 'time':
        h.clock.advance(o.ms as number);
        break;
      default:
        h.scheduler.run();
        if (mode === 'async') await m.flush();
    }
    const lane = m.lane('p');
    if (lane) {
      assert.ok(lane.queuedBatches <= 3);
      const t = lane.streams('tcp')!;
      assert.ok(t.size <= 4);
      for (let c = 0n; c <= 5n; c++) for (const d of [0, 1] as const) assert.ok((t.pending(c, d) ?? 0) <= 32);
    }
  }
  h.scheduler.run();
  await m.flush();
  await h.registry.metrics();
  m.close();
}

for (const mode of ['sync', 'async'] as const) {
  test(`property (${mode}): random input and random decoder output never throw past the manager`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(behaviourArb, { minLength: 1, maxLength: 8 }), fc.array(opArb, { maxLength: 40 }), (b, ops) => scenario(mode, b, ops)),
      { numRuns: mode === 'sync' ? 300 : 100 },
    );
  });
}
