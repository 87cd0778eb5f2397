// The wasm engine as the decoder runtime sees it: the shapes of the native
// addon's WasmEngine API (docs/native-api.md, last section), declared here so
// everything above it is coded against an interface and unit-tested with fakes
// (runtime/decoders/testing.ts). loadNativeEngine() binds the real addon.

import { errorMessage } from './show';

// The value shapes are the addon's (one declaration, in runtime/native/binding.ts);
// importing types only never loads the addon.
export type {
  Annotation,
  CompactOutput,
  DecodeOutput,
  DecoderInfo,
  DecoderLogLevel,
  FaultKind,
  FieldValue,
  InstanceLimits,
  LogEvent,
  MetricDecl,
  MetricKind,
  MetricUpdate,
  OutputUsage,
  StreamProgress,
  Subscription,
  UpdateOp,
} from '../native/binding';
import type { CompactOutput, DecodeOutput, DecoderInfo, DecoderLogLevel, FaultKind, InstanceLimits, OutputUsage, UpdateOp } from '../native/binding';

export const COMPACT_OPS: readonly UpdateOp[] = ['add', 'set', 'observe'];
export const COMPACT_LEVELS: readonly DecoderLogLevel[] = ['debug', 'info', 'warn', 'error'];

export function isCompactOutput(o: DecodeOutput | CompactOutput): o is CompactOutput {
  return (o as CompactOutput).labelStart !== undefined;
}

export interface DecoderInstance {
  describe(): DecoderInfo;
  /** Synchronous, bounded by deadlineMs. */
  decode(batch: Buffer): DecodeOutput;
  /** The same call on the libuv thread pool. */
  decodeAsync(batch: Buffer): Promise<DecodeOutput>;
  /** decode() in compact form; engines without it are called through decode(). */
  decodeCompact?(batch: Buffer): CompactOutput;
  decodeCompactAsync?(batch: Buffer): Promise<CompactOutput>;
  /** Current linear memory size. */
  memoryBytes(): number;
  /** What the last call's output used of the per-call budget (engines that have one). */
  lastOutputUsage?(): OutputUsage;
  /** True after a fault: make a new instance. */
  readonly poisoned: boolean;
}

export interface WasmComponent {
  /** sha256 (hex) of the bytes given to compile(). */
  readonly sha256: string;
  imports(): string[];
  exports(): string[];
  world(): 'decoder-plugin' | 'probe-plugin';
  /** One Store per instance. */
  instantiate(limits: InstanceLimits): DecoderInstance;
}

export interface DecoderEngine {
  /** Throws LF_ERR_WASM_INVALID, LF_ERR_WASM_IMPORT or LF_ERR_WASM_WORLD. */
  compile(bytes: Buffer): WasmComponent;
}

export interface WasmEngineOptions {
  /** Persistent compilation cache; '' disables. */
  cacheDir?: string;
  /** How often the engine epoch is bumped (deadline granularity). */
  epochTickMs?: number;
  /** Fuel metering, needed by InstanceLimits.fuel (off by default: it slows guests). */
  consumeFuel?: boolean;
}

/** Engine options for these decoders: fuel metering only when one of them sets a fuel limit. */
export function engineOptionsFor(sources: readonly { limits: InstanceLimits; enabled?: boolean }[], base: WasmEngineOptions = {}): WasmEngineOptions {
  return { ...base, consumeFuel: base.consumeFuel === true || sources.some((s) => s.enabled !== false && s.limits.fuel !== undefined) };
}

/** The interface every decoder exports (world decoder-plugin and probe-plugin). */
export const DECODER_INTERFACE = 'lightfoot:decoder/decoder@0.2.0';
/** Imported by every component: the WIT types its exports use (nothing callable). */
export const TYPES_INTERFACE = 'lightfoot:decoder/types@0.2.0';

/** What a thrown engine error means to the host. */
export type EngineFailure =
  | { type: 'fault'; kind: FaultKind; message: string }
  | { type: 'decode'; error: 'unsupported' | 'malformed'; message: string }
  | { type: 'other'; code: string | undefined; message: string };

const FAULT_KINDS: readonly string[] = ['trap', 'timeout', 'oom', 'bad_output', 'oversize'];

/**
 * Classify an error thrown by describe()/decode(). A fault with an unknown
 * faultKind is a 'trap' (the instance cannot be trusted either way).
 */
export function classifyEngineError(err: unknown): EngineFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    faultKind?: unknown;
    decodeError?: unknown;
    message?: unknown;
  };
  const message = errorMessage(err);
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code === 'LF_ERR_DECODER_FAULT') {
    const kind = typeof e.faultKind === 'string' && FAULT_KINDS.includes(e.faultKind) ? (e.faultKind as FaultKind) : 'trap';
    return { type: 'fault', kind, message };
  }
  if (code === 'LF_ERR_DECODE') {
    return { type: 'decode', error: e.decodeError === 'unsupported' ? 'unsupported' : 'malformed', message };
  }
  return { type: 'other', code, message };
}

interface NativeWasmModule {
  WasmEngine?: new (opts?: WasmEngineOptions) => DecoderEngine;
}

/**
 * The addon's wasmtime engine. Loaded lazily so `lightfoot --help` and unit
 * tests never need the addon. Throws an Error with code LF_ERR_NATIVE_MISSING /
 * LF_ERR_NATIVE_LOAD (from the binding), or LF_ERR_WASM_ENGINE_MISSING when
 * this build of the addon has no engine.
 */
export function loadNativeEngine(opts: WasmEngineOptions = {}): DecoderEngine {
  const native = require('../native/binding') as NativeWasmModule;
  if (typeof native.WasmEngine !== 'function') {
    const err = new Error('the native addon has no WebAssembly engine (WasmEngine): rebuild it with `npm run build`');
    (err as Error & { code: string }).code = 'LF_ERR_WASM_ENGINE_MISSING';
    throw err;
  }
  return new native.WasmEngine(opts);
}
