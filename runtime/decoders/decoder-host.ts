// One decoder's lifecycle: read → pin check → compile → instantiate with
// limits → describe → validate → register metrics; then decode calls (sync or
// async, a constructor option) and the fault model: every fault counted by
// kind, a poisoned instance replaced after an exponential backoff, quarantine
// after too many faults in a window.
//
//   loading ──ok──▶ running ──fault──▶ backoff ──timer──▶ loading ──▶ running
//      │                │                                    │
//      ▼                └──N faults in window──▶ quarantined ◀┘ (describe changed)
//   refused (never runs; the reason is kept and logged once)

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../log/logger';
import { sameInfo, validateDecoderInfo } from './decoder-info';
import {
  DECODER_INTERFACE,
  TYPES_INTERFACE,
  classifyEngineError,
  isCompactOutput,
  type CompactOutput,
  type DecodeOutput,
  type DecoderEngine,
  type DecoderInfo,
  type DecoderInstance,
  type WasmComponent,
} from './engine';
import { checkPin, sha256Hex, type DecoderSource } from './manifest';
import { MetricDeclarationError, type DecoderMetricRegistry, type DecoderMetrics } from './metric-registry';
import type { DecoderSelfMetrics, FaultLabel } from './self-metrics';
import { errorMessage } from './show';
import type { DECODER_STATES } from './self-metrics';

export type DecoderState = (typeof DECODER_STATES)[number];
/** 'async' runs decode() on the libuv thread pool; 'sync' on the main thread. */
export type CallMode = 'sync' | 'async';
/**
 * 'compact' calls decodeCompact()/decodeCompactAsync() when the engine's instance has
 * them (engine.ts CompactOutput); 'object' always calls decode()/decodeAsync().
 */
export type OutputForm = 'compact' | 'object';

export interface FaultPolicy {
  /** First restart delay after a fault. */
  backoffInitialMs: number;
  /** The delay doubles per consecutive fault up to this. */
  backoffMaxMs: number;
  /** Quarantine after this many faults… */
  quarantineFaults: number;
  /** …within this window. Also: a fault-free window resets the backoff. */
  quarantineWindowMs: number;
}

export const DEFAULT_FAULT_POLICY: Readonly<FaultPolicy> = Object.freeze({
  backoffInitialMs: 100,
  backoffMaxMs: 30_000,
  quarantineFaults: 5,
  quarantineWindowMs: 60_000,
});

/** Monotonic milliseconds. */
export interface Clock {
  now(): number;
}
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = { now: () => performance.now() };
export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface Refusal {
  message: string;
  hint: string;
}

export type DecodeOutcome =
  | { ok: true; output: DecodeOutput | CompactOutput }
  | { ok: false; reason: 'fault' | 'bad_output' | 'decode_error' | 'not_running'; message: string };

export interface DecoderHostOptions {
  source: DecoderSource;
  engine: DecoderEngine;
  metrics: DecoderMetricRegistry;
  self: DecoderSelfMetrics;
  logger: Logger;
  /** Default 'async' (see README.md, "sync or async"). */
  mode?: CallMode;
  /** Default 'compact' (used when the engine offers it). */
  form?: OutputForm;
  policy?: Partial<FaultPolicy>;
  clock?: Clock;
  timers?: Timers;
  readFile?: (p: string) => Buffer;
  /** Path of the decoder already using this name, if any. */
  nameTakenBy?: (name: string) => string | undefined;
  onStateChange?: (host: DecoderHost, previous: DecoderState) => void;
}

const WARN_EVERY_MS = 10_000;

export class DecoderHost {
  readonly source: DecoderSource;
  readonly mode: CallMode;
  readonly #o: DecoderHostOptions;
  readonly #policy: FaultPolicy;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #log: Logger;
  #state: DecoderState = 'loading';
  #refusal: Refusal | undefined;
  #sha256: string | undefined;
  #component: WasmComponent | undefined;
  #instance: DecoderInstance | undefined;
  #info: DecoderInfo | undefined;
  #metrics: DecoderMetrics | undefined;
  #faultTimes: number[] = [];
  #consecutive = 0;
  #lastFaultAt = -Infinity;
  #restartTimer: unknown;
  #inFlight = false;
  #closed = false;
  #lastWarnAt = -Infinity;
  #memory: number | undefined;
  readonly faults: Record<FaultLabel, number> = { trap: 0, timeout: 0, oom: 0, bad_output: 0, oversize: 0 };

  constructor(opts: DecoderHostOptions) {
    this.#o = opts;
    this.source = opts.source;
    this.mode = opts.mode ?? 'async';
    this.#policy = { ...DEFAULT_FAULT_POLICY, ...opts.policy };
    this.#clock = opts.clock ?? systemClock;
    this.#timers = opts.timers ?? systemTimers;
    this.#log = opts.logger;
  }

