// Validation of `lightfoot run` flags into a typed RunOptions. Pure (no I/O)
// so every rule is unit-tested; each error names the flag and how to fix it.

import * as os from 'node:os';
import { UsageError } from '../errors';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log/logger';

export interface MetricsAddr {
  /** Host without brackets: "127.0.0.1", "::1", "localhost". */
  host: string;
  /** 0 asks the kernel for a free port. */
  port: number;
}

export interface RunOptions {
  pids: number[];
  comms: string[];
  /** Cgroup paths as given (absolute or relative to the cgroup v2 mount); resolved later. */
  cgroups: string[];
  all: boolean;
  metricsAddr: MetricsAddr;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** Cardinality cap per metric family. */
  maxSeries: number;
  /** How often counters of long-lived connections are flushed. */
  flushIntervalMs: number;
  /** How often /proc is rescanned for new and exited targets. */
  rescanIntervalMs: number;
  ringBufferBytes: number;
  /** False with --no-events: no connection event lines on stdout. */
  events: boolean;
  /** --bpf-stats: kernel run-time accounting of the BPF programs (costs every probe hit). */
  bpfStats: boolean;
  /** --decoders DIR (repeatable): every *.wasm there is loaded; set only when given. */
  decoderDirs?: string[];
  /** --config FILE: decoder config (runtime/decoders/README.md); set only when given. */
  decoderConfig?: string;
  /** Kubernetes mode: --control-addr and friends (docs/control-api.md); set only when given. */
  control?: ControlOptions;
  /** --export-dir: event and diagnostic lines also go to rotated files there; set only when given. */
  export?: ExportOptions;
  /** --capture-bytes N: payload bytes captured per call for stream decoders; set only when given. */
  captureBytes?: number;
  /**
   * --capture: the probes whose payload (byte streams) may be captured for the
   * decoders that want it. Default openssl only: cleartext TCP capture hooks every
   * read/write syscall of every process on the host (docs/benchmarks.md).
   */
  capture: string[];
}

export interface ControlOptions {
  addr: MetricsAddr;
  tokenFile: string;
  tls?: { certFile: string; keyFile: string };
  /** --node-name, else $NODE_NAME, else the host name. */
  nodeName: string;
  /** --pod-label KEY (repeatable): pod labels carried on metrics as label_<key>. */
  podLabels: string[];
  /** Keep the `pid` label on metrics (--pid-label); default off in Kubernetes mode. */
  pidLabel: boolean;
  /** The kubelet's --cgroup-root (--kube-cgroup-root); default "/". */
  cgroupRoot: string;
}

export interface ExportOptions {
  dir: string;
  maxBytes: number;
  maxFiles: number;
}

/** What commander hands over: raw strings, repeatable flags as arrays. */
export interface RawRunOptions {
  pid?: string[];
  comm?: string[];
  cgroup?: string[];
  all?: boolean;
  metricsAddr?: string;
  logFormat?: string;
  logLevel?: string;
  maxSeries?: string;
  flushIntervalMs?: string;
  rescanIntervalMs?: string;
  ringBufferSize?: string;
  events?: boolean;
  bpfStats?: boolean;
  decoders?: string[];
  config?: string;
  controlAddr?: string;
  controlTokenFile?: string;
  controlTlsCert?: string;
  controlTlsKey?: string;
  nodeName?: string;
  podLabel?: string[];
  pidLabel?: boolean;
  kubeCgroupRoot?: string;
  exportDir?: string;
  exportMaxBytes?: string;
  exportMaxFiles?: string;
  captureBytes?: string;
  capture?: string[];
}

export interface ParseContext {
  /** Default log format is "pretty" on a terminal, "json" otherwise. */
  stderrIsTTY?: boolean;
  /** For the --node-name default ($NODE_NAME). */
  env?: NodeJS.ProcessEnv;
  hostname?: string;
}

