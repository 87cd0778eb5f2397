// `lightfoot decoders list` and `lightfoot decoders verify`: one-shot loads of
// decoder components with the wasm engine only (no BPF, no root). list shows
// what `run` would load; verify checks one file against the WIT world and
// prints what it declares, or fails with one line.

import * as fs from 'node:fs';
import { Registry } from 'prom-client';
import { ConfigError, UsageError } from '../errors';
import { nullLogger } from '../log/logger';
import { selfMetrics } from '../metrics/self-metrics';
import { packageRoot } from '../package-root';
import { emptyBatch } from '../decoders/batch-encoder';
import { DEFAULT_LIMITS, isSha256Hex } from '../decoders/config';
import { formatSubscriptions } from '../decoders/decoder-info';
import { DecoderHost } from '../decoders/decoder-host';
import { DecoderManager, type DecoderStatus } from '../decoders/decoder-manager';
import { engineOptionsFor, loadNativeEngine, type DecoderEngine, type MetricDecl } from '../decoders/engine';
import { builtinDecoders, resolveDecoderSources, type BuiltinDecoder, type ManifestFs } from '../decoders/manifest';
import { DecoderMetricRegistry } from '../decoders/metric-registry';
import { decoderSelfMetrics } from '../decoders/self-metrics';
import type { ProbeModule } from '../modules/module';
import { PROBE_MODULES } from '../../probes/index';

export interface DecodersListOptions {
  decoderDirs: string[];
  configFile?: string;
  json: boolean;
  /** Also list the built-in decoders (default true). */
  builtins?: boolean;
}

export interface DecodersVerifyOptions {
  file: string;
  sha256?: string;
  json: boolean;
}

/** Injected for tests; defaults are the real engine, files and package layout. */
export interface DecodersCommandDeps {
  writeOut: (text: string) => void;
  engine?: () => DecoderEngine;
  builtins?: () => BuiltinDecoder[];
  readFile?: (p: string) => Buffer;
  manifestFs?: ManifestFs;
  /** Probe modules to show after the decoders (default: the daemon's list, unless `builtins` is injected). */
  modules?: () => readonly ProbeModule[];
}

/** One-shot commands run without root: no persistent compilation cache under /var/cache. */
const CLI_ENGINE = { cacheDir: '' };

function defaultBuiltins(): BuiltinDecoder[] {
  try {
    return builtinDecoders(packageRoot());
  } catch {
    return []; // no package layout (e.g. bundled): no built-ins
  }
}

/** A registry holding lightfoot's own metrics, so clashes with them are caught.
 * (TCP metrics belong to the built-in tcp decoder, which is loaded like any other.) */
function hostRegistry(): Registry {
  const registry = new Registry();
  selfMetrics(registry, { defaultMetrics: false });
  return registry;
}

export async function decodersList(opts: DecodersListOptions, deps: DecodersCommandDeps): Promise<number> {
  const sources = resolveDecoderSources({
    builtins: opts.builtins === false ? [] : (deps.builtins ?? defaultBuiltins)(),
    dirs: opts.decoderDirs,
    configFile: opts.configFile,
    fs: deps.manifestFs,
  });
  if (sources.length === 0) {
    if (opts.json) deps.writeOut('[]\n');
    else deps.writeOut('no decoders: none built in (dist/probes/*/decoder.wasm) and none given with --decoders or --config\n');
    return 0;
  }
  const manager = new DecoderManager({
    engine: (deps.engine ?? (() => loadNativeEngine(engineOptionsFor(sources, CLI_ENGINE))))(),
    sources,
    registry: hostRegistry(),
    logger: nullLogger,
    mode: 'sync',
    schedule: () => {},
    readFile: deps.readFile,
  });
  const status = manager.status();
  manager.close();
  const modules = (deps.modules ?? (() => (deps.builtins ? [] : PROBE_MODULES)))();
  deps.writeOut(opts.json ? `${JSON.stringify(status.map(jsonStatus), null, 2)}\n` : formatTable(status) + formatModules(modules));
  return 0;
}

/** Which probe modules exist and which of them plan uprobes per binary (`lightfoot inspect` shows the plans). */
function formatModules(modules: readonly ProbeModule[]): string {
  if (modules.length === 0) return '';
  let out = '\nprobe modules:\n';
  for (const m of modules) {
    out += m.planner
      ? `  ${m.name.padEnd(10)} plans uprobes per binary: planner ${m.planner.component}, looks for ${[...(m.planner.interest.names ?? []), ...(m.planner.interest.prefixes ?? []).map((p) => `${p}*`)].join(', ')}\n`
      : `  ${m.name.padEnd(10)} kernel hooks only (no per-binary planning)\n`;
  }
  return out;
}

