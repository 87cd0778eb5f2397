// Validation of `lightfoot watcher` flags into WatcherOptions. Pure: every
// rule is unit-tested; each error names the flag and how to fix it.

import * as os from 'node:os';
import { UsageError } from '../errors';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log/logger';
import { parseMetricsAddr, type MetricsAddr } from '../cli/options';

export interface WatcherOptions {
  kubeconfig?: string;
  /** Label selector of the pods to monitor. */
  selector: string;
  includeNamespaces: string[];
  excludeNamespaces: string[];
  /** Pod label keys copied to the desired set for metric enrichment. */
  podLabels: string[];
  daemonSelector: string;
  daemonNamespace: string;
  daemonPortName: string;
  daemonTls: boolean;
  daemonCa?: string;
  tokenFile: string;
  leaseName: string;
  leaseNamespace: string;
  leaseDurationSeconds: number;
  renewIntervalMs: number;
  identity: string;
  resyncIntervalMs: number;
  metricsAddr: MetricsAddr;
  logFormat: LogFormat;
  logLevel: LogLevel;
}

export interface RawWatcherOptions {
  kubeconfig?: string;
  selector?: string;
  namespace?: string[];
  excludeNamespace?: string[];
  podLabel?: string[];
  daemonSelector?: string;
  daemonNamespace?: string;
  daemonPortName?: string;
  daemonTls?: boolean;
  daemonCa?: string;
  tokenFile?: string;
  leaseName?: string;
  leaseNamespace?: string;
  leaseDuration?: string;
  renewIntervalMs?: string;
  identity?: string;
  resyncIntervalMs?: string;
  metricsAddr?: string;
  logFormat?: string;
  logLevel?: string;
}

export const WATCHER_DEFAULTS = {
  selector: 'lightfoot=enable',
  daemonSelector: 'app.kubernetes.io/name=lightfoot,app.kubernetes.io/component=daemon',
  daemonPortName: 'control',
  leaseName: 'lightfoot-watcher',
  leaseDurationSeconds: 15,
  renewIntervalMs: 5_000,
  resyncIntervalMs: 30_000,
  metricsAddr: '0.0.0.0:9465',
} as const;

const HELP = 'see `lightfoot watcher --help`';
// RFC 1123 label (namespaces) and a qualified label key (prefix/name).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
// Selector syntax is checked by the API server; catch what it cannot explain well.
const SELECTOR = /^[A-Za-z0-9_.\-/=!,() ]*$/;

