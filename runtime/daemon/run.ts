/**
 * `lightfoot run`: select processes, load the TCP probe, hand its records to
 * the protocol decoders (WebAssembly components; the TCP one is built in),
 * serve their metrics and event lines, and tear everything down on
 * SIGINT/SIGTERM.
 */
import { Registry } from 'prom-client';
import type { RunOptions } from '../cli/options';
import { formatAddr } from '../cli/options';
import { createLogger, type Logger } from '../log/logger';
import { createEventWriter } from '../log/event-writer';
import { eventLineDecorator } from '../log/line-decorator';
import { selfMetrics } from '../metrics/self-metrics';
import { probeKernelMetrics } from '../metrics/probe-kernel-metrics';
import { startMetricsServer } from '../metrics/server';
import { resolveCgroup } from '../targets/cgroup';
import { createProcFs } from '../targets/proc';
import { TargetSet } from '../targets/target-set';
import { loadProbe } from '../probes/probe-loader';
import { SelectionMaps } from '../probes/selection-maps';
import { readPerCpuCounters } from '../probes/kernel-stats';
import { mountsOfType } from '../system/kernel';
import { builtinDecoders, resolveDecoderSources } from '../decoders/manifest';
import { engineOptionsFor, loadNativeEngine } from '../decoders/engine';
import { DecoderManager } from '../decoders/decoder-manager';
import { packageRoot } from '../package-root';
import { TCP_FLUSH_ITERATOR, TCP_SOCKETS_MAP, TCP_STATS_MAP, tcpProbe } from '../../probes/tcp/manifest';
import { LF_TCP_STAT } from '../../probes/tcp/generated/events';
import { TcpPipeline } from './tcp-pipeline';
import { MonotonicClock } from './clock';
import { preflight } from './preflight';
import { KubernetesMode } from './kubernetes';
import { openExport } from './export';

const TRACEFS = '/sys/kernel/tracing';

