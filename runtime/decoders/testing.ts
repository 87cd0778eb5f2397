// Test support: a scripted fake of the wasm engine (describe/decode/faults),
// a manual clock with timers, a manual scheduler and fake files. Used by
// test/unit/decoders-*.test.ts; never loaded by the daemon.

import { Registry } from 'prom-client';
import type { EventRecord, EventWriter } from '../log/event-writer';
import { nullLogger, type Logger } from '../log/logger';
import { DecoderManager, type DecoderManagerOptions } from './decoder-manager';
import type { Clock, Timers } from './decoder-host';
import { DEFAULT_LIMITS } from './config';
import { compactFromObject } from './compact-output';
import {
  DECODER_INTERFACE,
  type CompactOutput,
  type DecodeOutput,
  type DecoderEngine,
  type DecoderInfo,
  type DecoderInstance,
  type FaultKind,
  type InstanceLimits,
  type WasmComponent,
} from './engine';
import { sha256Hex, type DecoderSource } from './manifest';

export interface FakeCall {
  decoder: string;
  instance: number;
  batch: Buffer;
}

export interface FakeDecoderSpec {
  info: DecoderInfo;
  /** describe() per instance number (restarts); defaults to `info`. */
  describe?: (instance: number) => DecoderInfo;
  /** Scripted decode; throw fault()/decodeError() to fail. Default: empty output. */
  decode?: (batch: Buffer, call: { n: number; instance: number }) => DecodeOutput;
  imports?: string[];
  exports?: string[];
  compileError?: Error;
  instantiateError?: Error;
  memoryBytes?: number;
  /** Awaited before an async decode runs (default: one microtask). */
  asyncGate?: () => Promise<void>;
  /**
   * Offer decodeCompact()/decodeCompactAsync() (the scripted output converted by
   * compact-output.ts, or `decodeCompact` below). Default: the engine's `compact` option.
   */
  compact?: boolean;
  /** Scripted compact output (instead of converting `decode`'s). */
  decodeCompact?: (batch: Buffer, call: { n: number; instance: number }) => CompactOutput;
}

export interface FakeEngineOptions {
  /** Instances offer the compact form unless a spec says otherwise. Default false. */
  compact?: boolean;
}

export function codedError(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code }, extra);
}
/** What the engine throws for a guest fault; poisons the instance. */
export function fault(kind: FaultKind, message = `wasm ${kind}`): Error {
  return codedError('LF_ERR_DECODER_FAULT', message, { faultKind: kind });
}
/** What the engine throws for a decode-error result. */
export function decodeError(kind: 'unsupported' | 'malformed', message: string = kind): Error {
  return codedError('LF_ERR_DECODE', message, { decodeError: kind });
}
export function emptyOutput(over: Partial<DecodeOutput> = {}): DecodeOutput {
  return { metrics: [], logs: [], annotations: [], streams: [], ...over };
}

export class FakeEngine implements DecoderEngine {
  readonly #specs = new Map<string, FakeDecoderSpec>();
  readonly calls: FakeCall[] = [];
  instances = 0;
  limitsSeen: InstanceLimits[] = [];
  readonly compact: boolean;

  constructor(opts: FakeEngineOptions = {}) {
    // LF_FAKE_COMPACT=1 runs every fake-engine test through the compact path.
    this.compact = opts.compact ?? process.env.LF_FAKE_COMPACT === '1';
  }

  /** Register a fake module; returns the bytes its file holds. */
  add(key: string, spec: FakeDecoderSpec): Buffer {
    const bytes = Buffer.from(`\0asm-fake:${key}`);
    this.#specs.set(bytes.toString('latin1'), spec);
    return bytes;
  }

  compile(bytes: Buffer): WasmComponent {
    const spec = this.#specs.get(bytes.toString('latin1'));
    if (spec === undefined) throw codedError('LF_ERR_WASM_INVALID', 'compiling component: bad magic number');
    if (spec.compileError) throw spec.compileError;
    if (spec.imports && spec.imports.length > 0) {
      throw codedError('LF_ERR_WASM_IMPORT', `imports ${spec.imports[0]}: decoders get no imports`);
    }
    const engine = this;
    return {
      sha256: sha256Hex(bytes),
      imports: () => [...(spec.imports ?? [])],
      exports: () => spec.exports ?? [DECODER_INTERFACE],
      world: () => 'decoder-plugin',
      instantiate(limits: InstanceLimits): DecoderInstance {
        if (spec.instantiateError) throw spec.instantiateError;
        engine.limitsSeen.push(limits);
        return new FakeInstance(engine, spec, engine.instances++);
      },
    };
  }
}

class FakeInstance implements DecoderInstance {
  poisoned = false;
  #n = 0;
  decodeCompact?: (batch: Buffer) => CompactOutput;
  decodeCompactAsync?: (batch: Buffer) => Promise<CompactOutput>;
  constructor(
    private readonly engine: FakeEngine,
    private readonly spec: FakeDecoderSpec,
    private readonly id: number,
  ) {
    if (spec.compact ?? engine.compact) {
      this.decodeCompact = (batch) => this.#compact(batch);
      this.decodeCompactAsync = async (batch) => {
        await (this.spec.asyncGate ? this.spec.asyncGate() : Promise.resolve());
        return this.#compact(batch);
      };
    }
  }

