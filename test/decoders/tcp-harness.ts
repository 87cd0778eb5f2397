/**
 * Loads the TCP decoder component (dist/probes/tcp/decoder.wasm) the ways the
 * tests and the benchmark compare: under V8 via `jco transpile` (no WASI: an
 * empty import object) and, when the addon has it, under the wasmtime engine.
 * Both are wrapped to the DecodeOutput shape of docs/native-api.md, the shape
 * probes/tcp/reference-decoder.ts returns.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../../runtime/package-root';
import type { DecodeOutput, DecoderInfo, FieldValue } from '../../probes/tcp/reference-decoder';

export interface TcpDecoderUnderTest {
  name: string;
  describe(): DecoderInfo;
  /** Throws { decodeError: 'unsupported' | 'malformed', message } for a decode-error result. */
  decode(batch: Buffer): DecodeOutput;
}

let built: string | undefined;
export function tcpWasmPath(): string {
  if (built) return built;
  // A component built elsewhere (e.g. a mutant, to check that the tests notice).
  if (process.env.LIGHTFOOT_TCP_WASM) return (built = path.resolve(process.env.LIGHTFOOT_TCP_WASM));
  const root = packageRoot();
  const out = path.join(root, 'dist', 'probes', 'tcp', 'decoder.wasm');
  // Cheap when up to date (input hash); builds it when the test runs before scripts/build.sh learnt to.
  const r = spawnSync('bash', [path.join(root, 'scripts', 'build-decoders.sh'), 'tcp'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/build-decoders.sh tcp failed: ${r.stderr}`);
  return (built = out);
}

// The transpiled bindings are ES modules; this file compiles to CommonJS, where
// tsc would turn import() into require().
const importEsm = new Function('u', 'return import(u)') as (u: string) => Promise<any>;

const TWO53 = 2n ** 53n;
function fieldValue(v: { tag: string; val: unknown }): FieldValue {
  if (v.tag === 'int' || v.tag === 'uint') {
    const b = v.val as bigint;
    return b <= TWO53 && b >= -TWO53 ? Number(b) : b;
  }
  return v.val as FieldValue;
}

function normalizeOutput(o: any): DecodeOutput {
  return {
    metrics: o.metrics.map((m: any) => ({ metric: m.metric, labels: [...m.labels], op: m.op, value: m.value })),
    logs: o.logs.map((l: any) => ({
      level: l.level,
      message: l.message,
      connection: l.connection,
      // jco lifts field records as {key, value: {tag, val}}; the native engine already gives [key, value]
      fields: l.fields.map((f: any) => (Array.isArray(f) ? [f[0], f[1]] : [f.key, fieldValue(f.value)])),
    })),
    annotations: o.annotations.map((a: any) => ({ connection: a.connection, key: a.key, value: a.value })),
    streams: o.streams.map((s: any) => ({ connection: s.connection, direction: s.direction, consumed: s.consumed })),
  };
}

function normalizeInfo(i: any): DecoderInfo {
  return {
    name: i.name,
    version: i.version,
    subscriptions: i.subscriptions.map((s: any) => ({ probe: s.probe, kinds: [...s.kinds], streams: s.streams })),
    metrics: i.metrics.map((m: any) => ({ name: m.name, kind: m.kind, help: m.help, labels: [...m.labels], buckets: [...m.buckets] })),
  };
}

/** jco transpile output for these wasm bytes (cached per content hash in the temp dir). */
export async function transpiled(wasm: string): Promise<string> {
  const bytes = fs.readFileSync(wasm);
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `lightfoot-jco-tcp-${sha}`);
  const entry = path.join(dir, 'decoder.js');
  if (!fs.existsSync(entry)) {
    const tmp = `${dir}.${process.pid}`;
    const jco = path.join(packageRoot(), 'node_modules', '.bin', 'jco');
    const r = spawnSync(jco, ['transpile', wasm, '--instantiation', 'async', '--name', 'decoder', '-o', tmp, '--quiet'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`jco transpile failed: ${r.stderr}${r.stdout}`);
    fs.writeFileSync(path.join(tmp, 'package.json'), '{"type":"module"}\n');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  }
  return entry;
}

// lib has no DOM/WebAssembly typings here; V8's global is there at run time.
interface WasmGlobal { compile(bytes: Uint8Array): Promise<unknown> }
const Wasm = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly;
const moduleCache = new Map<string, Promise<unknown>>();

/** A fresh instance of the component under V8 (jco transpile, no imports at all). */
export async function loadJcoTcpDecoder(wasm = tcpWasmPath()): Promise<TcpDecoderUnderTest> {
  const entry = await transpiled(wasm);
  const mod = await importEsm(`file://${entry}`);
  const dir = path.dirname(entry);
  const compiled = (p: string) => {
    const key = path.join(dir, p);
    let m = moduleCache.get(key);
    if (!m) moduleCache.set(key, (m = Wasm.compile(fs.readFileSync(key))));
    return m;
  };
  const root = await mod.instantiate(compiled, {});
  const d = root.decoder;
  return {
    name: 'wasm/jco',
    describe: () => normalizeInfo(d.describe()),
    decode(batch: Buffer): DecodeOutput {
      let out;
      try {
        out = d.decode(batch);
      } catch (e: any) {
        if (e && e.payload && typeof e.payload.tag === 'string') {
          const err = new Error(String(e.payload.val)) as Error & { decodeError: string; code: string };
          err.decodeError = e.payload.tag;
          err.code = 'LF_ERR_DECODE';
          throw err;
        }
        throw e;
      }
      return normalizeOutput(out);
    },
  };
}

/** The component under the addon's wasmtime engine, or undefined when this build has none. */
export function loadWasmtimeTcpDecoder(wasm = tcpWasmPath(), memoryBytes = 64 << 20): TcpDecoderUnderTest | undefined {
  let engine;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadNativeEngine } = require('../../runtime/decoders/engine') as typeof import('../../runtime/decoders/engine');
    engine = loadNativeEngine({ cacheDir: '' });
  } catch {
    return undefined;
  }
  const inst = engine.compile(fs.readFileSync(wasm)).instantiate({ memoryBytes, deadlineMs: 5000 });
  return {
    name: 'wasm/wasmtime',
    describe: () => normalizeInfo(inst.describe()),
    decode: (batch: Buffer) => normalizeOutput(inst.decode(batch)),
  };
}

