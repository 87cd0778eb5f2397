// The per-call output budget of the native engine (native/src/wasm/budget.rs), in
// process: exact charges at the limits, amplification by aliasing stopped early as
// `oversize`, host-side validation failures as `bad_output`, host lifting stopped at
// the deadline, and a fast-check property over random aliased output shapes
// (test/fixtures/wasm/shapes.c) bounding the host's peak memory. No root needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';

import { SIZED, buildFixtures, type Fixture } from '../helpers/wasm-fixtures';
import type { DecoderInstance, InstanceLimits, WasmComponent, WasmEngine as WasmEngineT } from '../../runtime/native/binding';

type Binding = typeof import('../../runtime/native/binding');
const nb = require('../../runtime/native/binding') as Binding;
const fixtureDir = buildFixtures();

let sharedEngine: WasmEngineT | undefined;
const engine = (): WasmEngineT => (sharedEngine ??= new nb.WasmEngine({ cacheDir: path.join(os.tmpdir(), 'lf-wasm-test-cache'), epochTickMs: 5 }));
const compiled = new Map<Fixture, WasmComponent>();
function instance(f: Fixture, limits: Partial<InstanceLimits> = {}): DecoderInstance {
  let c = compiled.get(f);
  if (!c) {
    c = engine().compile(readFileSync(path.join(fixtureDir, `${f}.wasm`)));
    compiled.set(f, c);
  }
  return c.instantiate({ memoryBytes: 16 << 20, deadlineMs: 1000, ...limits });
}

/** The amplify fixtures ignore the batch (but for counting records). */
const BATCH = Buffer.from([0x80]); // {}

function fault(fn: () => unknown, kind: string, msg: RegExp): void {
  assert.throws(fn, (e: Error & { code?: string; faultKind?: string }) => {
    assert.equal(e.code, 'LF_ERR_DECODER_FAULT');
    assert.equal(e.faultKind, kind, e.message);
    assert.match(e.message, msg);
    return true;
  });
}

function statusBytes(field: 'VmRSS' | 'VmHWM'): number {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return Number(m![1]) * 1024;
}
/** Peak RSS growth while `fn` runs (VmHWM reset first). */
function peakGrowth(fn: () => void): number {
  writeFileSync('/proc/self/clear_refs', '5');
  const rss0 = statusBytes('VmRSS');
  fn();
  return statusBytes('VmHWM') - rss0;
}

/** docs/native-api.md "Output budget": the stated peak of one call. */
const bound = (bytes: number, items: number): number => 8 * bytes + 256 * items;
const SLACK = 32 << 20; // V8 heap growth, arena capacity kept for reuse

const forms = {
  compact: (i: DecoderInstance) => i.decodeCompact(BATCH),
  object: (i: DecoderInstance) => i.decode(BATCH),
} as const;

for (const [form, call] of Object.entries(forms)) {
  test(`${form} form: the budget is charged exactly; at the limit passes, one over is oversize`, () => {
    const bytes = SIZED.n * SIZED.len, items = 2 * SIZED.n;
    const at = instance('amp-sized-a', { outputBytes: bytes, outputItems: items });
    call(at);
    assert.deepEqual(at.lastOutputUsage(), { bytes, items });
    assert.equal(at.poisoned, false);
    fault(() => call(instance('amp-sized-a', { outputBytes: bytes - 1 })), 'oversize',
      new RegExp(`^decode: decoder fault oversize: output over budget: a string of ${SIZED.len} bytes after ${bytes - SIZED.len} bytes \\(outputBytes ${bytes - 1}\\)$`));
    const over = instance('amp-sized-a', { outputItems: items - 1 });
    fault(() => call(over), 'oversize', /^decode: decoder fault oversize: output over budget: 1 (label values|list elements) after 1999 items \(outputItems 1999\)$/);
    assert.equal(over.poisoned, true, 'the guest never ran its post-return: the instance is replaced');
  });

  for (const f of ['labels', 'fields', 'annotations'] as const) {
    test(`${form} form: amplification through aliased ${f} stops at the budget (oversize), fast, within the memory bound`, () => {
      const budget = 4 << 20;
      const inst = instance(`amp-${f}`, { outputBytes: budget });
      let took = 0;
      const peak = peakGrowth(() => {
        const t0 = performance.now();
        fault(() => call(inst), 'oversize', /^decode: decoder fault oversize: output over budget: /);
        took = performance.now() - t0;
      });
      assert.ok(peak < bound(budget, 262_144) + SLACK, `peak RSS growth ${(peak / 2 ** 20).toFixed(1)} MiB`);
      assert.ok(took < 500, `stopped after ${took.toFixed(1)} ms`);
      assert.equal(inst.poisoned, true);
    });
  }
}

