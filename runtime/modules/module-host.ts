/**
 * Runs the enabled probe modules of a `lightfoot run`: loads each module's BPF
 * object, keeps the selection of every object in step (updatable at run time:
 * pids, comms, cgroups), routes rings to the decoders, runs periodic tasks,
 * reads kernel counters, and plans/attaches per-binary uprobes for modules
 * with a planner (with the exec watcher, so processes started later are
 * attached at their exec). Knows no protocol.
 */
import type { Registry } from 'prom-client';
import type { BpfObject, BinaryInfo, SymbolInterest } from '../native/binding';
import type { Logger } from '../log/logger';
import type { DecoderManager } from '../decoders/decoder-manager';
import type { SelfMetrics } from '../metrics/self-metrics';
import { probeKernelMetrics } from '../metrics/probe-kernel-metrics';
import { loadProbe, type LoadedProbe } from '../probes/probe-loader';
import { SelectionMaps } from '../probes/selection-maps';
import { readPerCpuCounters } from '../probes/kernel-stats';
import { walkBatch } from '../probes/batch';
import type { ModuleContext, ProbeModule } from './module';
import { RingPipeline, type OwnerSink } from './ring-pipeline';
import { ModulePlanner, type PlannerEngine } from './planner';
import { UprobeHost } from './uprobe-host';
import { LF_EXEC_EVENT_KIND, LF_EXEC_EVENT_OFFSETS } from './generated/exec-events';

export interface ModuleHostDeps {
  openObject: (file: string) => BpfObject;
  packageRoot: string;
  logger: Logger;
  manager: DecoderManager;
  registry: Registry;
  self: SelfMetrics;
  cpus: number;
  /** Needed only when a module plans per binary. */
  plannerEngine?: () => PlannerEngine;
  readBinaryInfo: (file: string, interest: SymbolInterest) => BinaryInfo;
  /** Kubernetes mode: learns each connection's owner from the records that declare one. */
  owners?: OwnerSink;
}

interface RunningModule {
  module: ProbeModule;
  probe: LoadedProbe;
  pipeline: RingPipeline;
  kernelStats?: () => Record<string, bigint>;
  timer?: NodeJS.Timeout;
}

const EXEC_OBJECT = 'dist/bpf/exec.bpf.o';

export class ModuleHost {
  private readonly running: RunningModule[] = [];
  private readonly selections: SelectionMaps[] = [];
  private exec?: { probe: LoadedProbe; reader: { stop(): void } };
  readonly uprobes: UprobeHost;
  private readonly log: Logger;

