/**
 * `lightfoot run`: select processes, load the enabled probe modules
 * (probes/index.ts; the host knows no protocol), hand their records and
 * streams to the decoders (WebAssembly components), serve their metrics and
 * event lines, and tear everything down on SIGINT/SIGTERM.
 */
import { Registry } from 'prom-client';
import type { RunOptions } from '../cli/options';
import { formatAddr } from '../cli/options';
import { UsageError } from '../errors';
import { createLogger, type Logger } from '../log/logger';
import { createEventWriter } from '../log/event-writer';
import { eventLineDecorator } from '../log/line-decorator';
import { selfMetrics } from '../metrics/self-metrics';
import { startMetricsServer } from '../metrics/server';
import { probeKernelMetrics } from '../metrics/probe-kernel-metrics';
import { resolveCgroup } from '../targets/cgroup';
import { createProcFs } from '../targets/proc';
import { TargetSet } from '../targets/target-set';
import { mountsOfType } from '../system/kernel';
import { builtinDecoders, resolveDecoderSources } from '../decoders/manifest';
import { engineOptionsFor, loadNativeEngine } from '../decoders/engine';
import { DecoderManager } from '../decoders/decoder-manager';
import { packageRoot } from '../package-root';
import { PROBE_MODULES } from '../../probes/index';
import type { ModuleContext } from '../modules/module';
import { ModuleHost } from '../modules/module-host';
import type { PlannerEngine } from '../modules/planner';
import { MonotonicClock } from './clock';
import { KubernetesMode } from './kubernetes';
import { openExport } from './export';
import { preflight } from './preflight';

const TRACEFS = '/sys/kernel/tracing';


function waitForSignal(log: Logger): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (sig: string): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      log.info('shutting down', { signal: sig });
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

