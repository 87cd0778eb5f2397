/**
 * The cost of the sandbox itself, on the shipped tcp decoder component:
 * compiling (with and without the persistent cache), instantiating, and one
 * call with an empty batch (sync on the event loop, async on the thread pool).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { emptyBatch } from '../runtime/decoders/batch-encoder';
import { tcpWasmPath } from '../test/decoders/tcp-harness';
import { fmt, median, type BenchSection } from './bench-result';

type Binding = typeof import('../runtime/native/binding');

function timeUs(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) * 1000;
}

export async function decoderEngine(): Promise<BenchSection> {
  const nb = require('../runtime/native/binding') as Binding;
  const bytes = fs.readFileSync(tcpWasmPath());
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-bench-wasmcache-'));
  try {
    const noCache = median(Array.from({ length: 5 }, () => timeUs(() => new nb.WasmEngine({ cacheDir: '' }).compile(bytes))));
    const cold = timeUs(() => new nb.WasmEngine({ cacheDir }).compile(bytes));
    const warm = median(Array.from({ length: 5 }, () => timeUs(() => new nb.WasmEngine({ cacheDir }).compile(bytes))));
    const component = new nb.WasmEngine({ cacheDir }).compile(bytes);
    const limits = { memoryBytes: 64 << 20, deadlineMs: 100 };
    const inst = median(Array.from({ length: 200 }, () => timeUs(() => component.instantiate(limits))));
    const describe = median(Array.from({ length: 200 }, () => timeUs(() => component.instantiate(limits).describe())));
    const d = component.instantiate(limits);
    const batch = emptyBatch('tcp');
    for (let i = 0; i < 2000; i++) d.decode(batch);
    const sync = median(Array.from({ length: 5000 }, () => timeUs(() => d.decode(batch))));
    const asyncTimes: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now();
      await d.decodeAsync(batch);
      asyncTimes.push((performance.now() - t0) * 1000);
    }
    return {
      title: 'Decoder sandbox costs (wasmtime, tcp component)',
      method: `The shipped tcp decoder (${fmt(bytes.length)} bytes). Medians; compile: 5 runs, instantiate: 200, calls: 5,000 sync / 2,000 async, each call with an empty batch so only the boundary is measured.`,
      rows: [
        { name: 'compile, no cache', value: noCache / 1000, unit: 'ms' },
        { name: 'compile, cold persistent cache', value: cold / 1000, unit: 'ms' },
        { name: 'compile, warm persistent cache (new engine)', value: warm / 1000, unit: 'ms' },
        { name: 'instantiate (new Store with limits)', value: inst, unit: 'µs' },
        { name: 'instantiate + describe()', value: describe, unit: 'µs' },
        { name: 'decode() call, sync', value: sync, unit: 'µs' },
        { name: 'decodeAsync() call, thread pool round trip', value: median(asyncTimes), unit: 'µs' },
      ],
    };
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}
