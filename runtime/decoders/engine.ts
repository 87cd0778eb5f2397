// The wasm engine as the decoder runtime sees it: the shapes of the native
// addon's WasmEngine API (docs/native-api.md, last section), declared here so
// everything above it is coded against an interface and unit-tested with fakes
// (runtime/decoders/testing.ts). loadNativeEngine() binds the real addon.

import { errorMessage } from './show';

export type FaultKind = 'trap' | 'timeout' | 'oom';

export interface InstanceLimits {
  /** Cap on linear memory; growth past it traps as 'oom'. */
  memoryBytes: number;
  /** Per-call wall-clock deadline (epoch interruption): 'timeout'. */
  deadlineMs: number;
  /** Optional per-call fuel: 'timeout' when exhausted. */
  fuel?: number;
}

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface MetricDecl {
  name: string;
  kind: MetricKind;
  help: string;
  labels: string[];
  buckets: number[];
}

export interface Subscription {
  probe: string;
  /** Record kinds (first byte of a record); empty = all. */
  kinds: number[];
  streams: boolean;
}

export interface DecoderInfo {
  name: string;
  version: string;
  subscriptions: Subscription[];
  metrics: MetricDecl[];
}

/** int/uint: number when |v| <= 2^53, else bigint. */
export type FieldValue = string | number | bigint | boolean;
export type DecoderLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type UpdateOp = 'add' | 'set' | 'observe';

export interface MetricUpdate {
  metric: number;
  labels: string[];
  op: UpdateOp;
  value: number;
}

export interface LogEvent {
  level: DecoderLogLevel;
  message: string;
  /** Socket cookie; 0n when the event is about no connection. */
  connection: bigint;
  fields: [string, FieldValue][];
}

export interface Annotation {
  connection: bigint;
  key: string;
  value: string;
}

export interface StreamProgress {
  connection: bigint;
  direction: 'egress' | 'ingress';
  consumed: number;
}

export interface DecodeOutput {
  metrics: MetricUpdate[];
  logs: LogEvent[];
  annotations: Annotation[];
  streams: StreamProgress[];
}

/**
 * The same output in columns (docs/native-api.md, "decodeCompact"): what the host
 * needs without one JS object per update, label or field. Label values and log
 * messages index `strings`; log fields arrive rendered as JSON object members
 * (no braces) by the rules of log-events.ts, except an integer `tsNs` field, which
 * is in `logs.tsNs` (kernel CLOCK_MONOTONIC ns; 0 = none). Log-events breaking the
 * rules were dropped by the engine and are counted in `invalidLogs`.
 */
export interface CompactOutput {
  strings: string[];
  metric: Uint32Array;
  /** 0 add, 1 set, 2 observe (anything else is refused as bad_output). */
  op: Uint8Array;
  value: Float64Array;
  /** n+1 offsets into labelIdx. */
  labelStart: Uint32Array;
  labelIdx: Uint32Array;
  logs: {
    /** 0 debug, 1 info, 2 warn, 3 error. */
    level: Uint8Array;
    message: Uint32Array;
    connection: BigUint64Array;
    tsNs: BigUint64Array;
    fieldsJson: string[];
  };
  invalidLogs: number;
  annotations: Annotation[];
  streams: StreamProgress[];
}

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
export const DECODER_INTERFACE = 'lightfoot:decoder/decoder@0.1.0';
/** Imported by every component: the WIT types its exports use (nothing callable). */
export const TYPES_INTERFACE = 'lightfoot:decoder/types@0.1.0';

/** What a thrown engine error means to the host. */
export type EngineFailure =
  | { type: 'fault'; kind: FaultKind; message: string }
  | { type: 'decode'; error: 'unsupported' | 'malformed'; message: string }
  | { type: 'other'; code: string | undefined; message: string };

const FAULT_KINDS: readonly string[] = ['trap', 'timeout', 'oom'];

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