const STAT_NAMES: Record<number, string> = {
  [LF_TCP_STAT.LF_TCP_STAT_EMITTED]: 'emitted',
  [LF_TCP_STAT.LF_TCP_STAT_DROPPED]: 'dropped',
  [LF_TCP_STAT.LF_TCP_STAT_TRACKED]: 'tracked',
  [LF_TCP_STAT.LF_TCP_STAT_FILTERED]: 'filtered',
  [LF_TCP_STAT.LF_TCP_STAT_MAP_FULL]: 'map_full',
  [LF_TCP_STAT.LF_TCP_STAT_DATA_EMITTED]: 'data_emitted',
  [LF_TCP_STAT.LF_TCP_STAT_DATA_DROPPED]: 'data_dropped',
};

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
  const manager = new DecoderManager({
    engine: loadNativeEngine(engineOptionsFor(sources)),
    sources,
    registry,
    logger: logger.child('decoders'),
    events,
    wallClock: new MonotonicClock(),
    maxSeries: opts.maxSeries,
    labeler: kube?.labeler,
  });
  if (!manager.subscribes('tcp')) {
    // The TCP metrics come from the built-in tcp decoder: without it there are none.
    log.warn('no decoder handles the tcp probe: TCP metrics and event lines will be missing', {
      decoders: manager.status().map((d) => ({ name: d.label, state: d.state, refusal: d.refusal?.message })),
      hint: 'run `npm run build` (it builds dist/probes/tcp/decoder.wasm); `lightfoot decoders list` shows why a decoder was refused',
    });
  }
  const streams = manager.wantsStreams('tcp');

  // Loaded lazily: `lightfoot --help` must work without the addon.
  const native = require('../native/binding') as typeof import('../native/binding');
  native.setLogHandler((level, line) => {
    if (level === 'warn') logger.child('libbpf').warn(line.trimEnd());
    else logger.child('libbpf').debug(line.trimEnd());
  });
  if (streams && mountsOfType('tracefs').length === 0) {
    // Payload capture uses classic syscall tracepoints, which libbpf finds through tracefs.
    native.mountTracefs(TRACEFS);
    log.info('mounted tracefs for payload capture', { path: TRACEFS });
  }
  const spec = tcpProbe({
    selectAll: opts.all,
    filterComm: opts.comms.length > 0,
    filterCgroup: cgroups.length > 0 || kube !== undefined,
    selfTgid: process.pid,
    ringBufferBytes: opts.ringBufferBytes,
    captureData: streams,
  });
  const probe = loadProbe(spec, { openObject: (f) => native.BpfObject.open(f), packageRoot: packageRoot(), logger });
  // Off by default: the kernel then times every run of every BPF program.
  let runStats: { close(): void } | undefined;
  if (opts.bpfStats) {
    try {
      runStats = native.enableRunTimeStats();
    } catch (err) {
      log.warn('BPF run-time statistics unavailable', { reason: (err as Error).message });
    }
  }

  const selection = new SelectionMaps(probe.object);
  for (const pid of opts.pids) selection.allowTgid(pid);
  for (const comm of opts.comms) selection.allowComm(comm);
  for (const cg of cgroups) selection.allowCgroup(cg.id);
  kube?.attach(selection, cgroups.map((c) => c.id), registry);

  const cpus = native.possibleCpus();
  const kernelStats = (): Record<string, bigint> => {
    const totals = readPerCpuCounters(probe.object, TCP_STATS_MAP, LF_TCP_STAT.LF_TCP_STAT_MAX, cpus);
    return Object.fromEntries(totals.map((v, i) => [STAT_NAMES[i], v]));
  };
  // Registered before the self-metrics: its reading also advances lightfoot_events_lost_total.
  probeKernelMetrics(registry, spec.name, kernelStats, (stats) => self.eventsLostTotal(spec.name, stats.dropped));
  const self = selfMetrics(registry, {
    logger,
    targetCount: () => targets.size,
    programStats: () =>
      probe.object.programStats().map((p) => ({ program: p.name, runTimeNs: p.runTimeNs, runCount: p.runCount })),
  });
  for (const p of spec.programs) self.programDisabled(spec.name, p.name, probe.disabled.some((d) => d.program === p.name));

  // Counters of live connections (idle ones too) are reported by walking the
  // tracked sockets, never from the send/recv path. Returns how many there were.
  const canFlush = !probe.disabled.some((d) => d.program === TCP_FLUSH_ITERATOR);
  const flushOpenConnections = (): number => {
    if (!canFlush) return 0;
    try {
      return probe.object.runIterator(TCP_FLUSH_ITERATOR, TCP_SOCKETS_MAP).length / 8; // one cookie each
    } catch (err) {
      log.warn('could not flush the counters of open connections', { reason: (err as Error).message });
      return 0;
    }
  };

  const pipeline = new TcpPipeline(probe.object, manager, (n) => {
    self.events(spec.name, n);
    self.ringbufBatch(spec.name, n);
  }, streams, kube?.owners);

  let server: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  try {
    server = await startMetricsServer({ ...opts.metricsAddr, registry, logger });
    await kube?.start();
    const tick = (): void => {
      kube?.rescan();
      const diff = targets.rescan();
      for (const t of diff.added) log.info('target added', { pid: t.pid, comm: t.comm, reason: t.reason });
      for (const t of diff.exited) {
        log.info('target exited', { pid: t.pid, comm: t.comm });
        if (t.reason === 'pid') selection.forgetTgid(t.pid);
      }
    };
    timer = setInterval(tick, opts.rescanIntervalMs);
    flushTimer = setInterval(flushOpenConnections, opts.flushIntervalMs);
    log.info('lightfoot ready', {
      metrics: `http://${formatAddr(server.address)}/metrics`,
      probes: [spec.name],
      disabledPrograms: probe.disabled.map((d) => d.program),
      decoders: manager.status().map((d) => ({ name: d.label, state: d.state })),
      payloadCapture: streams,
      targets: targets.current().map((t) => ({ pid: t.pid, comm: t.comm })),
      ...(kube ? { control: kube.controlUrl } : {}),
    });
    kube?.ready();
    await waitForSignal(log);
  } finally {
    if (timer) clearInterval(timer);
    if (flushTimer) clearInterval(flushTimer);
    // Detach first so nothing new arrives, report the counters of connections
    // still open, drain what the rings hold, let the decoders finish.
    probe.detach();
    const open = flushOpenConnections();
    pipeline.stop();
    await new Promise((r) => setTimeout(r, 50)); // batches queued for JS before stop()
    await manager.flush();
    const final = kernelStats();
    self.eventsLostTotal(spec.name, final.dropped);
    log.info('final counts', {
      eventsEmitted: Number(final.emitted),
      eventsDropped: Number(final.dropped),
      eventsDecoded: pipeline.stats.records,
      openConnectionsFlushed: open,
      payloadSegments: pipeline.stats.segments,
    });
    manager.close();
    probe.close();
    runStats?.close();
    native.setLogHandler(null);
    await kube?.close();
    await server?.close();
    exported?.close();
  }
  return 0;
}
