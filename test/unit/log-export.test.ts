// Export paths of event and diagnostic lines: Cloud Logging fields, pod
// identity on event lines, and the rotated files — every line one JSON object
// with the documented fields, under concurrent writers and across rotations,
// nothing lost.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { eventLineDecorator, CLOUD_LABELS_KEY } from '../../runtime/log/line-decorator';
import { RotatingFile } from '../../runtime/log/rotating-file';
import { createLogger } from '../../runtime/log/logger';
import { createEventWriter } from '../../runtime/log/event-writer';
import { KubeSeriesLabeler, podLabelName } from '../../runtime/enrich/kube-labels';
import { OwnerTable } from '../../runtime/enrich/owner-table';
import type { WorkloadIdentity } from '../../runtime/targets/pod-targets';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-export-'));
  dirs.push(d);
  return d;
};

const WEB: WorkloadIdentity = { namespace: 'shop', pod: 'web-0', podUid: 'u1', container: 'app', labels: { app: 'web', 'app.kubernetes.io/version': '1.2' } };
const identities = {
  ofPid: (pid: number) => (pid === 42 ? WEB : undefined),
  ofConnection: (c: bigint) => (c === 8214n ? WEB : undefined),
};

test('event lines get the pod identity and Cloud Logging fields appended, host keys last', () => {
  const decorate = eventLineDecorator({ cloud: true, identities, now: () => new Date('2026-01-01T00:00:00.000Z') });
  const line = '{"event":"close","decoder":"tcp","level":"info","connection":"8214","pod":"spoofed","bytesSent":10,"time":"2026-12-01T10:00:00.000Z"}';
  const out = JSON.parse(decorate(line));
  assert.equal(out.pod, 'web-0', 'the host identity wins over a decoder field of the same name');
  assert.deepEqual([out.namespace, out.container, out.podLabels], ['shop', 'app', WEB.labels]);
  assert.deepEqual([out.severity, out.message, out.time, out.bytesSent], ['INFO', 'tcp close', '2026-12-01T10:00:00.000Z', 10]);
  assert.deepEqual(out[CLOUD_LABELS_KEY], { decoder: 'tcp', event: 'close', namespace: 'shop', pod: 'web-0', container: 'app', 'k8s-pod/app': 'web', 'k8s-pod/app.kubernetes.io/version': '1.2' });
  // No identity for an unknown connection; time is added when a line has none; warn → WARNING.
  const other = JSON.parse(decorate('{"event":"go\\"away","decoder":"http2","level":"warn","connection":"1"}'));
  assert.deepEqual([other.pod, other.severity, other.message, other.time], [undefined, 'WARNING', 'http2 go"away', '2026-01-01T00:00:00.000Z']);
  // Other shapes are parsed instead.
  const odd = JSON.parse(decorate('{"level":"error","event":"x","connection":"8214"}'));
  assert.deepEqual([odd.pod, odd.severity], ['web-0', 'ERROR']);
  assert.equal(decorate('not json'), 'not json');
  // Without cloud, only the identity.
  const plain = JSON.parse(eventLineDecorator({ cloud: false, identities })(line));
  assert.deepEqual([plain.pod, plain.severity], ['web-0', undefined]);
});

test('diagnostic lines in cloud format: severity, time, message, labels; fields cannot overwrite them', () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  const log = createLogger({ format: 'cloud', level: 'debug', stream: out, now: () => new Date('2026-01-02T03:04:05.000Z') }).child('daemon');
  log.warn('ring buffer full', { dropped: 3n, message: 'spoof', severity: 'DEBUG' });
  const rec = JSON.parse(text);
  assert.deepEqual(rec, {
    severity: 'WARNING',
    time: '2026-01-02T03:04:05.000Z',
    message: 'ring buffer full',
    component: 'daemon',
    [CLOUD_LABELS_KEY]: { component: 'daemon' },
    dropped: '3',
    field_message: 'spoof',
    field_severity: 'DEBUG',
  });
});

test('metrics: families with a pid label get namespace, pod, container and label_<key>; pid optional', () => {
  assert.equal(podLabelName('app.kubernetes.io/name'), 'label_app_kubernetes_io_name');
  const drop = new KubeSeriesLabeler({ identities, podLabelKeys: ['app', 'missing'], dropPid: true });
  const f = drop.forFamily(['pid', 'comm', 'peer'])!;
  assert.deepEqual(f.labelNames, ['comm', 'peer', 'namespace', 'pod', 'container', 'label_app', 'label_missing']);
  assert.deepEqual(f.relabel({ pid: '42', comm: 'curl', peer: '10.0.0.1' }), { comm: 'curl', peer: '10.0.0.1', namespace: 'shop', pod: 'web-0', container: 'app', label_app: 'web', label_missing: '' });
  assert.deepEqual(f.relabel({ pid: '7', comm: 'sshd', peer: '::1' }), { comm: 'sshd', peer: '::1', namespace: '', pod: '', container: '', label_app: '', label_missing: '' });
  const keep = new KubeSeriesLabeler({ identities, podLabelKeys: [], dropPid: false }).forFamily(['pid'])!;
  assert.deepEqual(keep.relabel({ pid: '42' }), { pid: '42', namespace: 'shop', pod: 'web-0', container: 'app' });
  // No pid label, or the decoder already uses one of the names: left alone.
  assert.equal(drop.forFamily(['method', 'status']), undefined);
  assert.equal(drop.forFamily(['pid', 'pod']), undefined);
});