export async function runDaemon(opts: RunOptions): Promise<number> {
  const unknownCapture = opts.capture.filter((c) => c !== 'all' && !PROBE_MODULES.some((m) => m.name === c));
  if (unknownCapture.length > 0) {
    throw new UsageError(`--capture ${unknownCapture.join(',')}: no such probe`, { hint: `probes: ${PROBE_MODULES.map((m) => m.name).join(', ')} (or all, none)` });
  }
  const exported = opts.export ? openExport(opts.export) : undefined;
  const logger = createLogger({ format: opts.logFormat, level: opts.logLevel, sink: exported?.diagnostics });
  const log = logger.child('daemon');
  preflight();
  // Kubernetes mode: reads the token file now, so a bad one fails before anything loads.
  const kube = opts.control ? new KubernetesMode(opts.control, logger) : undefined;

  // Targets and decoder sources first: bad flags fail before anything is loaded.
  const cgroups = opts.cgroups.map((c) => resolveCgroup(c));
  const targets = new TargetSet({
    selectors: { pids: opts.pids, comms: opts.comms, cgroupPaths: cgroups.map((c) => c.cgroupPath), all: opts.all },
    procFs: createProcFs(),
    logger: logger.child('targets'),
  });
  targets.rescan();
  const sources = resolveDecoderSources({
    builtins: builtinDecoders(packageRoot()),
    dirs: opts.decoderDirs,
    configFile: opts.decoderConfig,
  });

  const registry = new Registry();
  const events = opts.events
    ? createEventWriter({ format: opts.logFormat, logger, sink: exported?.events, decorate: exported || kube || opts.logFormat === 'cloud' ? eventLineDecorator({ cloud: opts.logFormat === 'cloud', identities: kube?.identities }) : undefined })
    : undefined;
  const engine = loadNativeEngine(engineOptionsFor(sources));
  const manager = new DecoderManager({
    engine,
    sources,
    registry,
    logger: logger.child('decoders'),
    events,
    wallClock: new MonotonicClock(),
    maxSeries: opts.maxSeries,
    labeler: kube?.labeler,
  });

  // Loaded lazily: `lightfoot --help` must work without the addon.
  const native = require('../native/binding') as typeof import('../native/binding');
  native.setLogHandler((level, line) => {
    if (level === 'warn') logger.child('libbpf').warn(line.trimEnd());
    else logger.child('libbpf').debug(line.trimEnd());
  });
  // A probe's payload is captured only when a decoder wants it and --capture allows it.
  const captureAllowed = (p: string): boolean => opts.capture.includes('all') || opts.capture.includes(p);
  const ctx: ModuleContext = {
    selectAll: opts.all,
    filterComm: opts.comms.length > 0,
    filterCgroup: cgroups.length > 0 || kube !== undefined,
    selfTgid: process.pid,
    ringBufferBytes: opts.ringBufferBytes,
    flushIntervalMs: opts.flushIntervalMs,
    ...(opts.captureBytes !== undefined ? { captureBytes: opts.captureBytes } : {}),
    subscribed: (p) => manager.subscribes(p),
    wantsStreams: (p) => captureAllowed(p) && manager.wantsStreams(p),
  };
  const uncaptured = PROBE_MODULES.filter((m) => manager.wantsStreams(m.name) && !captureAllowed(m.name)).map((m) => m.name);
  if (uncaptured.length > 0) {
    log.info(`payload capture off for ${uncaptured.join(', ')} (--capture): stream decoders see nothing of it`, {
      hint: `add --capture ${[...opts.capture, ...uncaptured].join(',')} to decode it (cleartext TCP capture costs every process on the host: docs/benchmarks.md)`,
    });
  }
  for (const m of PROBE_MODULES.filter((x) => x.enabled(ctx) && !manager.subscribes(x.name))) {
    // A module's metrics come from its decoders (the built-in ones included): without one there are none.
    log.warn(`no decoder handles the ${m.name} probe: its metrics and event lines will be missing`, {
      decoders: manager.status().map((d) => ({ name: d.label, state: d.state, refusal: d.refusal?.message })),
      hint: `run \`npm run build\` (it builds dist/probes/${m.name}/decoder.wasm); \`lightfoot decoders list\` shows why a decoder was refused`,
    });
  }
  if (PROBE_MODULES.some((m) => m.enabled(ctx) && m.needsTracefs?.(ctx)) && mountsOfType('tracefs').length === 0) {
    // Classic tracepoints (payload capture) are found by libbpf through tracefs.
    native.mountTracefs(TRACEFS);
    log.info('mounted tracefs for payload capture', { path: TRACEFS });
  }
  // Off by default: the kernel then times every run of every BPF program.
  let runStats: { close(): void } | undefined;
  if (opts.bpfStats) {
    try {
      runStats = native.enableRunTimeStats();
    } catch (err) {
      log.warn('BPF run-time statistics unavailable', { reason: (err as Error).message });
    }
  }

  let modules: ModuleHost | undefined;
  // Before the self-metrics: reading the kernel counters also advances lightfoot_events_lost_total.
  probeKernelMetrics(registry);
  const self = selfMetrics(registry, {
    logger,
    targetCount: () => targets.size,
    programStats: () => modules?.programStats() ?? [],
  });
  modules = new ModuleHost(PROBE_MODULES, ctx, {
    openObject: (f) => native.BpfObject.open(f),
    packageRoot: packageRoot(),
    logger,
    manager,
    registry,
    self,
    cpus: native.possibleCpus(),
    plannerEngine: () => engine as unknown as PlannerEngine,
    readBinaryInfo: native.readBinaryInfo,
    owners: kube?.owners,
  });
  const host = modules;
  for (const pid of opts.pids) host.allowTgid(pid);
  for (const comm of opts.comms) host.allowComm(comm);
  for (const cg of cgroups) host.allowCgroup(cg.id);
  for (const t of targets.current()) host.targetAdded(t.pid);
  kube?.attach(host, cgroups.map((c) => c.id), registry);
  // Sockets the selected processes already hold; new ones are claimed by the kernel hooks.
  const preexisting = host.takeOver();

  let server: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    server = await startMetricsServer({ ...opts.metricsAddr, registry, logger });
    await kube?.start();
    const tick = (): void => {
      kube?.rescan();
      const diff = targets.rescan();
      for (const t of diff.added) {
        log.info('target added', { pid: t.pid, comm: t.comm, reason: t.reason });
        host.targetAdded(t.pid);
      }
      for (const t of diff.exited) {
        log.info('target exited', { pid: t.pid, comm: t.comm });
        if (t.reason === 'pid') host.forgetTgid(t.pid);
        host.targetExited(t.pid);
      }
      host.resync(targets.current().map((t) => t.pid));
    };
    timer = setInterval(tick, opts.rescanIntervalMs);
    log.info('lightfoot ready', {
      metrics: `http://${formatAddr(server.address)}/metrics`,
      probes: host.names(),
      disabledPrograms: host.disabledPrograms(),
      decoders: manager.status().map((d) => ({ name: d.label, state: d.state })),
      payloadCapture: PROBE_MODULES.filter((m) => ctx.wantsStreams(m.name)).map((m) => m.name),
      uprobes: host.uprobes.current(),
      preexistingSockets: preexisting,
      targets: targets.current().map((t) => ({ pid: t.pid, comm: t.comm })),
      ...(kube ? { control: kube.controlUrl } : {}),
    });
    kube?.ready();
    await waitForSignal(log);
  } finally {
    if (timer) clearInterval(timer);
    // Detach first so nothing new arrives, report the counters of connections
    // still open, drain what the rings hold, let the decoders finish.
    const finals = await host.stop();
    await manager.flush();
    log.info('final counts', finals);
    manager.close();
    host.close();
    runStats?.close();
    native.setLogHandler(null);
    await server?.close();
    await kube?.close();
    exported?.close();
  }
  return 0;
}
