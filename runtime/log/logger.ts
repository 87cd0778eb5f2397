// Structured diagnostic logger. Injected everywhere (no global instance) so
// tests can capture output and components are named through child().
// Diagnostics go to stderr by default: stdout belongs to the event stream.

import { guardStream, prettyFields, safeStringify } from './format';
import type { LineSink } from './rotating-file';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
/** cloud: JSON with Google Cloud Logging's structured fields (severity, time, message, labels). */
export type LogFormat = 'json' | 'pretty' | 'cloud';
export type LogFields = Record<string, unknown>;

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty', 'cloud'];

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** Logger for a sub-component; names are joined with '.', e.g. "probe.tcp". */
  child(component: string): Logger;
  /** True when records of `level` are written (skip building costly fields otherwise). */
  enabled(level: LogLevel): boolean;
}

/** Minimal writable surface, so tests can pass a PassThrough or a fake. */
export interface LogStream {
  write(chunk: string): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
}

export interface LoggerOptions {
  format: LogFormat;
  level: LogLevel;
  /** Defaults to process.stderr. */
  stream?: LogStream;
  component?: string;
  /** Injected clock for reproducible timestamps in tests. */
  now?: () => Date;
  /** Also gets every record as one JSON line (file export); JSON even when the stream gets pretty text. */
  sink?: LineSink;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const RESERVED = new Set(['ts', 'level', 'component', 'msg']);
const noop = (): void => {};

/**
 * @example
 * const log = createLogger({ format: 'json', level: 'info' }).child('metrics');
 * log.info('serving metrics', { addr: '127.0.0.1:9464' });
 * // stderr: {"ts":"…","level":"info","component":"metrics","msg":"serving metrics","addr":"127.0.0.1:9464"}
 */
export function createLogger(options: LoggerOptions): Logger {
  const stream: LogStream = options.stream ?? process.stderr;
  const now = options.now ?? (() => new Date());
  const max = RANK[options.level];
  // A closed stderr must never take the daemon down; there is nowhere to report it.
  guardStream(stream, noop);

  const render = options.format === 'json' ? renderJson : options.format === 'cloud' ? renderCloud : renderPretty;
  const sinkRender = options.format === 'cloud' ? renderCloud : renderJson;
  const sink = options.sink;

  const make = (component: string | undefined): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (RANK[level] > max) return;
      const ts = now();
      if (sink) sink.writeLine(sinkRender(ts, level, component, msg, fields));
      try {
        stream.write(render(ts, level, component, msg, fields) + '\n');
      } catch {
        // A destroyed stream throws synchronously; logging is best effort.
      }
    };
    return {
      error: (msg, fields) => emit('error', msg, fields),
      warn: (msg, fields) => emit('warn', msg, fields),
      info: (msg, fields) => emit('info', msg, fields),
      debug: (msg, fields) => emit('debug', msg, fields),
      child: (name) => make(component ? `${component}.${name}` : name),
      enabled: (level) => RANK[level] <= max,
    };
  };
  return make(options.component);
}

function renderJson(
  ts: Date,
  level: LogLevel,
  component: string | undefined,
  msg: string,
  fields: LogFields | undefined,
): string {
  const record: LogFields = { ts: ts.toISOString(), level };
  if (component) record.component = component;
  record.msg = msg;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      // Fields must not overwrite the envelope; keep them under a prefixed key.
      record[RESERVED.has(k) ? `field_${k}` : k] = v;
    }
  }
  const text = safeStringify(record);
  if (text !== undefined) return text;
  return JSON.stringify({
    ts: record.ts,
    level,
    ...(component ? { component } : {}),
    msg,
    log_error: 'fields could not be serialised (circular?)',
  });
}

const CLOUD_SEVERITY: Record<LogLevel, string> = { error: 'ERROR', warn: 'WARNING', info: 'INFO', debug: 'DEBUG' };
const CLOUD_LABELS = 'logging.googleapis.com/labels';
const CLOUD_RESERVED = new Set(['severity', 'time', 'message', CLOUD_LABELS, 'component']);

/** Google Cloud Logging's structured form, which GKE's agent and Fluent Bit's json parser read as is. */
function renderCloud(
  ts: Date,
  level: LogLevel,
  component: string | undefined,
  msg: string,
  fields: LogFields | undefined,
): string {
  const record: LogFields = { severity: CLOUD_SEVERITY[level], time: ts.toISOString(), message: msg };
  if (component) record.component = component;
  record[CLOUD_LABELS] = { component: component ?? 'lightfoot' };
  if (fields) {
    for (const [k, v] of Object.entries(fields)) record[CLOUD_RESERVED.has(k) ? `field_${k}` : k] = v;
  }
  const text = safeStringify(record);
  if (text !== undefined) return text;
  return JSON.stringify({
    severity: record.severity,
    time: record.time,
    message: msg,
    [CLOUD_LABELS]: record[CLOUD_LABELS],
    log_error: 'fields could not be serialised (circular?)',
  });
}

function renderPretty(
  ts: Date,
  level: LogLevel,
  component: string | undefined,
  msg: string,
  fields: LogFields | undefined,
): string {
  const comp = component ? ` [${component}]` : '';
  return `${ts.toISOString()} ${level.toUpperCase().padEnd(5)}${comp} ${msg.replace(/\n/g, '\\n')}${prettyFields(fields)}`;
}

/** A logger that drops everything; for tests and library callers that opt out. */
export const nullLogger: Logger = {
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
  child: () => nullLogger,
  enabled: () => false,
};