/**
 * The component's core module called directly (cabi_realloc + decode export +
 * post-return), without lifting the result into JS values: the guest's own cost,
 * for the benchmark. Returns a function giving the number of metric updates.
 */
export async function loadCoreTcpDecode(wasm = tcpWasmPath()): Promise<(batch: Buffer) => number> {
  const dir = path.dirname(await transpiled(wasm));
  type Exports = Record<string, (...a: number[]) => number> & { memory: { buffer: ArrayBuffer } };
  const W = (globalThis as unknown as { WebAssembly: any }).WebAssembly;
  const inst = await W.instantiate(fs.readFileSync(path.join(dir, 'decoder.core.wasm')), {});
  const ex = inst.instance.exports as Exports;
  ex._initialize();
  const decode = ex['lightfoot:decoder/decoder@0.2.0#decode'];
  const post = ex['cabi_post_lightfoot:decoder/decoder@0.2.0#decode'];
  return (batch: Buffer): number => {
    const ptr = ex.cabi_realloc(0, 0, 1, batch.length);
    new Uint8Array(ex.memory.buffer, ptr, batch.length).set(batch);
    const ret = decode(ptr, batch.length);
    const v = new DataView(ex.memory.buffer);
    const n = v.getUint8(ret) === 0 ? v.getUint32(ret + 8, true) : -1; // result<decode-output,…>: metrics.len
    post(ret);
    return n;
  };
}
