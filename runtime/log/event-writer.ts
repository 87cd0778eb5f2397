// Connection events: one record per line on stdout, kept apart from the
// diagnostic log (stderr) so `lightfoot run | jq` works. Consumers come and go:
// a closed pipe (EPIPE) stops event output but never crashes the daemon.

import type { Logger } from './logger';
import { prettyFields, safeStringify } from './format';
import { eventLineDecorator, type LineDecorator } from './line-decorator';
import type { LineSink } from './rotating-file';

/** cloud: JSON with Google Cloud Logging's fields (see line-decorator.ts). */
export type EventFormat = 'json' | 'pretty' | 'cloud';

/** One connection event. `event` names it (e.g. "open", "close"); the rest is free-form. */
export interface EventRecord {
  event: string;
  [field: string]: unknown;
}

export interface EventStream {
  write(chunk: string): boolean;
  on(event: 'error', fn: (err: Error) => void): unknown;
  readonly writableLength?: number;
  readonly destroyed?: boolean;
  readonly writableEnded?: boolean;
}

export interface EventWriterOptions {
  format: EventFormat;
  /** Defaults to process.stdout. */
  stream?: EventStream;
  logger: Logger;
  /**
   * Bytes allowed to queue inside the stream when the reader is slow; beyond
   * this, events are dropped and counted instead of growing memory without bound.
   */
  maxBufferedBytes?: number;
  /** Called once when the reader goes away (EPIPE or another stream error). */
  onClosed?: (err: Error) => void;
  /** Host fields added to every JSON line (Kubernetes identity, Cloud Logging fields). */
  decorate?: LineDecorator;
  /** Also gets every line as JSON (file export), whatever happens to the stream. */
  sink?: LineSink;
}

export interface EventWriterStats {
  written: number;
  /** Dropped because the reader was too slow (buffer above maxBufferedBytes). */
  dropped: number;
  /** True once the stream failed; later writes are no-ops. */
  closed: boolean;
}

export interface EventWriter {
  write(event: EventRecord): void;
  /**
   * One event already rendered as a JSON object (`{"event":…}`, no newline), for
   * producers that build lines by concatenation. Optional: callers fall back to
   * write(JSON.parse(text)). The pretty format parses it and renders as write() does.
   */
  writeRaw?(jsonObjectText: string): void;
  stats(): EventWriterStats;
}

const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024;

/**
 * @example
 * const events = createEventWriter({ format: 'json', logger });
 * events.write({ event: 'open', pid: 42, comm: 'curl', peer: '10.0.0.1', port: 443 });
 */
export function createEventWriter(options: EventWriterOptions): EventWriter {
  const stream = options.stream ?? process.stdout;
  const log = options.logger;
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const stats: EventWriterStats = { written: 0, dropped: 0, closed: false };
  const decorate = options.decorate ?? (options.format === 'cloud' ? eventLineDecorator({ cloud: true }) : undefined);
  const sink = options.sink;
  let warnedSlow = false;

  const close = (err: Error): void => {
    if (stats.closed) return;
    stats.closed = true;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') {
      log.info('event output closed by reader; events are no longer written to stdout', { code });
    } else {
      log.warn('event output failed; events are no longer written to stdout', { err });
    }
    options.onClosed?.(err);
  };
  stream.on('error', close);

  const render =
    options.format !== 'pretty'
      ? (e: EventRecord): string | undefined => safeStringify(e)
      : (e: EventRecord): string => {
          const { event, ts, ...rest } = e;
          const when = ts === undefined ? '' : `${String(ts)} `;
          return `${when}${event}${prettyFields(rest)}`;
        };

  /** writeRaw's checks (the same as write()'s); false = do not write. */
  const admit = (): boolean => {
    if (stats.closed) return false;
    if (stream.destroyed || stream.writableEnded) {
      close(Object.assign(new Error('event stream is closed'), { code: 'ERR_STREAM_DESTROYED' }));
      return false;
    }
    if ((stream.writableLength ?? 0) > maxBuffered) {
      stats.dropped++;
      if (!warnedSlow) {
        warnedSlow = true;
        log.warn('stdout reader is too slow; dropping connection events', {
          maxBufferedBytes: maxBuffered,
        });
      }
      return false;
    }
    return true;
  };
  const put = (line: string): void => {
    try {
      stream.write(line + '\n');
      stats.written++;
    } catch (err) {
      close(err as Error);
    }
  };

  const writer: EventWriter = {
    writeRaw(text) {
      if (decorate !== undefined) text = decorate(text);
      sink?.writeLine(text);
      if (options.format === 'pretty') {
        let rec: EventRecord;
        try {
          rec = JSON.parse(text) as EventRecord;
        } catch {
          if (stats.closed) return;
          stats.dropped++;
          log.debug('raw event is not JSON', { length: text.length });
          return;
        }
        writeRendered(rec);
        return;
      }
      if (!admit()) return;
      put(text);
    },
    write(event) {
      if (decorate !== undefined || sink !== undefined || options.format === 'cloud') {
        const text = safeStringify(event);
        if (text === undefined) {
          stats.dropped++;
          log.debug('event could not be serialised', { event: event.event });
          return;
        }
        writer.writeRaw!(text);
        return;
      }
      writeRendered(event);
    },
    stats: () => ({ ...stats }),
  };
  /** Rendered in the writer's own format (json/pretty) straight to the stream. */
  function writeRendered(event: EventRecord): void {
    {
      if (stats.closed) return;
      if (stream.destroyed || stream.writableEnded) {
        close(Object.assign(new Error('event stream is closed'), { code: 'ERR_STREAM_DESTROYED' }));
        return;
      }
      if ((stream.writableLength ?? 0) > maxBuffered) {
        stats.dropped++;
        if (!warnedSlow) {
          warnedSlow = true;
          log.warn('stdout reader is too slow; dropping connection events', {
            maxBufferedBytes: maxBuffered,
          });
        }
        return;
      }
      const line = render(event);
      if (line === undefined) {
        stats.dropped++;
        log.debug('event could not be serialised', { event: event.event });
        return;
      }
      try {
        stream.write(line + '\n');
        stats.written++;
      } catch (err) {
        close(err as Error);
      }
    }
  }
  return writer;
}
