// The native wasmtime engine (native/lightfoot.node, WasmEngine), when the addon
// has it. Loaded lazily: `lightfoot-sdk test` must work without the addon.
import { Decoder } from './types';

export interface WasmtimeLimits { memoryBytes: number; deadlineMs: number }
const DEFAULT_LIMITS: WasmtimeLimits = { memoryBytes: 64 << 20, deadlineMs: 2000 };

/** The WasmEngine class, or a reason why there is none. */
export function wasmEngineClass(): { engine?: new (o?: object) => any; reason?: string } {
  let binding: any;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = require('../../runtime/native/binding');
  } catch (e) {
    return { reason: `native addon unavailable: ${(e as Error).message.split('\n')[0]}` };
  }
  if (typeof binding.WasmEngine === 'function') return { engine: binding.WasmEngine };
  // binding.ts may not re-export WasmEngine yet: ask the addon itself.
  try {
    const mod = { exports: {} as any };
    process.dlopen(mod, binding.nativeAddonPath());
    if (typeof mod.exports.WasmEngine === 'function') return { engine: mod.exports.WasmEngine };
  } catch { /* fall through */ }
  return { reason: 'the native addon has no WasmEngine (built before the wasmtime engine landed?)' };
}

export function loadWasmtime(bytes: Buffer, limits: WasmtimeLimits = DEFAULT_LIMITS): Decoder {
  const { engine: WasmEngine, reason } = wasmEngineClass();
  if (!WasmEngine) throw Object.assign(new Error(`--engine wasmtime: ${reason}`), { code: 'LF_ERR_NO_ENGINE' });
  const engine = new WasmEngine({ cacheDir: '' });
  const inst = engine.compile(bytes).instantiate(limits);
  return { engine: 'wasmtime', describe: () => inst.describe(), decode: (b: Buffer) => inst.decode(b) };
}