function jsonStatus(s: DecoderStatus): Record<string, unknown> {
  return {
    name: s.name ?? null,
    version: s.version ?? null,
    state: s.state,
    faults: s.faults,
    sha256: s.sha256 ?? null,
    subscriptions: s.subscriptions,
    path: s.path,
    from: s.from,
    limits: s.limits,
    ...(s.refusal ? { refused: s.refusal.message, hint: s.refusal.hint } : {}),
  };
}

function formatTable(status: DecoderStatus[]): string {
  const rows = [['NAME', 'VERSION', 'STATE', 'FAULTS', 'SUBSCRIPTIONS', 'SHA256', 'FROM']];
  const notes = new Map<number, string>();
  for (const s of status) {
    rows.push([
      s.name ?? s.label,
      s.version ?? '-',
      s.state,
      String(s.faults),
      s.subscriptions.length > 0 ? formatSubscriptions({ subscriptions: s.subscriptions }) : '-',
      s.sha256 ? s.sha256.slice(0, 12) : '-',
      s.from,
    ]);
    if (s.refusal) notes.set(rows.length - 1, `    ${s.path}: ${s.refusal.message} (${s.refusal.hint})`);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  let out = '';
  rows.forEach((r, i) => {
    out += r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ') + '\n';
    const note = notes.get(i);
    if (note) out += note + '\n';
  });
  return out;
}

export async function decodersVerify(opts: DecodersVerifyOptions, deps: DecodersCommandDeps): Promise<number> {
  if (opts.sha256 !== undefined && !isSha256Hex(opts.sha256)) {
    throw new UsageError(`--sha256 ${JSON.stringify(opts.sha256)}: expected 64 hex digits`, {
      hint: `compute it with \`sha256sum ${opts.file}\``,
    });
  }
  const registry = hostRegistry();
  const self = decoderSelfMetrics(registry);
  const source = {
    path: opts.file,
    origin: 'config' as const,
    requirePinned: false,
    enabled: true,
    limits: { ...DEFAULT_LIMITS },
    from: 'the command line',
    ...(opts.sha256 !== undefined ? { sha256: opts.sha256.toLowerCase() } : {}),
  };
  const host = new DecoderHost({
    source,
    engine: (deps.engine ?? (() => loadNativeEngine(CLI_ENGINE)))(),
    metrics: new DecoderMetricRegistry({ registry, maxSeries: 1000 }),
    self,
    logger: nullLogger,
    mode: 'sync',
    readFile: deps.readFile ?? ((p) => fs.readFileSync(p)),
  });
  if (!host.load()) {
    throw new ConfigError(`${opts.file}: refused: ${host.refusal!.message}`, { hint: host.refusal!.hint });
  }
  const info = host.info!;
  // Smoke test: an empty batch per subscribed probe must not fault.
  const smoke: { probe: string; result: string }[] = [];
  for (const sub of info.subscriptions) {
    const outcome = host.decode(emptyBatch(sub.probe), 0);
    if (outcome instanceof Promise) throw new Error('sync host returned a promise (bug)');
    if (!outcome.ok && outcome.reason !== 'decode_error') {
      host.close();
      throw new ConfigError(`${opts.file}: decoding an empty ${sub.probe} batch failed: ${outcome.reason}: ${outcome.message}`, {
        hint: 'a decoder must accept any well-formed batch; see sdk/docs/batch-format.md',
      });
    }
    smoke.push({ probe: sub.probe, result: outcome.ok ? 'ok' : `decode-error ${outcome.message}` });
  }
  host.close();

  if (opts.json) {
    deps.writeOut(`${JSON.stringify({ file: opts.file, valid: true, sha256: host.sha256, ...info, smoke }, null, 2)}\n`);
    return 0;
  }
  let out = `${opts.file}: valid lightfoot decoder\n`;
  out += `  name           ${info.name}\n`;
  out += `  version        ${info.version}\n`;
  out += `  sha256         ${host.sha256}\n`;
  out += `  subscriptions  ${formatSubscriptions(info)}\n`;
  out += `  metrics        ${info.metrics.length === 0 ? 'none' : ''}\n`;
  for (const m of info.metrics) out += `    ${formatMetric(m)}\n`;
  for (const s of smoke) out += `  empty ${s.probe} batch: ${s.result}\n`;
  deps.writeOut(out);
  return 0;
}

function formatMetric(m: MetricDecl): string {
  const labels = m.labels.length > 0 ? `{${m.labels.join(',')}}` : '';
  const buckets = m.kind === 'histogram' ? ` buckets [${m.buckets.join(', ')}]` : '';
  return `${m.name}${labels}  ${m.kind}${buckets}  ${m.help}`;
}