  /**
   * The scripted output in compact form. Garbage that has no compact form (labels
   * that are not strings, unknown ops…) is returned as the object output: the host
   * validates that form instead, as it would for an engine without decodeCompact.
   */
  #compact(batch: Buffer): CompactOutput {
    if (this.spec.decodeCompact) {
      if (this.poisoned) throw codedError('LF_ERR_DECODER_FAULT', 'instance is poisoned', { faultKind: 'trap' });
      this.engine.calls.push({ decoder: this.spec.info.name, instance: this.id, batch });
      try {
        return this.spec.decodeCompact(batch, { n: this.#n++, instance: this.id });
      } catch (err) {
        if ((err as { code?: unknown }).code === 'LF_ERR_DECODER_FAULT') this.poisoned = true;
        throw err;
      }
    }
    const out = this.decode(batch);
    try {
      return compactFromObject(out);
    } catch {
      return out as unknown as CompactOutput;
    }
  }

  describe(): DecoderInfo {
    return structuredClone(this.spec.describe ? this.spec.describe(this.id) : this.spec.info);
  }

  decode(batch: Buffer): DecodeOutput {
    if (this.poisoned) throw codedError('LF_ERR_DECODER_FAULT', 'instance is poisoned', { faultKind: 'trap' });
    this.engine.calls.push({ decoder: this.spec.info.name, instance: this.id, batch });
    try {
      return this.spec.decode ? this.spec.decode(batch, { n: this.#n++, instance: this.id }) : emptyOutput();
    } catch (err) {
      if ((err as { code?: unknown }).code === 'LF_ERR_DECODER_FAULT') this.poisoned = true;
      throw err;
    }
  }

  async decodeAsync(batch: Buffer): Promise<DecodeOutput> {
    await (this.spec.asyncGate ? this.spec.asyncGate() : Promise.resolve());
    return this.decode(batch);
  }

  memoryBytes(): number {
    return this.spec.memoryBytes ?? 65536;
  }
}

/** A manual monotonic clock whose timers fire on advance(). */
export class FakeClock implements Clock, Timers {
  #now = 0;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  /** Delays of pending timers, from now. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= end && (!first || e[1].at < first[1].at)) first = e;
      if (!first) break;
      this.#timers.delete(first[0]);
      this.#now = first[1].at;
      first[1].fn();
    }
    this.#now = end;
  }
}

/** Runs scheduled pumps only when asked: tests decide when decoders are called. */
export class ManualScheduler {
  #queue: (() => void)[] = [];
  readonly schedule = (fn: () => void): void => void this.#queue.push(fn);
  get size(): number {
    return this.#queue.length;
  }
  run(): void {
    while (this.#queue.length > 0) {
      const q = this.#queue;
      this.#queue = [];
      for (const fn of q) fn();
    }
  }
}

/** readFile over a path → bytes map (ENOENT otherwise). */
export function fakeFiles(files: Record<string, Buffer>): (p: string) => Buffer {
  return (p) => {
    const b = files[p];
    if (b === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
    return b;
  };
}

export function fakeSource(path: string, over: Partial<DecoderSource> = {}): DecoderSource {
  return { path, origin: 'dir', requirePinned: false, enabled: true, limits: { ...DEFAULT_LIMITS }, from: '--decoders /fake', ...over };
}

/** A decoder-info with sensible defaults. */
export function fakeInfo(name: string, over: Partial<DecoderInfo> = {}): DecoderInfo {
  return {
    name,
    version: '0.1.0',
    subscriptions: [{ probe: 'tcp', kinds: [], streams: false }],
    metrics: [],
    ...over,
  };
}

// --- A ready-made setup for manager tests. -------------------------------


export interface Harness {
  engine: FakeEngine;
  clock: FakeClock;
  scheduler: ManualScheduler;
  registry: Registry;
  /** Event lines written by the manager. */
  events: EventRecord[];
  eventWriter: EventWriter;
  files: Record<string, Buffer>;
  /** Register a fake decoder file and return its source. */
  add(file: string, spec: FakeDecoderSpec, over?: Partial<DecoderSource>): DecoderSource;
  manager(over?: Partial<DecoderManagerOptions>): DecoderManager;
  /** Value of one series (undefined when absent). */
  /** `series`: e.g. `<histogram>_count`; defaults to `name`. */
  metric(name: string, labels?: Record<string, string | number>, series?: string): Promise<number | undefined>;
}

export function createHarness(logger: Logger = nullLogger, engineOpts: FakeEngineOptions = {}): Harness {
  const engine = new FakeEngine(engineOpts);
  const clock = new FakeClock();
  const scheduler = new ManualScheduler();
  const registry = new Registry();
  const events: EventRecord[] = [];
  const files: Record<string, Buffer> = {};
  const sources: DecoderSource[] = [];
  const eventWriter: EventWriter = {
    write: (e) => void events.push(e),
    writeRaw: (line) => void events.push(JSON.parse(line) as EventRecord),
    stats: () => ({ written: events.length, dropped: 0, closed: false }),
  };
  return {
    engine,
    clock,
    scheduler,
    registry,
    events,
    eventWriter,
    files,
    add(file, spec, over = {}) {
      files[file] = engine.add(file, spec);
      const src = fakeSource(file, over);
      sources.push(src);
      return src;
    },
    manager(over = {}) {
      return new DecoderManager({
        engine,
        sources,
        registry,
        logger,
        events: eventWriter,
        mode: 'sync',
        clock,
        timers: clock,
        schedule: scheduler.schedule,
        readFile: fakeFiles(files),
        ...over,
      });
    },
    async metric(name, labels = {}, series = name) {
      const m = registry.getSingleMetric(name);
      if (!m) return undefined;
      const data = await m.get();
      const want = Object.entries(labels).map(([k, v]) => [k, String(v)] as const);
      const hit = data.values.find(
        (v) =>
          ((v as { metricName?: string }).metricName ?? name) === series &&
          want.every(([k, val]) => String((v.labels as Record<string, unknown>)[k]) === val),
      );
      return hit?.value;
    },
  };
}