export const DEFAULTS = {
  metricsAddr: '127.0.0.1:9464',
  logLevel: 'info' as LogLevel,
  maxSeries: 10_000,
  flushIntervalMs: 5_000,
  rescanIntervalMs: 1_000,
  ringBufferBytes: 8 * 1024 * 1024,
  exportMaxBytes: 64 * 1024 * 1024,
  exportMaxFiles: 5,
  capture: ['openssl'] as readonly string[],
} as const;

/** Kernel TASK_COMM_LEN is 16 including the NUL, so a comm holds 15 bytes. */
export const COMM_MAX_BYTES = 15;
/** PID_MAX_LIMIT on 64-bit kernels (4M). */
export const PID_MAX = 4_194_304;
export const RING_MIN_BYTES = 64 * 1024;
export const RING_MAX_BYTES = 1024 * 1024 * 1024;
const INTERVAL_MIN_MS = 100;
const INTERVAL_MAX_MS = 3_600_000;

const HELP = 'see `lightfoot run --help`';
const DIGITS = /^[0-9]+$/;

/** Parse and validate; throws UsageError with a fix-it hint on the first problem. */
export function parseRunOptions(raw: RawRunOptions, ctx: ParseContext = {}): RunOptions {
  const pids = unique((raw.pid ?? []).flatMap(splitList).map(parsePid));
  const comms = unique((raw.comm ?? []).map(parseComm));
  const cgroups = unique((raw.cgroup ?? []).map(parseCgroup));
  const all = raw.all === true;

  const selectors = pids.length + comms.length + cgroups.length;
  if (all && selectors > 0) {
    throw new UsageError('--all cannot be combined with --pid, --comm or --cgroup', {
      hint: 'drop --all to watch only the selected processes, or drop the other selectors to watch every process',
    });
  }
  const kubernetes = raw.controlAddr !== undefined;
  if (!all && selectors === 0 && !kubernetes) {
    throw new UsageError('no processes selected', {
      hint: 'pass --pid PID, --comm NAME, --cgroup PATH (each repeatable) or --all, or --control-addr for pods pushed by the Kubernetes watcher',
    });
  }

  const opts: RunOptions = {
    pids,
    comms,
    cgroups,
    all,
    metricsAddr: parseMetricsAddr(raw.metricsAddr ?? DEFAULTS.metricsAddr),
    logFormat: parseChoice('--log-format', raw.logFormat, LOG_FORMATS, ctx.stderrIsTTY ? 'pretty' : 'json'),
    logLevel: parseChoice('--log-level', raw.logLevel, LOG_LEVELS, DEFAULTS.logLevel),
    maxSeries: parseInteger('--max-series', raw.maxSeries, DEFAULTS.maxSeries, 1, 10_000_000),
    flushIntervalMs: parseInteger(
      '--flush-interval-ms',
      raw.flushIntervalMs,
      DEFAULTS.flushIntervalMs,
      INTERVAL_MIN_MS,
      INTERVAL_MAX_MS,
    ),
    rescanIntervalMs: parseInteger(
      '--rescan-interval-ms',
      raw.rescanIntervalMs,
      DEFAULTS.rescanIntervalMs,
      INTERVAL_MIN_MS,
      INTERVAL_MAX_MS,
    ),
    ringBufferBytes:
      raw.ringBufferSize === undefined ? DEFAULTS.ringBufferBytes : parseRingBufferSize(raw.ringBufferSize),
    events: raw.events !== false,
    bpfStats: raw.bpfStats === true,
    capture: parseCapture(raw.capture),
  };
  // Only present when given, so RunOptions without decoder flags stay as they were.
  if (raw.decoders !== undefined && raw.decoders.length > 0) opts.decoderDirs = unique(raw.decoders.map(parseDecodersDir));
  if (raw.config !== undefined) opts.decoderConfig = parseConfigFile(raw.config);
  const control = parseControlOptions(raw, ctx);
  if (control) opts.control = control;
  if (raw.exportDir !== undefined) {
    if (raw.exportDir.trim() === '') {
      throw new UsageError('--export-dir "": the directory is empty', { hint: 'pass a directory, e.g. a persistent volume: --export-dir /var/log/lightfoot' });
    }
    opts.export = {
      dir: raw.exportDir,
      maxBytes: raw.exportMaxBytes === undefined ? DEFAULTS.exportMaxBytes : parseFileSize('--export-max-bytes', raw.exportMaxBytes),
      maxFiles: parseInteger('--export-max-files', raw.exportMaxFiles, DEFAULTS.exportMaxFiles, 2, 1000),
    };
  } else if (raw.exportMaxBytes !== undefined || raw.exportMaxFiles !== undefined) {
    throw new UsageError('--export-max-bytes/--export-max-files need --export-dir', { hint: 'add --export-dir DIR, or drop them' });
  }
  if (raw.captureBytes !== undefined) opts.captureBytes = parseInteger('--capture-bytes', raw.captureBytes, 0, 0, 262_144);
  return opts;
}

