/**
 * What a probe module is, to the host: a folder probes/NAME/ whose manifest.ts
 * exports one ProbeModule, listed once in probes/index.ts. The host loads the
 * module's BPF object, writes the selection into it, routes its rings to the
 * decoders, and, for a module with a planner, plans and attaches uprobes per
 * binary. It knows no protocol, symbol or record meaning beyond the offsets a
 * module declares here.
 */
import type { BpfObject, InstanceLimits } from '../native/binding';
import type { ProbeSpec } from '../probes/probe-spec';

/** What a module may look at when it builds its spec for a run. */
export interface ModuleContext {
  /** The run's options, as flags gave them. */
  selectAll: boolean;
  filterComm: boolean;
  filterCgroup: boolean;
  selfTgid: number;
  ringBufferBytes: number;
  /** `--flush-interval-ms`. */
  flushIntervalMs: number;
  /** Bytes of plaintext/payload captured per call (`--capture-bytes`), when the user set it. */
  captureBytes?: number;
  /** True when some loaded decoder subscribes to this probe's records or streams. */
  subscribed(probe: string): boolean;
  /** True when some loaded decoder wants this probe's payload streams. */
  wantsStreams(probe: string): boolean;
}

/** A ring whose records go, as they are, to decoders subscribed to the probe. */
export interface RecordRing {
  map: string;
  type: 'records';
  /** A record of this kind ends a connection: decoders get it in `closed` (after the stream ring drained). */
  close?: { kind: number; cookieOffset: number };
  /**
   * Where each record names its connection, owning process and cgroup, so the
   * host can join decoder output to a workload (Kubernetes mode) before the
   * decoders see the record. Records shorter than `minLength` are skipped.
   */
  owner?: { cookieOffset: number; tgidOffset: number; cgroupOffset: number; minLength: number };
}

/** Where a payload record keeps what the host needs to reassemble streams. */
export interface StreamLayout {
  kind: number;
  /** Bytes before the payload. */
  header: number;
  cookie: number;
  /** u8: 0 egress, 1 ingress. */
  direction: number;
  /** u32: bytes the call moved. */
  len: number;
  /** u32: bytes present after the header. */
  captured: number;
  /** u32: where this record starts within its call (calls carried across records). */
  offset?: number;
  /** u32: per connection and direction, calls so far (a jump is a lost call). */
  seq?: number;
  /** u64: when the probe saw the call (kernel monotonic ns); carried to decoders as the segment's `ts` marks. */
  ts?: number;
}

/** A ring of payload records: reassembled per (connection, direction), `gap` after a loss. */
export interface StreamRing {
  map: string;
  type: 'streams';
  layout: StreamLayout;
}

export type RingRoute = RecordRing | StreamRing;

/** Per-binary planning: the planner component and what it may ask for. */
export interface PlannerSpec {
  /** Component of world planner-plugin (or probe-plugin), relative to the package root. */
  component: string;
  /** Symbols the planner is shown (the rest of the binary's table never reaches it). */
  interest: { names?: string[]; prefixes?: string[] };
  /** Programs of the module's object a plan may attach; anything else refuses the plan. */
  programs: string[];
  /**
   * Programs attached while at least one binary carries this module's uprobes and
   * detached with the last one (hooks that only matter then, e.g. a socket join).
   */
  companions?: string[];
  /** Sandbox of a plan() call (defaults: 32 MiB, 500 ms). */
  limits?: InstanceLimits;
  /** Map (u32 slot -> bytes) that receives each binary's `config`; the slot is the cookie's high 32 bits. */
  configMap?: string;
}

/** Something the host runs on a timer and once at shutdown (after detaching). */
export interface PeriodicTask {
  name: string;
  /** Program the task runs; the task is skipped when the kernel refused it. */
  program?: string;
  intervalMs(ctx: ModuleContext): number;
  /** Returns how many items it handled (logged at shutdown). */
  run(obj: BpfObject): number;
}

export interface ProbeModule {
  /** `probe` of subscriptions, metric labels and logs. */
  name: string;
  /** False: skip this module for the run (say why in `whyNot`). */
  enabled(ctx: ModuleContext): boolean;
  /** Shown when the module is skipped. */
  whyNot?: string;
  /** The BPF object, static programs, constants and map sizes. */
  spec(ctx: ModuleContext): ProbeSpec;
  rings(ctx: ModuleContext): RingRoute[];
  /** Per-CPU u64 counters (`<probe>_stats` array), named by slot. `dropped` feeds lightfoot_events_lost_total. */
  stats?: { map: string; names: readonly string[] };
  planner?: PlannerSpec;
  periodic?: PeriodicTask;
  /**
   * Runs when the selection gains processes (start, a rescan found targets, a
   * pid or cgroup allowed at run time): take over what they already hold, e.g.
   * sockets opened before they were selected. Skipped when the kernel refused
   * one of `programs`. Returns how many items it took over.
   */
  onSelectionGrew?: { name: string; programs: string[]; run(obj: BpfObject): number };
  /** Needs tracefs mounted (classic tracepoints) for this run. */
  needsTracefs?(ctx: ModuleContext): boolean;
}
