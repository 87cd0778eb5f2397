// Typed loader for native/lightfoot.node (the Rust crate in native/). The API is the
// contract in docs/native-api.md; this file only loads the addon, types it, and guards
// the callbacks the addon invokes from its threads.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export interface ProgramInfo { name: string; section: string; type: string; autoload: boolean }
export interface MapInfo { name: string; type: string; keySize: number; valueSize: number; maxEntries: number }
export interface ProgramStats { name: string; id: number; runTimeNs: number; runCount: number; recursionMisses: number }
export interface UprobeOptions {
  binaryPath: string;
  funcName?: string;
  offset?: number;
  pid?: number;
  retprobe?: boolean;
  cookie?: bigint;
}
export interface RingBufferOptions {
  pollIntervalMs: number;
  maxBatchBytes: number;
  maxPendingBatches: number;
}
export interface RingBufferStats { batches: number; records: number; bytes: number; backpressureWaits: number }
export type LogLevel = 'warn' | 'info' | 'debug';

/** Error thrown by load(): `code` is LF_ERR_LOAD. */
export interface LoadError extends Error { code: 'LF_ERR_LOAD'; failedProgram?: string }

declare class NativeBpfObject {
  private constructor();
  static open(path: string): NativeBpfObject;
  programs(): ProgramInfo[];
  maps(): MapInfo[];
  setConstant(name: string, value: Buffer): void;
  setAutoload(program: string, enabled: boolean): void;
  setMaxEntries(map: string, n: number): void;
  load(): void;
  attach(program: string): NativeLink;
  attachTracepoint(program: string, category: string, name: string): NativeLink;
  attachRawTracepoint(program: string, name: string): NativeLink;
  attachUprobe(program: string, opts: UprobeOptions): NativeLink;
  attachCgroup(program: string, cgroupPath: string): NativeLink;
  /** Runs an iterator program (SEC("iter/…")) once to the end; returns what it bpf_seq_write()s. `map`: the map a map iterator walks. */
  runIterator(program: string, map?: string): Buffer;
  mapLookup(map: string, key: Buffer): Buffer | null;
  mapUpdate(map: string, key: Buffer, value: Buffer, flags?: number): void;
  mapDelete(map: string, key: Buffer): boolean;
  mapKeys(map: string): Buffer[];
  programStats(): ProgramStats[];
  openRingBuffer(map: string, opts: RingBufferOptions, onBatch: (batch: Buffer) => void): NativeRingBufferReader;
  close(): void;
}
declare class NativeLink { private constructor(); destroy(): void }
declare class NativeRingBufferReader { private constructor(); stop(): void; stats(): RingBufferStats }
declare class NativeStatsHandle { private constructor(); close(): void }

// --- WebAssembly decoder engine (wasmtime); docs/native-api.md, same-named section. ---
export interface WasmEngineOptions {
  /** Persistent compilation cache (default /var/cache/lightfoot/wasmtime); '' disables it. */
  cacheDir?: string;
  /** How often a background thread bumps the engine epoch (default 5). */
  epochTickMs?: number;
  /** Fuel metering, needed by InstanceLimits.fuel (default false: it slows guests). */
  consumeFuel?: boolean;
}
export interface InstanceLimits {
  /** Cap on linear memory; growth past it traps as 'oom'. */
  memoryBytes: number;
  /** Per-call wall-clock deadline (epoch interruption): 'timeout'. */
  deadlineMs: number;
  /** Optional per-call fuel: 'timeout' when exhausted. */
  fuel?: number;
  /** Per-call output budget (strings read, JSON rendered), bytes: 'oversize' (default 16 MiB). */
  outputBytes?: number;
  /** Per-call output budget, items (updates, labels, logs, fields, annotations, streams): 'oversize' (default 262144). */
  outputItems?: number;
}
/** What the last call's output used of the budget. */
export interface OutputUsage { bytes: number; items: number }
export type FaultKind = 'trap' | 'timeout' | 'oom' | 'bad_output' | 'oversize';
export type WasmWorld = 'decoder-plugin' | 'probe-plugin';
export type MetricKind = 'counter' | 'gauge' | 'histogram';
export interface MetricDecl { name: string; kind: MetricKind; help: string; labels: string[]; buckets: number[] }
export interface Subscription {
  probe: string;
  /** Record kinds (first byte of a record); empty = all. */
  kinds: number[];
  streams: boolean;
}
export interface DecoderInfo { name: string; version: string; subscriptions: Subscription[]; metrics: MetricDecl[] }
/** int/uint: number when |v| <= 2^53, else bigint. */
export type FieldValue = string | number | bigint | boolean;
export type DecoderLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type UpdateOp = 'add' | 'set' | 'observe';
export interface MetricUpdate { metric: number; labels: string[]; op: UpdateOp; value: number }
export interface LogEvent {
  level: DecoderLogLevel;
  message: string;
  /** Socket cookie; 0n when the event is about no connection. */
  connection: bigint;
  fields: [string, FieldValue][];
}
export interface Annotation { connection: bigint; key: string; value: string }
export interface StreamProgress { connection: bigint; direction: 'egress' | 'ingress'; consumed: number }
export interface DecodeOutput { metrics: MetricUpdate[]; logs: LogEvent[]; annotations: Annotation[]; streams: StreamProgress[] }
/**
 * decodeCompact(): the same output as columns (docs/native-api.md, "decodeCompact").
 * Label values and log messages are indexes into `strings` (distinct per call);
 * log fields come rendered as JSON object members without braces, by the host's rules
 * (runtime/decoders/log-events.ts), minus an integer `tsNs` field, which is in
 * `logs.tsNs` (0 when absent). Log-events that break those rules are dropped and counted
 * in `invalidLogs`.
 */