const PROBE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * --capture: probe names (checked against the probe modules by the daemon), or
 * `all`, or `none`. Repeatable and comma-separated; empty entries are errors.
 */
function parseCapture(values: string[] | undefined): string[] {
  if (values === undefined) return [...DEFAULTS.capture];
  const names = unique(values.flatMap(splitList));
  const hint = 'list probe names, e.g. --capture tcp,openssl, or --capture all / --capture none';
  if (names.length === 0 || names.some((n) => n === '')) throw new UsageError('--capture: empty entry', { hint });
  for (const n of names) {
    if (!PROBE_NAME.test(n)) throw new UsageError(`--capture ${JSON.stringify(n)}: not a probe name`, { hint });
  }
  if (names.length > 1 && (names.includes('all') || names.includes('none'))) {
    throw new UsageError(`--capture ${names.join(',')}: "all" and "none" stand alone`, { hint });
  }
  return names[0] === 'none' ? [] : names;
}

const POD_LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function parseControlOptions(raw: RawRunOptions, ctx: ParseContext): ControlOptions | undefined {
  const k8sOnly: [string, unknown][] = [
    ['--control-token-file', raw.controlTokenFile],
    ['--control-tls-cert', raw.controlTlsCert],
    ['--control-tls-key', raw.controlTlsKey],
    ['--node-name', raw.nodeName],
    ['--pod-label', raw.podLabel],
    ['--kube-cgroup-root', raw.kubeCgroupRoot],
    ['--pid-label', raw.pidLabel],
  ];
  if (raw.controlAddr === undefined) {
    const stray = k8sOnly.find(([, v]) => v !== undefined);
    if (stray) throw new UsageError(`${stray[0]} needs --control-addr`, { hint: 'add --control-addr HOST:PORT to enable the Kubernetes control API' });
    return undefined;
  }
  const addr = parseHostPort('--control-addr', raw.controlAddr, 'e.g. 0.0.0.0:9465 or 127.0.0.1:9465');
  if (raw.controlTokenFile === undefined || raw.controlTokenFile.trim() === '') {
    throw new UsageError('--control-addr needs --control-token-file', {
      hint: 'the control API is always authenticated: pass a file holding the bearer token, e.g. --control-token-file /etc/lightfoot/token',
    });
  }
  if ((raw.controlTlsCert === undefined) !== (raw.controlTlsKey === undefined)) {
    throw new UsageError('--control-tls-cert and --control-tls-key go together', { hint: 'pass both PEM files for HTTPS, or neither for HTTP' });
  }
  const env = ctx.env ?? process.env;
  const nodeName = raw.nodeName ?? env.NODE_NAME ?? ctx.hostname ?? os.hostname();
  if (!NODE_NAME.test(nodeName)) {
    throw new UsageError(`--node-name ${quote(nodeName)}: not a Kubernetes node name`, {
      hint: 'pass the node name as the API server knows it (spec.nodeName), e.g. --node-name "$NODE_NAME" from the downward API',
    });
  }
  const podLabels = unique((raw.podLabel ?? []).flatMap(splitList).filter((k) => k !== ''));
  for (const k of podLabels) {
    if (!POD_LABEL_KEY.test(k)) {
      throw new UsageError(`--pod-label ${quote(k)}: not a Kubernetes label key`, { hint: 'pass a key such as app or app.kubernetes.io/name' });
    }
  }
  const cgroupRoot = raw.kubeCgroupRoot ?? '/';
  if (!cgroupRoot.startsWith('/') || cgroupRoot.split('/').includes('..')) {
    throw new UsageError(`--kube-cgroup-root ${quote(cgroupRoot)}: expected an absolute cgroup path`, { hint: "use the kubelet's --cgroup-root, e.g. / or /kubelet" });
  }
  const out: ControlOptions = { addr, tokenFile: raw.controlTokenFile, nodeName, podLabels, pidLabel: raw.pidLabel === true, cgroupRoot };
  if (raw.controlTlsCert !== undefined && raw.controlTlsKey !== undefined) out.tls = { certFile: raw.controlTlsCert, keyFile: raw.controlTlsKey };
  return out;
}