test('owner table: learned from records, bounded, closed connections forgotten after the grace period', () => {
  let now = 0;
  const t = new OwnerTable(3, () => now, 1000);
  t.see(1n, 100, 77n);
  t.see(2n, 100, 77n);
  assert.equal(t.cgroupOfCookie(1n), 77n);
  assert.equal(t.cgroupOfPid(100), 77n);
  t.see(3n, 101, 78n);
  t.see(4n, 102, 79n);
  assert.equal(t.cgroupOfCookie(1n), undefined, 'oldest evicted beyond the bound');
  t.closed(2n);
  assert.equal(t.cgroupOfCookie(2n), 77n);
  now = 2000;
  t.closed(3n);
  assert.equal(t.cgroupOfCookie(2n), undefined);
  assert.equal(t.cgroupOfCookie(3n), 78n);
});

test('rotating file: concurrent writers across many rotations lose nothing, split nothing, keep the bound', async () => {
  const dir = tmp();
  const file = path.join(dir, 'events.log');
  const sink = new RotatingFile({ path: file, maxBytes: 8 * 1024, maxFiles: 1000 });
  const decorate = eventLineDecorator({ cloud: true, identities });
  const writer = createEventWriter({ format: 'cloud', logger: createLogger({ format: 'json', level: 'error', stream: new PassThrough() }), stream: new PassThrough(), sink, decorate });
  const logger = createLogger({ format: 'cloud', level: 'info', stream: new PassThrough(), sink });
  // 8 producers interleaving on the event loop: event lines of two shapes and diagnostics.
  const N = 400;
  await Promise.all(
    Array.from({ length: 8 }, (_, w) =>
      (async () => {
        for (let i = 0; i < N; i++) {
          if (i % 3 === 0) logger.info('tick', { worker: w, i, pad: 'p'.repeat(i % 50) });
          else if (i % 3 === 1) writer.writeRaw!(`{"event":"flush","decoder":"tcp","level":"info","connection":"8214","worker":${w},"i":${i},"time":"2026-01-01T00:00:00.000Z"}`);
          else writer.write({ event: 'open', decoder: 'tcp', level: 'info', connection: '5', worker: w, i });
          if (i % 7 === 0) await new Promise((r) => setImmediate(r));
        }
      })(),
    ),
  );
  sink.close();
  const files = fs.readdirSync(dir).filter((f) => f.startsWith('events.log'));
  assert.ok(sink.stats.rotations >= 10, `rotations: ${sink.stats.rotations}`);
  assert.equal(files.length, sink.stats.rotations + 1);
  const seen = new Set<string>();
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    assert.ok(text.length <= 8 * 1024, `${f} is ${text.length} bytes`);
    assert.ok(text.endsWith('\n'));
    for (const l of text.slice(0, -1).split('\n')) {
      const rec = JSON.parse(l); // one whole JSON object per line
      assert.equal(typeof rec.severity, 'string');
      assert.equal(typeof rec.time, 'string');
      assert.equal(typeof rec.message, 'string');
      assert.equal(typeof rec[CLOUD_LABELS_KEY], 'object');
      seen.add(`${rec.worker}/${rec.i}`);
    }
  }
  assert.equal(seen.size, 8 * N, 'every line of every writer, once');
  assert.equal(sink.stats.lines, 8 * N);
  assert.equal(sink.stats.dropped, 0);
});

test('rotating file: the count bound drops the oldest file, appends after a restart', () => {
  const dir = tmp();
  const file = path.join(dir, 'x.log');
  let s = new RotatingFile({ path: file, maxBytes: 4096, maxFiles: 3, schedule: () => {} });
  for (let i = 0; i < 100; i++) s.writeLine(JSON.stringify({ i, pad: 'x'.repeat(200) }));
  s.close();
  assert.deepEqual(fs.readdirSync(dir).sort(), ['x.log', 'x.log.1', 'x.log.2']);
  const last = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).i);
  assert.equal(last.at(-1), 99);
  const before = fs.statSync(file).size;
  s = new RotatingFile({ path: file, maxBytes: 1 << 20, maxFiles: 3 });
  s.writeLine('{"again":true}');
  s.close();
  assert.equal(fs.statSync(file).size, before + '{"again":true}\n'.length);
});
