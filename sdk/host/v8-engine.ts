// Runs a decoder component on V8: `jco transpile` in sync-instantiation mode
// (no WASI shim, no ESM imports in the generated code), instantiated with an
// EMPTY import object, so the guest gets nothing from the host. A component that
// imports anything is refused before instantiation (jco's default mode would hand
// it process.env and more: never for untrusted code).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { importEsm } from './esm';
import { codedError, Decoder, DecodeOutput, DecoderInfo, FieldValue } from './types';

const EXPORT = 'lightfoot:decoder/decoder@0.2.0';


type JcoApi = {
  componentEmbed(o: { binary: Uint8Array; witSource: string; world: string }): Promise<Uint8Array>;
  componentNew(b: Uint8Array): Promise<Uint8Array>;
  transpile(b: Uint8Array, o: object): Promise<{ files: Record<string, Uint8Array>; imports: string[]; exports: [string, string][] }>;
  componentWit(b: Uint8Array): Promise<string>;
};
let jco: Promise<JcoApi> | undefined;
export function jcoApi(): Promise<JcoApi> {
  jco ??= importEsm('@bytecodealliance/jco');
  return jco;
}

export interface Transpiled {
  files: Record<string, Uint8Array>;
  imports: string[];
  exports: string[];
}

/** Transpiles; throws LF_ERR_WASM_INVALID for bytes that are not a component. */
export async function transpileComponent(bytes: Uint8Array): Promise<Transpiled> {
  const api = await jcoApi();
  try {
    const r = await api.transpile(bytes, { name: 'decoder', instantiation: 'sync', noTypescript: true, wasiShim: false, quiet: true });
    return { files: r.files, imports: r.imports, exports: r.exports.map((e) => e[0]) };
  } catch (e) {
    const msg = String((e as Error).message ?? e).split('\n')[0];
    throw codedError('LF_ERR_WASM_INVALID', `not a valid WebAssembly component: ${msg}`);
  }
}

/** Refuses imports and a missing decoder export, with one-line messages. */
export function checkWorld(t: Transpiled): void {
  if (t.imports.length > 0) {
    throw codedError('LF_ERR_WASM_IMPORT', `component imports ${t.imports.join(', ')}: decoders get no imports (no WASI)`);
  }
  if (!t.exports.includes(EXPORT)) {
    throw codedError('LF_ERR_WASM_WORLD', `component does not export ${EXPORT} (exports: ${t.exports.join(', ') || 'none'})`);
  }
}

const big = (v: bigint): FieldValue => (v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v);

function normInfo(i: any): DecoderInfo {
  return {
    name: i.name,
    version: i.version,
    subscriptions: i.subscriptions.map((s: any) => ({ probe: s.probe, kinds: Array.from(s.kinds as Uint8Array), streams: s.streams })),
    metrics: i.metrics.map((m: any) => ({ name: m.name, kind: m.kind, help: m.help, labels: [...m.labels], buckets: Array.from(m.buckets as Float64Array) })),
  };
}

function normOutput(o: any): DecodeOutput {
  return {
    metrics: o.metrics.map((m: any) => ({ metric: m.metric, labels: [...m.labels], op: m.op, value: m.value })),
    logs: o.logs.map((l: any) => ({
      level: l.level, message: l.message, connection: l.connection,
      fields: l.fields.map((f: any): [string, FieldValue] => [f.key, typeof f.value.val === 'bigint' ? big(f.value.val) : f.value.val]),
    })),
    annotations: o.annotations.map((a: any) => ({ connection: a.connection, key: a.key, value: a.value })),
    streams: o.streams.map((s: any) => ({ connection: s.connection, direction: s.direction, consumed: s.consumed })),
  };
}

class V8Decoder implements Decoder {
  readonly engine = 'v8' as const;
  poisoned = false;
  constructor(private readonly api: { describe(): any; decode(b: Uint8Array): any }) {}

  private call<T>(what: string, fn: () => T): T {
    if (this.poisoned) throw codedError('LF_ERR_DECODER_FAULT', `${what}: instance is poisoned by an earlier fault`, { faultKind: 'trap' });
    try {
      return fn();
    } catch (e: any) {
      if (e && typeof e === 'object' && 'payload' in e && e.payload?.tag) {
        throw codedError('LF_ERR_DECODE', `${e.payload.tag}: ${e.payload.val}`, { decodeError: e.payload.tag, decodeMessage: e.payload.val });
      }
      // A trap (unreachable, out-of-bounds, stack overflow): the instance state is undefined now.
      this.poisoned = true;
      const oom = e instanceof RangeError || /memory/i.test(String(e?.message));
      throw codedError('LF_ERR_DECODER_FAULT', `${what}: guest fault: ${e?.message ?? e}`, { faultKind: oom ? 'oom' : 'trap' });
    }
  }
  describe(): DecoderInfo { return this.call('describe', () => normInfo(this.api.describe())); }
  decode(batch: Buffer): DecodeOutput { return this.call('decode', () => normOutput(this.api.decode(batch))); }
}

/** Compiles and instantiates a component on V8 (no imports granted). */
export async function loadV8(bytes: Uint8Array): Promise<Decoder> {
  const t = await transpileComponent(bytes);
  checkWorld(t);
  // The generated module has no imports of its own in sync mode; it lives in a
  // temp file only long enough to be imported.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lf-sdk-v8-'));
  let mod: any;
  try {
    const file = path.join(dir, 'decoder.mjs');
    writeFileSync(file, t.files['decoder.js']);
    mod = await importEsm(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // lib ES2022 has no WebAssembly types; V8 has the API.
  const Wasm = (globalThis as any).WebAssembly;
  const compiled = new Map<string, unknown>();
  const getCoreModule = (name: string): unknown => {
    let m = compiled.get(name);
    if (!m) compiled.set(name, (m = new Wasm.Module(t.files[name])));
    return m;
  };
  const inst = mod.instantiate(getCoreModule, {});
  return new V8Decoder(inst[EXPORT]);
}