/** Sizes with binary suffixes, for file limits: 64KiB .. 64GiB. */
function parseFileSize(flag: string, text: string): number {
  const m = SIZE.exec(text.trim());
  const hint = `use bytes or a size such as 64MiB (from 4KiB to 64GiB)`;
  if (!m) throw new UsageError(`${flag} ${quote(text)}: not a size`, { hint });
  const bytes = Number(m[1]) * UNIT[m[2]!.charAt(0).toLowerCase()]!;
  if (bytes < 4096 || bytes > 64 * 1024 ** 3) throw new UsageError(`${flag} ${quote(text)}: ${bytes} bytes is outside 4KiB..64GiB`, { hint });
  return bytes;
}

/** --decoders DIR: a non-empty path (existence is checked when decoders load). */
export function parseDecodersDir(text: string): string {
  if (text.trim().length === 0) {
    throw new UsageError('--decoders "": the directory is empty', {
      hint: 'pass a directory holding *.wasm decoders, e.g. --decoders /etc/lightfoot/decoders',
    });
  }
  return text;
}

/** --config FILE: a non-empty path (read and validated when decoders load). */
export function parseConfigFile(text: string): string {
  if (text.trim().length === 0) {
    throw new UsageError('--config "": the file name is empty', {
      hint: 'pass the decoder config file (JSON), e.g. --config /etc/lightfoot/decoders.json',
    });
  }
  return text;
}