  get state(): DecoderState {
    return this.#state;
  }
  get info(): DecoderInfo | undefined {
    return this.#info;
  }
  get refusal(): Refusal | undefined {
    return this.#refusal;
  }
  get sha256(): string | undefined {
    return this.#sha256;
  }
  /** The `decoder` label: the declared name, or the file name before describe(). */
  get label(): string {
    return this.#info?.name ?? path.basename(this.source.path, '.wasm');
  }
  get faultCount(): number {
    return this.faults.trap + this.faults.timeout + this.faults.oom + this.faults.bad_output + this.faults.oversize;
  }
  get busy(): boolean {
    return this.#inFlight;
  }

  /**
   * Linear memory of the live instance. While an async call runs, the value
   * read after the previous call (a scrape never waits for a decoder).
   */
  memoryBytes(): number | undefined {
    const inst = this.#instance;
    if (!inst || this.#state !== 'running') return undefined;
    if (!this.#inFlight) this.#memory = inst.memoryBytes();
    return this.#memory;
  }

  /** Load synchronously; false when refused (see `refusal`). Never throws. */
  load(): boolean {
    try {
      return this.#load();
    } catch (err) {
      return this.#refuse(`loading failed: ${errorMessage(err)}`, 'this is a lightfoot bug; please report it');
    }
  }

  #load(): boolean {
    const src = this.source;
    let bytes: Buffer;
    try {
      bytes = (this.#o.readFile ?? fs.readFileSync)(src.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return this.#refuse(`cannot read the file (${code ?? (err as Error).message})`, `check the path given by ${src.from}`);
    }
    this.#sha256 = sha256Hex(bytes);
    if (src.sha256 !== undefined) {
      const pin = checkPin(bytes, src.sha256);
      if (!pin.ok) {
        return this.#refuse(pin.message, `if the decoder was updated on purpose, set its sha256 to ${pin.actual} (${src.from}); otherwise do not load this file`);
      }
    } else if (src.requirePinned) {
      return this.#refuse('not pinned: the config sets requirePinned but gives no sha256 for this decoder', `add "sha256": "${this.#sha256}" for ${src.path} to the config file`);
    }

    let component: WasmComponent;
    try {
      component = this.#o.engine.compile(bytes);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const msg = errorMessage(err);
      if (code === 'LF_ERR_WASM_IMPORT') return this.#refuse(msg, 'a decoder gets no imports: no WASI, clocks, files or sockets; build it with the SDK, without WASI');
      if (code === 'LF_ERR_WASM_WORLD') return this.#refuse(msg, `the component must export ${DECODER_INTERFACE} (world decoder-plugin in sdk/wit/decoder.wit)`);
      if (code === 'LF_ERR_WASM_INVALID') return this.#refuse(msg, 'not a WebAssembly component: build it with the SDK (a core module must be wrapped with `wasm-tools component new`)');
      return this.#refuse(`compiling: ${msg}`, 'check that this is a lightfoot decoder component');
    }
    // The engine already refused anything but the WIT package's own types
    // interface, which exported interfaces `use` (types only, nothing callable).
    const imports = component.imports().filter((i) => i !== TYPES_INTERFACE);
    if (imports.length > 0) {
      return this.#refuse(`imports ${imports.join(', ')}: decoders get no imports`, 'build it with the SDK without WASI');
    }
    if (!component.exports().includes(DECODER_INTERFACE)) {
      return this.#refuse(`does not export ${DECODER_INTERFACE} (exports: ${component.exports().join(', ') || 'nothing'})`, 'implement world decoder-plugin of sdk/wit/decoder.wit');
    }
    this.#component = component;

    const started = this.#instantiate();
    if (!started.ok) return this.#refuse(started.message, 'run `lightfoot decoders verify FILE` to see the failure');
    const info = started.info;
    const taken = this.#o.nameTakenBy?.(info.name);
    if (taken !== undefined) {
      return this.#refuse(`decoder name ${info.name} is already used by ${taken}`, 'load only one of them (drop one from --decoders or set enabled: false in --config)');
    }
    try {
      this.#metrics = this.#o.metrics.register(info.name, info.metrics, { shareMetrics: this.source.shareMetrics });
    } catch (err) {
      const problems = err instanceof MetricDeclarationError ? err.problems.join('; ') : (err as Error).message;
      return this.#refuse(`describe(): invalid metrics: ${problems}`, 'fix the metric declarations (rules in runtime/decoders/README.md)');
    }
    this.#info = info;
    this.#instance = started.instance;
    this.#setState('running');
    return true;
  }

  /** New instance + describe() + validation. */
  #instantiate(): { ok: true; instance: DecoderInstance; info: DecoderInfo } | { ok: false; message: string; fault?: FaultLabel } {
    let instance: DecoderInstance;
    try {
      instance = this.#component!.instantiate(this.source.limits);
    } catch (err) {
      const f = classifyEngineError(err);
      return { ok: false, message: `instantiating: ${f.message}`, fault: f.type === 'fault' ? f.kind : 'trap' };
    }
    let info: DecoderInfo;
    try {
      info = instance.describe();
    } catch (err) {
      const f = classifyEngineError(err);
      return { ok: false, message: `describe() failed: ${f.type === 'fault' ? `${f.kind}: ` : ''}${f.message}`, fault: f.type === 'fault' ? f.kind : 'trap' };
    }
    const problems = validateDecoderInfo(info);
    if (problems.length > 0) return { ok: false, message: `describe(): ${problems.join('; ')}` };
    return { ok: true, instance, info };
  }

  /**
   * One decode() call. Sync mode returns the outcome; async mode a promise.
   * Applies the metric updates (validated as a whole); the rest of the output
   * is the caller's. Never throws or rejects.
   */
  decode(batch: Buffer, records: number): DecodeOutcome | Promise<DecodeOutcome> {
    const inst = this.#instance;
    if (this.#state !== 'running' || inst === undefined || this.#inFlight) {
      return { ok: false, reason: 'not_running', message: `decoder is ${this.#inFlight ? 'busy' : this.#state}` };
    }
    const t0 = this.#clock.now();
    const compact = this.#o.form !== 'object' && typeof inst.decodeCompact === 'function' && typeof inst.decodeCompactAsync === 'function';
    if (this.mode === 'sync') {
      let out: DecodeOutput | CompactOutput;
      try {
        out = compact ? inst.decodeCompact!(batch) : inst.decode(batch);
      } catch (err) {
        return this.#failed(inst, err, t0, records);
      }
      return this.#succeeded(inst, out, t0, records);
    }
    this.#inFlight = true;
    let p: Promise<DecodeOutput | CompactOutput>;
    try {
      p = compact ? inst.decodeCompactAsync!(batch) : inst.decodeAsync(batch);
    } catch (err) {
      this.#inFlight = false;
      return this.#failed(inst, err, t0, records);
    }
    return p.then(
      (out) => {
        this.#inFlight = false;
        return this.#succeeded(inst, out, t0, records);
      },
      (err: unknown) => {
        this.#inFlight = false;
        return this.#failed(inst, err, t0, records);
      },
    );
  }

  #succeeded(inst: DecoderInstance, out: DecodeOutput | CompactOutput, t0: number, records: number): DecodeOutcome {
    const secs = (this.#clock.now() - t0) / 1000;
    const name = this.label;
    if (this.#instance !== inst || this.#closed) return { ok: false, reason: 'not_running', message: 'instance was replaced' };
    let problem: string | null;
    try {
      problem = this.#checkOutput(out);
    } catch (err) {
      problem = `output could not be validated: ${errorMessage(err)}`;
    }
    if (problem !== null) {
      this.#o.self.call(name, 'bad_output', secs, records);
      this.#fault('bad_output', problem, false);
      return { ok: false, reason: 'bad_output', message: problem };
    }
    this.#o.self.call(name, 'ok', secs, records);
    if (this.#consecutive > 0 && this.#clock.now() - this.#lastFaultAt >= this.#policy.quarantineWindowMs) this.#consecutive = 0;
    return { ok: true, output: out };
  }

  #checkOutput(out: unknown): string | null {
    if (typeof out !== 'object' || out === null) return 'decode() returned no decode-output';
    const o = out as Record<string, unknown>;
    if (isCompactOutput(out as DecodeOutput | CompactOutput)) {
      const c = out as CompactOutput;
      for (const k of ['annotations', 'streams', 'strings'] as const) {
        if (!Array.isArray(c[k])) return `${k} is not a list`;
      }
      const l = c.logs as Partial<CompactOutput['logs']> | undefined;
      const nl = l?.fieldsJson?.length;
      if (
        nl === undefined ||
        !Array.isArray(l!.fieldsJson) ||
        l!.level?.length !== nl ||
        l!.message?.length !== nl ||
        l!.connection?.length !== nl ||
        l!.tsNs?.length !== nl
      ) {
        return 'logs: compact columns have inconsistent lengths';
      }
      return this.#metrics!.applyCompact(c);
    }
    for (const k of ['logs', 'annotations', 'streams'] as const) {
      if (!Array.isArray(o[k])) return `${k} is not a list`;
    }
    return this.#metrics!.apply(o.metrics);
  }

  #failed(inst: DecoderInstance, err: unknown, t0: number, records: number): DecodeOutcome {
    const secs = (this.#clock.now() - t0) / 1000;
    if (this.#instance !== inst || this.#closed) return { ok: false, reason: 'not_running', message: 'instance was replaced' };
    const f = classifyEngineError(err);
    if (f.type === 'decode' && !inst.poisoned) {
      this.#o.self.call(this.label, 'decode_error', secs, records);
      this.#log.debug('decoder returned a decode-error', { decoder: this.label, error: f.error, message: f.message });
      return { ok: false, reason: 'decode_error', message: `${f.error}: ${f.message}` };
    }
    this.#o.self.call(this.label, 'fault', secs, records);
    const kind: FaultLabel = f.type === 'fault' ? f.kind : 'trap';
    this.#fault(kind, f.message, true);
    return { ok: false, reason: 'fault', message: `${kind}: ${f.message}` };
  }

  /** Count a fault; replace the instance when `poisoned`; quarantine past the threshold. */
  #fault(kind: FaultLabel, message: string, poisoned: boolean): void {
    const now = this.#clock.now();
    this.faults[kind]++;
    this.#o.self.fault(this.label, kind);
    if (now - this.#lastFaultAt >= this.#policy.quarantineWindowMs) this.#consecutive = 0;
    this.#lastFaultAt = now;
    const windowStart = now - this.#policy.quarantineWindowMs;
    this.#faultTimes = this.#faultTimes.filter((t) => t > windowStart);
    this.#faultTimes.push(now);
    if (this.#faultTimes.length >= this.#policy.quarantineFaults) {
      this.#quarantine(`${this.#faultTimes.length} faults in ${Math.round(this.#policy.quarantineWindowMs / 1000)} s (last: ${kind}: ${message})`);
      return;
    }
    if (!poisoned) {
      this.#warn('decoder output rejected (bad_output); nothing of it was applied', { decoder: this.label, reason: message });
      return;
    }
    const delay = Math.min(this.#policy.backoffMaxMs, this.#policy.backoffInitialMs * 2 ** this.#consecutive);
    this.#consecutive++;
    this.#instance = undefined;
    this.#setState('backoff');
    this.#log.warn('decoder fault; replacing the instance after a backoff', { decoder: this.label, kind, message, restartInMs: delay });
    this.#restartTimer = this.#timers.setTimeout(() => this.#restart(), delay);
  }

  #restart(): void {
    this.#restartTimer = undefined;
    if (this.#closed || this.#state !== 'backoff') return;
    this.#setState('loading');
    const started = this.#instantiate();
    if (!started.ok) {
      if (started.fault === undefined) {
        this.#quarantine(`after a restart, ${started.message}`);
        return;
      }
      this.#fault(started.fault, started.message, true); // loading → backoff (or quarantined)
      return;
    }
    if (!sameInfo(started.info, this.#info!)) {
      this.#quarantine('describe() changed after a restart (the decoder must describe itself the same way every time)');
      return;
    }
    this.#instance = started.instance;
    this.#o.self.restart(this.label);
    this.#setState('running');
    this.#log.info('decoder restarted', { decoder: this.label });
  }

  #quarantine(why: string): void {
    this.#instance = undefined;
    if (this.#restartTimer !== undefined) this.#timers.clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#setState('quarantined');
    this.#log.error(`decoder ${this.label} quarantined: ${why}; it gets no more batches`, {
      decoder: this.label,
      path: this.source.path,
      hint: `its batches are dropped and counted in lightfoot_decoder_batches_dropped_total{reason="quarantined"}; fix or update the decoder (\`lightfoot decoders verify ${this.source.path}\`) and restart lightfoot, or set "enabled": false for it in --config`,
    });
  }

  #refuse(message: string, hint: string): false {
    this.#refusal = { message, hint };
    this.#instance = undefined;
    this.#setState('refused');
    return false;
  }

  #setState(s: DecoderState): void {
    const prev = this.#state;
    if (prev === s) return;
    this.#state = s;
    this.#o.onStateChange?.(this, prev);
  }

  #warn(msg: string, fields: Record<string, unknown>): void {
    const now = this.#clock.now();
    if (now - this.#lastWarnAt >= WARN_EVERY_MS) {
      this.#lastWarnAt = now;
      this.#log.warn(msg, fields);
    } else {
      this.#log.debug(msg, fields);
    }
  }

  /** Stop timers and drop the instance. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#restartTimer !== undefined) this.#timers.clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#instance = undefined;
  }
}