export interface CompactOutput {
  strings: string[];
  /** Per update: index into decoder-info.metrics. */
  metric: Uint32Array;
  /** 0 add, 1 set, 2 observe. */
  op: Uint8Array;
  value: Float64Array;
  /** Length n+1: update i has labels labelIdx[labelStart[i]..labelStart[i+1]]. */
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
/** A guest fault: the instance is poisoned. */
export interface DecoderFaultError extends Error { code: 'LF_ERR_DECODER_FAULT'; faultKind: FaultKind }
/** The guest returned decode-error; the instance stays usable. */
export interface DecodeError extends Error { code: 'LF_ERR_DECODE'; decodeError: 'unsupported' | 'malformed' }

declare class NativeWasmEngine {
  constructor(opts?: WasmEngineOptions);
  compile(bytes: Buffer): NativeWasmComponent;
  /** A component exporting lightfoot:decoder/planner (native/src/wasm/planner.rs). */
  compilePlanner(bytes: Buffer): NativePlannerComponent;
}
declare class NativePlannerComponent {
  private constructor();
  readonly sha256: string;
  /** plan() in a fresh Store under `limits`; faults come back as status 'fault', never thrown. */
  plan(info: PlanInput, limits: InstanceLimits): PlanOutcome;
}
declare class NativeWasmComponent {
  private constructor();
  readonly sha256: string;
  imports(): string[];
  exports(): string[];
  world(): WasmWorld;
  instantiate(limits: InstanceLimits): NativeDecoderInstance;
}
declare class NativeDecoderInstance {
  private constructor();
  describe(): DecoderInfo;
  decode(batch: Buffer): DecodeOutput;
  decodeAsync(batch: Buffer): Promise<DecodeOutput>;
  decodeCompact(batch: Buffer): CompactOutput;
  decodeCompactAsync(batch: Buffer): Promise<CompactOutput>;
  memoryBytes(): number;
  lastOutputUsage(): OutputUsage;
  readonly poisoned: boolean;
}

// --- Binary introspection (native/src/binfo.rs) and planning. ---
export interface SymbolInfo { name: string; offset: number; address: number; size: number }
export interface SymbolInterest { names?: string[]; prefixes?: string[] }
export interface BinaryInfo {
  path: string;
  dev: number;
  inode: number;
  mtimeNs: number;
  sizeBytes: number;
  kind: 'executable' | 'shared-library';
  buildId?: string;
  soname?: string;
  goVersion?: string;
  /** DT_NEEDED libraries and DT_RUNPATH directories. */
  needed: string[];
  runpath: string[];
  /** Function symbols in the binary (before the interest filter). */
  symbolCount: number;
  symbols: SymbolInfo[];
  /** Executable segments as file ranges. */
  text: { offset: number; size: number }[];
  cached: boolean;
  parseMs: number;
}
export interface PlanInput {
  path: string;
  kind: 'executable' | 'shared-library';
  buildId?: string;
  soname?: string;
  symbolCount: number;
  goVersion?: string;
  modules: string[][];
  symbols: SymbolInfo[];
  memberOffsets: { key: string; offset: number }[];
}
export interface PlannedAttach { program: string; symbol: string; offset: number; mode: 'uprobe' | 'uretprobe'; cookie: number }
export interface PlanOutcome {
  status: 'ok' | 'refused' | 'fault';
  faultKind?: FaultKind;
  message?: string;
  attach?: PlannedAttach[];
  config?: Buffer;
  notes?: string[];
}

interface NativeModule {
  BpfObject: typeof NativeBpfObject;
  Link: typeof NativeLink;
  RingBufferReader: typeof NativeRingBufferReader;
  StatsHandle: typeof NativeStatsHandle;
  WasmEngine: typeof NativeWasmEngine;
  WasmComponent: typeof NativeWasmComponent;
  DecoderInstance: typeof NativeDecoderInstance;
  enableRunTimeStats(): NativeStatsHandle;
  possibleCpus(): number;
  libbpfVersion(): string;
  setLogHandler(fn: ((level: LogLevel, line: string) => void) | null): void;
  mountTracefs(path: string): void;
  readBinaryInfo(path: string, interest?: SymbolInterest): BinaryInfo;
  clearBinaryCache(): void;
}

/** Where the addon is looked for: $LIGHTFOOT_NATIVE, else <repo>/native/lightfoot.node
 *  (this file runs as dist/runtime/native/binding.js, three levels below the repo root). */
export function nativeAddonPath(): string {
  const override = process.env.LIGHTFOOT_NATIVE;
  if (override) return path.resolve(override);
  return path.resolve(__dirname, '..', '..', '..', 'native', 'lightfoot.node');
}

function codedError(code: string, message: string, cause?: unknown): Error {
  const e = new Error(message, cause === undefined ? undefined : { cause }) as Error & { code: string };
  e.code = code;
  return e;
}

function loadAddon(): NativeModule {
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    throw codedError('LF_ERR_NATIVE_MISSING', `native addon not found at ${file}: run \`npm run build\` (or scripts/build-native.sh)`);
  }
  try {
    // dlopen rather than require: the override may name a file without the .node suffix
    // (e.g. cargo's liblightfoot_native.so), which require() would parse as JavaScript.
    const mod = { exports: {} as NativeModule };
    process.dlopen(mod, file);
    return mod.exports;
  } catch (e) {
    throw codedError('LF_ERR_NATIVE_LOAD', `loading native addon ${file}: ${(e as Error).message}`, e);
  }
}