test('host-side validation failures (bounds, UTF-8) are bad_output, not trap', () => {
  const op = (kind: number) => { const b = Buffer.alloc(16); b[0] = kind; return b; };
  for (const [kind, why] of [[3, /string pointer\/length out of bounds of memory/], [4, /invalid utf-8/]] as const) {
    for (const call of [(i: DecoderInstance) => i.decodeCompact(op(kind)), (i: DecoderInstance) => i.decode(op(kind))]) {
      const inst = instance('shapes');
      fault(() => call(inst), 'bad_output', why);
      assert.equal(inst.poisoned, true);
    }
  }
});

test('host lifting counts against the deadline: stopped as timeout once it passes', () => {
  // 768 labels × 4 MiB with a budget too large to stop it: only the deadline does.
  const inst = instance('amp-labels', { outputBytes: 1 << 30, outputItems: 1 << 20, deadlineMs: 20 });
  const t0 = performance.now();
  fault(() => inst.decodeCompact(BATCH), 'timeout', /^decode: decoder fault timeout: the call's deadline passed while the host was lifting its output/);
  const took = performance.now() - t0;
  assert.ok(took < 200, `stopped after ${took.toFixed(1)} ms`);
});

test('property: random output shapes with aliased pointers never push host memory past the stated bound', () => {
  const budget = 4 << 20, items = 1 << 16;
  const opArb = fc.record({
    kind: fc.integer({ min: 0, max: 2 }),
    fields: fc.integer({ min: 0, max: 255 }),
    count: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 20_000 })),
    offset: fc.nat({ max: 4 << 20 }),
    length: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 4 << 20 })),
  });
  let oversize = 0, ok = 0;
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 6 }), fc.boolean(), (ops, compact) => {
      const prog = Buffer.alloc(16 * ops.length);
      ops.forEach((o, i) => {
        prog[16 * i] = o.kind;
        prog[16 * i + 1] = o.fields;
        prog.writeUInt32LE(o.count, 16 * i + 4);
        prog.writeUInt32LE(o.offset, 16 * i + 8);
        prog.writeUInt32LE(o.length, 16 * i + 12);
      });
      const inst = instance('shapes', { outputBytes: budget, outputItems: items });
      let kind = 'ok';
      const peak = peakGrowth(() => {
        try {
          if (compact) inst.decodeCompact(prog);
          else inst.decode(prog);
        } catch (e) {
          kind = (e as { faultKind?: string }).faultKind ?? String(e);
        }
      });
      if (kind === 'oversize') oversize++;
      else if (kind === 'ok') ok++;
      else assert.fail(`unexpected outcome ${kind}`);
      const used = inst.lastOutputUsage();
      assert.ok(used.bytes <= budget && used.items <= items);
      assert.ok(peak < bound(budget, items) + SLACK, `peak RSS growth ${(peak / 2 ** 20).toFixed(1)} MiB for ${JSON.stringify(ops)}`);
    }),
    { numRuns: 60, seed: 6 },
  );
  assert.ok(oversize > 0 && ok > 0, `both outcomes seen (ok ${ok}, oversize ${oversize})`);
});
