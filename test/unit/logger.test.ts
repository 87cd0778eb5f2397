import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger, nullLogger, type LogFormat, type LogLevel } from '../../runtime/log/logger';

const fixed = () => new Date('2024-05-01T12:00:00.000Z');

function capture(format: LogFormat, level: LogLevel, component?: string) {
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(s), on: () => undefined };
  const log = createLogger({ format, level, stream, component, now: fixed });
  return { log, lines };
}

test('json: one line per record with ts, level, component, msg and fields', () => {
  const { log, lines } = capture('json', 'info', 'daemon');
  log.info('started', { pid: 42, big: 2n ** 64n });
  assert.deepEqual(lines, [
    '{"ts":"2024-05-01T12:00:00.000Z","level":"info","component":"daemon","msg":"started","pid":42,"big":"18446744073709551616"}\n',
  ]);
});

test('json: fields cannot overwrite the envelope; errors are serialised', () => {
  const { log, lines } = capture('json', 'debug');
  const err = Object.assign(new Error('boom'), { code: 'EPIPE' });
  log.error('failed', { msg: 'sneaky', level: 'x', err });
  assert.deepEqual(JSON.parse(lines[0]!), {
    ts: '2024-05-01T12:00:00.000Z',
    level: 'error',
    msg: 'failed',
    field_msg: 'sneaky',
    field_level: 'x',
    err: { name: 'Error', message: 'boom', code: 'EPIPE' },
  });
});

test('json: circular fields do not throw', () => {
  const { log, lines } = capture('json', 'info');
  const a: Record<string, unknown> = {};
  a.self = a;
  log.info('cyclic', { a });
  assert.equal(JSON.parse(lines[0]!).log_error, 'fields could not be serialised (circular?)');
});

test('levels filter records', () => {
  const { log, lines } = capture('json', 'warn');
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.deepEqual(lines.map((l) => JSON.parse(l).level), ['warn', 'error']);
  assert.equal(log.enabled('info'), false);
  assert.equal(log.enabled('error'), true);
});

test('child joins component names', () => {
  const { log, lines } = capture('json', 'info', 'probe');
  log.child('tcp').info('attached');
  capture('json', 'info');
  assert.equal(JSON.parse(lines[0]!).component, 'probe.tcp');
});

test('pretty: single human line', () => {
  const { log, lines } = capture('pretty', 'info');
  log.child('metrics').warn('slow scrape\nsecond', { ms: 120, path: '/metrics', note: 'a b' });
  assert.deepEqual(lines, ['2024-05-01T12:00:00.000Z WARN  [metrics] slow scrape\\nsecond ms=120 path=/metrics note="a b"\n']);
});

test('a failing stream never throws and EPIPE errors are swallowed', () => {
  const stream = new PassThrough();
  const log = createLogger({ format: 'json', level: 'info', stream });
  stream.destroy();
  assert.doesNotThrow(() => log.info('after destroy'));
  stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
  const throwing = { write: () => { throw new Error('closed'); }, on: () => undefined };
  assert.doesNotThrow(() => createLogger({ format: 'pretty', level: 'info', stream: throwing }).error('x'));
});

test('defaults to stderr and nullLogger drops everything', () => {
  const log = createLogger({ format: 'json', level: 'error' });
  assert.equal(typeof log.info, 'function');
  nullLogger.child('x').error('nothing');
});