/** Runs `fn` so that a throw can't reach the addon (an exception inside a threadsafe-function
 *  callback aborts the process there); the error is re-thrown on the next tick instead,
 *  which makes it an ordinary 'uncaughtException'. */
function guarded<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (e) {
      process.nextTick(() => { throw e; });
    }
  };
}

const native = loadAddon();

const rawOpenRingBuffer = native.BpfObject.prototype.openRingBuffer;
native.BpfObject.prototype.openRingBuffer = function openRingBuffer(
  this: NativeBpfObject, map: string, opts: RingBufferOptions, onBatch: (batch: Buffer) => void,
): NativeRingBufferReader {
  if (typeof onBatch !== 'function') throw codedError('LF_ERR_RINGBUF', `opening ring buffer ${map}: onBatch must be a function`);
  return rawOpenRingBuffer.call(this, map, opts, guarded(onBatch));
};

// The addon resolves decodeAsync with an Error object for faults (napi-rs can only reject
// with code+message; faults also carry faultKind/decodeError): reject with it here.
const rawDecodeAsync = native.DecoderInstance.prototype.decodeAsync as
  (this: NativeDecoderInstance, batch: Buffer) => Promise<DecodeOutput | Error>;
native.DecoderInstance.prototype.decodeAsync = async function decodeAsync(
  this: NativeDecoderInstance, batch: Buffer,
): Promise<DecodeOutput> {
  const r = await rawDecodeAsync.call(this, batch);
  if (r instanceof Error) throw r;
  return r;
};

const rawDecodeCompactAsync = native.DecoderInstance.prototype.decodeCompactAsync as
  (this: NativeDecoderInstance, batch: Buffer) => Promise<CompactOutput | Error>;
native.DecoderInstance.prototype.decodeCompactAsync = async function decodeCompactAsync(
  this: NativeDecoderInstance, batch: Buffer,
): Promise<CompactOutput> {
  const r = await rawDecodeCompactAsync.call(this, batch);
  if (r instanceof Error) throw r;
  return r;
};

export const BpfObject = native.BpfObject;
export type BpfObject = NativeBpfObject;
export const Link = native.Link;
export type Link = NativeLink;
export const RingBufferReader = native.RingBufferReader;
export type RingBufferReader = NativeRingBufferReader;
export const StatsHandle = native.StatsHandle;
export type StatsHandle = NativeStatsHandle;

export const WasmEngine = native.WasmEngine;
export type WasmEngine = NativeWasmEngine;
export const WasmComponent = native.WasmComponent;
export type WasmComponent = NativeWasmComponent;
export const DecoderInstance = native.DecoderInstance;
export type DecoderInstance = NativeDecoderInstance;

/** BPF_ENABLE_STATS(BPF_STATS_RUN_TIME); the kernel keeps counting while the handle is open. */
export function enableRunTimeStats(): StatsHandle { return native.enableRunTimeStats(); }
export function possibleCpus(): number { return native.possibleCpus(); }
export function libbpfVersion(): string { return native.libbpfVersion(); }
/** Every libbpf line goes to `fn` (debug included: filter in JS). null uninstalls. */
export function setLogHandler(fn: ((level: LogLevel, line: string) => void) | null): void {
  native.setLogHandler(fn === null ? null : guarded(fn));
}
export function mountTracefs(target: string): void { native.mountTracefs(target); }
/** ELF identity, symbols (only those in `interest`, when given) and text bounds; cached per (dev, inode, mtime, size). Throws LF_ERR_BINARY. */
export function readBinaryInfo(file: string, interest?: SymbolInterest): BinaryInfo { return native.readBinaryInfo(file, interest); }
export function clearBinaryCache(): void { native.clearBinaryCache(); }
export type PlannerComponent = NativePlannerComponent;
