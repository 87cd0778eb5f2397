import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { createEventWriter } from '../../runtime/log/event-writer';
import { createLogger, nullLogger } from '../../runtime/log/logger';

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, chunks };
}

test('json: one object per line, bigint as string', () => {
  const { stream, chunks } = sink();
  const w = createEventWriter({ format: 'json', stream, logger: nullLogger });
  w.write({ event: 'open', pid: 7, bytes: 5n });
  w.write({ event: 'close', pid: 7 });
  assert.deepEqual(chunks, ['{"event":"open","pid":7,"bytes":"5"}\n', '{"event":"close","pid":7}\n']);
  assert.deepEqual(w.stats(), { written: 2, dropped: 0, closed: false });
});

test('pretty: ts and event first, then key=value', () => {
  const { stream, chunks } = sink();
  const w = createEventWriter({ format: 'pretty', stream, logger: nullLogger });
  w.write({ event: 'open', ts: '2024-05-01T12:00:00Z', pid: 7, comm: 'my app', peer: '::1', port: 443 });
  assert.deepEqual(chunks, ['2024-05-01T12:00:00Z open pid=7 comm="my app" peer=::1 port=443\n']);
});

test('EPIPE closes the writer once, logs it and calls onClosed', () => {
  const stream = new PassThrough();
  const logs: string[] = [];
  const logger = createLogger({ format: 'json', level: 'info', stream: { write: (s: string) => logs.push(s), on: () => undefined } });
  let closedWith: Error | undefined;
  const w = createEventWriter({ format: 'json', stream, logger, onClosed: (e) => (closedWith = e) });
  const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  stream.emit('error', epipe);
  stream.emit('error', epipe);
  w.write({ event: 'open' });
  assert.equal(closedWith, epipe);
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /event output closed by reader/);
  assert.deepEqual(w.stats(), { written: 0, dropped: 0, closed: true });
});

test('a destroyed stream is detected without throwing', () => {
  const stream = new PassThrough();
  const w = createEventWriter({ format: 'json', stream, logger: nullLogger });
  stream.destroy();
  assert.doesNotThrow(() => w.write({ event: 'open' }));
  assert.equal(w.stats().closed, true);
});

test('slow reader: events beyond maxBufferedBytes are dropped and counted', () => {
  const stream = new Writable({ highWaterMark: 1, write(_c, _e, _cb) { /* never completes */ } });
  const w = createEventWriter({ format: 'json', stream, logger: nullLogger, maxBufferedBytes: 30 });
  for (let i = 0; i < 5; i++) w.write({ event: 'open', i });
  const s = w.stats();
  // Each line is 23 bytes: after two writes 46 bytes are queued (> 30), so the rest drop.
  assert.equal(s.written, 2);
  assert.equal(s.dropped, 3);
});

test('real process: stdout closed by the reader does not crash the writer', async () => {
  const script = `
    const { createEventWriter } = require(${JSON.stringify(require.resolve('../../runtime/log/event-writer'))});
    const { nullLogger } = require(${JSON.stringify(require.resolve('../../runtime/log/logger'))});
    const w = createEventWriter({ format: 'json', logger: nullLogger, onClosed: (e) => { process.stderr.write('closed ' + e.code + '\\n'); } });
    let i = 0;
    const t = setInterval(() => { w.write({ event: 'tick', i: i++ }); if (w.stats().closed || i > 2000) { clearInterval(t); process.stderr.write('done\\n'); } }, 1);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 0, err);
  assert.match(err, /closed EPIPE\ndone\n/);
});