function splitList(value: string): string[] {
  // "--pid 1,2" is accepted as well as repeating --pid.
  return value.split(',').map((s) => s.trim());
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

export function parsePid(text: string): number {
  if (!DIGITS.test(text) || Number(text) < 1 || Number(text) > PID_MAX) {
    throw new UsageError(`--pid ${quote(text)}: a pid must be a positive integer up to ${PID_MAX}`, {
      hint: 'find the pid with `pgrep NAME` or `ps -e`',
    });
  }
  return Number(text);
}

export function parseComm(text: string): string {
  if (text.length === 0) {
    throw new UsageError('--comm "": the command name is empty', {
      hint: 'pass the name shown by `ps -o comm= -p PID`',
    });
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > COMM_MAX_BYTES) {
    const truncated = Buffer.from(text, 'utf8').subarray(0, COMM_MAX_BYTES).toString('utf8');
    throw new UsageError(
      `--comm ${quote(text)}: ${bytes} bytes, but the kernel keeps only the first ${COMM_MAX_BYTES} bytes of a command name (TASK_COMM_LEN)`,
      { hint: `use --comm ${quote(truncated)}, the name shown by \`ps -o comm= -p PID\`` },
    );
  }
  return text;
}

function parseCgroup(text: string): string {
  if (text.trim().length === 0) {
    throw new UsageError('--cgroup "": the cgroup path is empty', {
      hint: 'pass a directory under the cgroup v2 mount, e.g. --cgroup system.slice/nginx.service (from `cat /proc/PID/cgroup`)',
    });
  }
  return text;
}

/**
 * HOST:PORT, [IPv6]:PORT. Port 0 means any free port. A bare ":PORT" is refused:
 * serving on every interface must be asked for explicitly (0.0.0.0 or [::]).
 */
export function parseMetricsAddr(text: string): MetricsAddr {
  return parseHostPort('--metrics-addr', text, 'e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464');
}

function parseHostPort(flag: string, text: string, examples: string): MetricsAddr {
  const bad = (why: string, hint: string): UsageError =>
    new UsageError(`${flag} ${quote(text)}: ${why}`, { hint });
  const example = `use HOST:PORT, ${examples}`;

  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') {
      throw bad('expected [IPv6]:PORT', example);
    }
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!/^[0-9a-fA-F:.]+(%[\w.-]+)?$/.test(host) || !host.includes(':')) {
      throw bad(`${quote(host)} is not an IPv6 address`, example);
    }
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw bad('missing port', example);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      throw bad('IPv6 addresses need brackets', `write it as [${host}]:${portText}`);
    }
    if (host === '') {
      throw bad('missing host', 'write 127.0.0.1:PORT for local scrapes or 0.0.0.0:PORT to serve on every interface');
    }
    if (!/^[A-Za-z0-9.-]+$/.test(host)) throw bad(`${quote(host)} is not a host name or IPv4 address`, example);
  }
  if (!DIGITS.test(portText) || Number(portText) > 65535) {
    throw bad(`port ${quote(portText)} is not a number from 0 to 65535`, example + ' (port 0 picks a free port)');
  }
  return { host, port: Number(portText) };
}

function parseChoice<T extends string>(flag: string, text: string | undefined, choices: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw new UsageError(`${flag} ${quote(text)}: unknown value`, { hint: `use one of: ${choices.join(', ')}` });
}

function parseInteger(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!DIGITS.test(text) || n < min || n > max) {
    throw new UsageError(`${flag} ${quote(text)}: expected a whole number from ${min} to ${max}`, {
      hint: `${HELP}; the default is ${fallback}`,
    });
  }
  return n;
}

const SIZE = /^([0-9]+)\s*(|k|kb|kib|m|mb|mib|g|gb|gib)$/i;
const UNIT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Bytes, with binary suffixes: 65536, 64K, 64KiB, 8M, 8MiB, 1G. */
export function parseRingBufferSize(text: string): number {
  const m = SIZE.exec(text.trim());
  const hint = 'use a power of two from 64KiB to 1GiB, e.g. --ring-buffer-size 8MiB';
  if (!m) throw new UsageError(`--ring-buffer-size ${quote(text)}: not a size`, { hint });
  const bytes = Number(m[1]) * UNIT[m[2]!.charAt(0).toLowerCase()]!;
  if (bytes < RING_MIN_BYTES || bytes > RING_MAX_BYTES) {
    throw new UsageError(`--ring-buffer-size ${quote(text)}: ${bytes} bytes is outside 64KiB..1GiB`, { hint });
  }
  // The kernel requires a power-of-two number of pages for BPF ring buffers.
  if ((bytes & (bytes - 1)) !== 0) {
    const lower = 2 ** Math.floor(Math.log2(bytes));
    throw new UsageError(`--ring-buffer-size ${quote(text)}: ${bytes} bytes is not a power of two`, {
      hint: `the kernel needs a power of two; try ${formatSize(lower)} or ${formatSize(lower * 2)}`,
    });
  }
  return bytes;
}

function formatSize(bytes: number): string {
  if (bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3}GiB`;
  if (bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return `${bytes}`;
}

function quote(text: string): string {
  return /^[\w.:/@[\]%+-]+$/.test(text) ? text : JSON.stringify(text);
}

/** "host:port" with brackets around IPv6, for messages and URLs. */
export function formatAddr(addr: MetricsAddr): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}