export function parseWatcherOptions(raw: RawWatcherOptions, env: NodeJS.ProcessEnv = process.env, stderrIsTTY = false): WatcherOptions {
  if (raw.tokenFile === undefined || raw.tokenFile.trim() === '') {
    throw new UsageError('--token-file is required', {
      hint: 'pass the file holding the control-API token the daemons use (the chart mounts its Secret at /var/run/lightfoot/token)',
    });
  }
  const defaultNs = env.POD_NAMESPACE && DNS_LABEL.test(env.POD_NAMESPACE) ? env.POD_NAMESPACE : 'default';
  const daemonNamespace = parseNamespace('--daemon-namespace', raw.daemonNamespace ?? defaultNs);
  const opts: WatcherOptions = {
    selector: parseSelector('--selector', raw.selector ?? WATCHER_DEFAULTS.selector),
    includeNamespaces: [...new Set((raw.namespace ?? []).flatMap(splitList).map((n) => parseNamespace('--namespace', n)))],
    excludeNamespaces: [...new Set((raw.excludeNamespace ?? []).flatMap(splitList).map((n) => parseNamespace('--exclude-namespace', n)))],
    podLabels: [...new Set((raw.podLabel ?? []).flatMap(splitList).map(parseLabelKey))],
    daemonSelector: parseSelector('--daemon-selector', raw.daemonSelector ?? WATCHER_DEFAULTS.daemonSelector),
    daemonNamespace,
    daemonPortName: raw.daemonPortName ?? WATCHER_DEFAULTS.daemonPortName,
    daemonTls: raw.daemonTls === true,
    tokenFile: raw.tokenFile,
    leaseName: parseNamespace('--lease-name', raw.leaseName ?? WATCHER_DEFAULTS.leaseName),
    leaseNamespace: parseNamespace('--lease-namespace', raw.leaseNamespace ?? daemonNamespace),
    leaseDurationSeconds: parseInteger('--lease-duration', raw.leaseDuration, WATCHER_DEFAULTS.leaseDurationSeconds, 1, 3600),
    renewIntervalMs: parseInteger('--renew-interval-ms', raw.renewIntervalMs, WATCHER_DEFAULTS.renewIntervalMs, 100, 600_000),
    identity: raw.identity ?? `${env.POD_NAME || os.hostname()}_${process.pid}`,
    resyncIntervalMs: parseInteger('--resync-interval-ms', raw.resyncIntervalMs, WATCHER_DEFAULTS.resyncIntervalMs, 100, 3_600_000),
    metricsAddr: parseMetricsAddr(raw.metricsAddr ?? WATCHER_DEFAULTS.metricsAddr),
    logFormat: parseChoice('--log-format', raw.logFormat, LOG_FORMATS, stderrIsTTY ? 'pretty' : 'json'),
    logLevel: parseChoice('--log-level', raw.logLevel, LOG_LEVELS, 'info'),
  };
  if (opts.renewIntervalMs >= opts.leaseDurationSeconds * 1000) {
    throw new UsageError(`--renew-interval-ms ${opts.renewIntervalMs} must be shorter than --lease-duration ${opts.leaseDurationSeconds}s`, {
      hint: 'renew about three times per lease duration, e.g. --lease-duration 15 --renew-interval-ms 5000',
    });
  }
  const both = opts.includeNamespaces.filter((n) => opts.excludeNamespaces.includes(n));
  if (both.length > 0) {
    throw new UsageError(`namespace ${both[0]} is both included and excluded`, { hint: 'drop it from --namespace or --exclude-namespace' });
  }
  if (raw.kubeconfig !== undefined) opts.kubeconfig = raw.kubeconfig;
  if (raw.daemonCa !== undefined) {
    if (!opts.daemonTls) throw new UsageError('--daemon-ca needs --daemon-tls', { hint: 'add --daemon-tls, or drop --daemon-ca' });
    opts.daemonCa = raw.daemonCa;
  }
  return opts;
}

function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function parseNamespace(flag: string, text: string): string {
  if (!DNS_LABEL.test(text)) {
    throw new UsageError(`${flag} ${JSON.stringify(text)}: not a valid name`, {
      hint: 'use lower-case letters, digits and "-" (at most 63 characters, starting and ending with a letter or digit)',
    });
  }
  return text;
}

function parseLabelKey(text: string): string {
  if (!LABEL_KEY.test(text)) {
    throw new UsageError(`--pod-label ${JSON.stringify(text)}: not a label key`, {
      hint: 'use a Kubernetes label key such as app or app.kubernetes.io/name',
    });
  }
  return text;
}

function parseSelector(flag: string, text: string): string {
  if (text.trim() === '' || !SELECTOR.test(text)) {
    throw new UsageError(`${flag} ${JSON.stringify(text)}: not a label selector`, {
      hint: 'use Kubernetes selector syntax, e.g. lightfoot=enable or app in (a,b),tier!=db',
    });
  }
  return text;
}

function parseChoice<T extends string>(flag: string, text: string | undefined, choices: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw new UsageError(`${flag} ${JSON.stringify(text)}: unknown value`, { hint: `use one of: ${choices.join(', ')}` });
}

function parseInteger(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max) {
    throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a whole number from ${min} to ${max}`, { hint: `${HELP}; the default is ${fallback}` });
  }
  return n;
}