  constructor(
    modules: readonly ProbeModule[],
    private readonly ctx: ModuleContext,
    private readonly deps: ModuleHostDeps,
  ) {
    this.log = deps.logger.child('modules');
    const planning = [];
    try {
      for (const mod of modules) {
        if (!mod.enabled(ctx)) {
          this.log.info('probe module not loaded', { module: mod.name, reason: mod.whyNot ?? 'disabled for this run' });
          continue;
        }
        const r = this.load(mod);
        if (mod.planner) {
          const engine = deps.plannerEngine?.();
          if (!engine) throw new Error(`module ${mod.name} plans uprobes but no wasm engine is available`);
          planning.push({ module: mod, planner: new ModulePlanner(mod, engine, deps.packageRoot, deps.readBinaryInfo), object: r.probe.object });
        }
      }
      this.uprobes = new UprobeHost(planning, deps.logger.child('uprobes'));
      if (planning.length > 0) this.loadExecWatcher();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private load(mod: ProbeModule): RunningModule {
    const { deps, ctx } = this;
    const spec = mod.spec(ctx);
    const probe = loadProbe(spec, { openObject: deps.openObject, packageRoot: deps.packageRoot, logger: deps.logger });
    this.selections.push(new SelectionMaps(probe.object));
    for (const p of spec.programs) deps.self.programDisabled(mod.name, p.name, probe.disabled.some((d) => d.program === p.name));
    const pipeline = new RingPipeline(probe.object, mod.name, mod.rings(ctx), deps.manager, ctx.wantsStreams(mod.name), (n) => {
      deps.self.events(mod.name, n);
      deps.self.ringbufBatch(mod.name, n);
    }, deps.owners);
    const r: RunningModule = { module: mod, probe, pipeline };
    if (mod.stats) {
      const { map, names } = mod.stats;
      r.kernelStats = () => {
        const totals = readPerCpuCounters(probe.object, map, names.length, deps.cpus);
        return Object.fromEntries(totals.map((v, i) => [names[i], v]));
      };
      const read = r.kernelStats;
      // Registered before anything reads it: its reading also advances lightfoot_events_lost_total.
      probeKernelMetrics(deps.registry, mod.name, read, (stats) => deps.self.eventsLostTotal(mod.name, stats.dropped ?? 0n));
    }
    const task = mod.periodic;
    if (task && !probe.disabled.some((d) => d.program === task.program)) {
      const ms = task.intervalMs(ctx);
      if (ms > 0) r.timer = setInterval(() => this.runTask(r), ms);
    }
    this.running.push(r);
    return r;
  }

  private runTask(r: RunningModule): number {
    const task = r.module.periodic!;
    try {
      return task.run(r.probe.object);
    } catch (err) {
      this.log.warn(`periodic task failed: ${task.name}`, { module: r.module.name, reason: (err as Error).message });
      return 0;
    }
  }

  private loadExecWatcher(): void {
    const probe = loadProbe(
      {
        name: 'exec',
        object: EXEC_OBJECT,
        ringBuffer: 'lf_exec_events',
        programs: [{ name: 'lf_exec_seen', attach: { kind: 'auto' }, required: false, degrades: 'processes started later are attached at the next rescan, not at their exec' }],
        constants: {
          lf_cfg_select_all: Buffer.from([Number(this.ctx.selectAll)]),
          lf_cfg_filter_comm: Buffer.from([Number(this.ctx.filterComm)]),
          lf_cfg_filter_cgroup: Buffer.from([Number(this.ctx.filterCgroup)]),
          lf_cfg_self_tgid: u32(this.ctx.selfTgid),
        },
      },
      { openObject: this.deps.openObject, packageRoot: this.deps.packageRoot, logger: this.deps.logger },
    );
    this.selections.push(new SelectionMaps(probe.object));
    const reader = probe.object.openRingBuffer('lf_exec_events', { pollIntervalMs: 50, maxBatchBytes: 64 * 1024, maxPendingBatches: 4 }, (batch) => {
      walkBatch(batch, (buf, off, len) => {
        if (len < LF_EXEC_EVENT_OFFSETS.comm || buf[off] !== LF_EXEC_EVENT_KIND.LF_EXEC_EV_EXEC) return;
        const pid = buf.readUInt32LE(off + LF_EXEC_EVENT_OFFSETS.tgid);
        const ts = buf.readBigUInt64LE(off + LF_EXEC_EVENT_OFFSETS.ts_ns);
        this.uprobes.onExec(pid, ts);
      });
    });
    this.exec = { probe, reader };
  }

  // --- Selection, for every loaded object (at start and at run time). ---
  allowTgid(pid: number): void {
    for (const s of this.selections) s.allowTgid(pid);
    this.selectionGrew();
  }
  forgetTgid(pid: number): boolean {
    let had = false;
    for (const s of this.selections) had = s.forgetTgid(pid) || had;
    return had;
  }
  allowComm(comm: string): void {
    for (const s of this.selections) s.allowComm(comm);
    this.selectionGrew();
  }
  allowCgroup(id: bigint): void {
    for (const s of this.selections) s.allowCgroup(id);
    this.selectionGrew();
  }
  forgetCgroup(id: bigint): boolean {
    let had = false;
    for (const s of this.selections) had = s.forgetCgroup(id) || had;
    return had;
  }

  /** A selected process appeared (start or rescan): plan and attach its binaries. */
  targetAdded(pid: number): void {
    if (this.uprobes.active) this.uprobes.syncProcess(pid);
    this.selectionGrew();
  }

  private takeOverPending = false;
  /** Set by the first takeOver() (start-up, run by the daemon); later growth schedules walks. */
  private tookOver = false;
  /** Items the modules took over from processes selected so far (logged at ready). */
  takenOver = 0;

  /**
   * Runs every module's onSelectionGrew once per burst of changes (a push of
   * many pods, a rescan with many targets), right after the burst.
   */
  private selectionGrew(): void {
    // Before the first takeOver() (start-up) the daemon runs the walk itself, once.
    if (!this.tookOver || this.takeOverPending) return;
    this.takeOverPending = true;
    setImmediate(() => {
      this.takeOverPending = false;
      this.takenOver += this.takeOver();
    });
  }

  /** Runs the modules' take-over walks now; returns how many items they took over. */
  takeOver(): number {
    this.tookOver = true;
    let n = 0;
    for (const r of this.running) {
      const hook = r.module.onSelectionGrew;
      if (!hook || hook.programs.some((p) => r.probe.disabled.some((d) => d.program === p))) continue;
      try {
        n += hook.run(r.probe.object);
      } catch (err) {
        this.log.warn(`could not ${hook.name}`, { module: r.module.name, reason: (err as Error).message });
      }
    }
    return n;
  }

  /** A selected process exited: its last-user attachments detach. */
  targetExited(pid: number): void {
    if (this.uprobes.active) this.uprobes.processExited(pid);
  }

  /**
   * Rescan tick, after the target set's own rescan: libraries loaded later
   * (dlopen) get planned, and attachments of processes that are gone or no
   * longer selected (including short-lived ones a rescan never saw) let go.
   */
  resync(pids: readonly number[]): void {
    if (!this.uprobes.active) return;
    this.uprobes.retain(new Set(pids));
    for (const pid of pids) this.uprobes.syncProcess(pid);
  }

  names(): string[] {
    return this.running.map((r) => r.module.name);
  }

  disabledPrograms(): string[] {
    return this.running.flatMap((r) => r.probe.disabled.map((d) => `${r.module.name}/${d.program}`));
  }

  programStats(): { program: string; runTimeNs: number; runCount: number }[] {
    return this.running.flatMap((r) => r.probe.object.programStats().map((p) => ({ program: p.name, runTimeNs: p.runTimeNs, runCount: p.runCount })));
  }

  /**
   * Shutdown: detach so nothing new arrives, run the periodic tasks a last
   * time (e.g. the TCP flush), drain the rings. Returns the final counts.
   */
  async stop(): Promise<Record<string, unknown>> {
    this.exec?.reader.stop();
    this.uprobes.close();
    const finals: Record<string, unknown> = {};
    for (const r of this.running) {
      if (r.timer) clearInterval(r.timer);
      r.probe.detach();
    }
    for (const r of this.running) {
      const task = r.module.periodic;
      const usable = task && !r.probe.disabled.some((d) => d.program === task.program);
      const flushed = usable ? this.runTask(r) : undefined;
      r.pipeline.stop();
      finals[r.module.name] = { ...r.pipeline.stats, ...(flushed !== undefined ? { flushed } : {}) };
    }
    await new Promise((res) => setTimeout(res, 50)); // batches queued for JS before stop()
    for (const r of this.running) {
      if (!r.kernelStats) continue;
      const k = r.kernelStats();
      this.deps.self.eventsLostTotal(r.module.name, k.dropped ?? 0n);
      finals[r.module.name] = { ...(finals[r.module.name] as object), kernel: Object.fromEntries(Object.entries(k).map(([n, v]) => [n, Number(v)])) };
    }
    return finals;
  }

  close(): void {
    this.exec?.reader.stop();
    this.exec?.probe.close();
    this.exec = undefined;
    this.uprobes?.close();
    for (const r of this.running.splice(0)) {
      if (r.timer) clearInterval(r.timer);
      r.pipeline.stop();
      r.probe.close();
    }
  }
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
