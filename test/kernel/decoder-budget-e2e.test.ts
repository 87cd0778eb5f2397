/**
 * The per-call output budget and metric ownership, end to end: a real `lightfoot
 * run` on real TCP traffic with hostile decoders (test/fixtures/wasm/amplify.c)
 * that amplify a few KiB of guest memory into gigabytes by aliasing, that sit just
 * under and just over each budget, that declare lightfoot's or the tcp decoder's
 * metric names, or that overflow a counter. Each test asserts the daemon lives, its
 * peak RSS stays under the stated bound, the TCP sums stay exact, the right fault
 * kind is counted, and SIGTERM ends it with exit 0.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { eventually, startDaemon, type Daemon } from '../helpers/daemon';
import { buildWorkloads } from '../helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../helpers/process';
import { sumOf } from '../helpers/prom';
import { SIZED, buildFixtures, type Amplify } from '../helpers/wasm-fixtures';
import { needsRoot, sleep, tcpOf, uniqueComm } from './kernel-test-env';

let bin = '';
let fixtures = '';
before(async () => {
  if (needsRoot) return;
  bin = (await buildWorkloads()).tcpWorkload;
  fixtures = buildFixtures();
});
after(() => cleanup.run());

/** The budget the hostile decoders get here (the default is 16 MiB). */
const BUDGET = 4 << 20;
/**
 * docs/native-api.md "Output budget": one call's peak host memory is at most
 * 8 × outputBytes + 256 bytes × outputItems. Each hostile decoder has a call in
 * flight at most, so the daemon's peak RSS grows by at most that per decoder, plus
 * a fixed 64 MiB for V8's heap growth and thread stacks.
 */
const perCallBound = (bytes: number, items: number): number => 8 * bytes + 256 * items;
const SLACK = 64 << 20;

interface Entry {
  mode: Amplify;
  limits?: Record<string, number>;
  shareMetrics?: string[];
}

/** A --config file loading these amplify.c builds, with their limits. */
function configFor(entries: Entry[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-budget-'));
  cleanup.add(() => fs.rmSync(dir, { recursive: true, force: true }));
  const decoders = entries.map((e) => {
    fs.copyFileSync(path.join(fixtures, `amp-${e.mode}.wasm`), path.join(dir, `amp-${e.mode}.wasm`));
    return { path: `amp-${e.mode}.wasm`, limits: e.limits ?? {}, ...(e.shareMetrics ? { shareMetrics: e.shareMetrics } : {}) };
  });
  const file = path.join(dir, 'decoders.json');
  fs.writeFileSync(file, JSON.stringify({ decoders }));
  return file;
}

function status(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}
/** Resets the peak (VmHWM) to the current RSS and returns it. */
function resetPeak(pid: number): number {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  return status(pid, 'VmRSS');
}

async function traffic(d: Daemon, port: number, comm: string, waves: number, conns: number, bytes: number): Promise<void> {
  for (let w = 0; w < waves; w++) {
    const c = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(port), '--conns', String(conns), '--bytes', String(bytes), '--comm', comm]);
    await c.waitForLine(/^DONE /);
    await sleep(300);
  }
  await eventually(async () => tcpOf(await d.scrape(), comm).closed === waves * conns, 10_000);
}

/**
 * Runs the daemon with these decoders (and the built-in tcp one) over `waves` waves
 * of 3 connections; asserts exact TCP sums, the RSS bound, a healthy tcp decoder and
 * exit 0 on SIGTERM; hands the final scrape and logs to `check`.
 */
async function run(
  tag: string,
  entries: Entry[],
  bound: number,
  check: (s: Awaited<ReturnType<Daemon['scrape']>>, d: Daemon) => void,
  extra: string[] = ['--no-events'],
  waves = 4,
): Promise<void> {
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', uniqueComm(`lfb${tag}s`)]);
  const comm = uniqueComm(`lfb${tag}c`);
  const d = await startDaemon(['--comm', comm, '--config', configFor(entries), ...extra]);
  try {
    const rss0 = resetPeak(d.proc.pid!);
    const conns = 3, bytes = 700;
    await traffic(d, srv.port, comm, waves, conns, bytes);
    await sleep(300);
    const s = await d.scrape();
    const peak = status(d.proc.pid!, 'VmHWM') - rss0;
    assert.ok(peak < bound, `peak RSS grew by ${(peak / 2 ** 20).toFixed(1)} MiB, bound ${(bound / 2 ** 20).toFixed(1)} MiB`);
    assert.deepEqual(tcpOf(s, comm, 'client'), { opened: waves * conns, closed: waves * conns, failed: 0, sent: waves * conns * (8 + bytes), received: waves * conns * bytes, retransmits: 0, resetsSent: 0, resetsReceived: 0, active: 0 });
    assert.equal(sumOf(s, 'lightfoot_decoder_state', { decoder: 'tcp', state: 'running' }), 1);
    assert.equal(sumOf(s, 'lightfoot_decoder_faults_total', { decoder: 'tcp' }), 0);
    check(s, d);
  } finally {
    const t0 = Date.now();
    const code = await d.stop();
    await srv.handle.kill();
    assert.equal(code, 0, 'exit 0 on SIGTERM');
    // docs: SIGTERM ends within 2 s (shutdownGraceMs) + the longest deadlineMs (100 ms here) + teardown.
    assert.ok(Date.now() - t0 < 4000, `stopped in ${Date.now() - t0} ms`);
  }
}

test('amplification by aliasing (labels, log fields, annotations) and escaping blow-up are oversize faults; the daemon lives', { skip: needsRoot }, async () => {
  // labels: 768 labels on one 4 MiB string; fields: 1000 logs sharing 64 fields of the
  // same 4 KiB of control bytes (each escapes to 6 bytes when rendered);
  // annotations: 10000 values, 1 MiB slices of one buffer. Each would be gigabytes on the host.
  const modes: Amplify[] = ['labels', 'fields', 'annotations'];
  const items = 262_144;
  await run('amp', modes.map((mode) => ({ mode, limits: { outputBytes: BUDGET } })), modes.length * perCallBound(BUDGET, items) + SLACK, (s, d) => {
    for (const m of modes) {
      const decoder = `fixture-amp-${m}`;
      assert.ok(sumOf(s, 'lightfoot_decoder_faults_total', { decoder, kind: 'oversize' }) >= 1, `${decoder}: oversize counted; ${JSON.stringify(s.filter((x) => x.labels?.decoder === decoder && /faults|calls/.test(x.name)))}`);
      for (const other of ['trap', 'timeout', 'oom', 'bad_output']) {
        assert.equal(sumOf(s, 'lightfoot_decoder_faults_total', { decoder, kind: other }), 0, `${decoder}: no ${other}`);
      }
      assert.equal(sumOf(s, `lightfoot_fixture_amplified_${m}_total`), 0, `${decoder}: nothing of a rejected output was applied`);
    }
    // The fault names what was over: the escaped rendering of the fields, not their raw size.
    const why = (m: string) => d.logs.filter((l) => l.decoder === `fixture-amp-${m}` && l.kind === 'oversize').map((l) => String(l.message));
    assert.match(why('fields')[0] ?? '', /rendered log fields of \d+ bytes/);
    assert.match(why('labels')[0] ?? '', /over budget/);
    assert.match(why('annotations')[0] ?? '', /over budget/);
    assert.equal(d.events.filter((e) => e.decoder === 'fixture-amp-fields').length, 0, 'no log line of a rejected output was written');
  }, [], 6); // event lines on: log-events are rendered
});

test('outputs just under and just over each budget: exactly the over ones are oversize', { skip: needsRoot }, async () => {
  const bytes = SIZED.n * SIZED.len; // what one call of the sized fixture is charged
  const items = 2 * SIZED.n;
  const shared = ['lightfoot_fixture_sized_total'];
  await run('size', [
    { mode: 'sized-a', limits: { outputBytes: bytes } },
    { mode: 'sized-b', limits: { outputBytes: bytes - 1 }, shareMetrics: shared },
    { mode: 'sized-c', limits: { outputItems: items }, shareMetrics: shared },
    { mode: 'sized-d', limits: { outputItems: items - 1 }, shareMetrics: shared },
  ], 4 * perCallBound(16 << 20, items) + SLACK, (s) => {
    const ok = (d: string) => sumOf(s, 'lightfoot_decoder_calls_total', { decoder: `fixture-amp-${d}`, result: 'ok' });
    const oversize = (d: string) => sumOf(s, 'lightfoot_decoder_faults_total', { decoder: `fixture-amp-${d}`, kind: 'oversize' });
    assert.ok(ok('sized-a') >= 1 && ok('sized-c') >= 1, 'the calls at the budget succeed');
    assert.equal(oversize('sized-a') + oversize('sized-c'), 0);
    assert.ok(oversize('sized-b') >= 1 && oversize('sized-d') >= 1, 'one byte or item over is oversize');
    assert.equal(ok('sized-b') + ok('sized-d'), 0);
    // The explicitly shared metric got exactly the accepted calls' updates.
    assert.equal(sumOf(s, 'lightfoot_fixture_sized_total'), SIZED.n * (ok('sized-a') + ok('sized-c')));
  });
});

test('reserved and foreign metric names are refused at load, naming both owners; counter overflow is bad_output', { skip: needsRoot }, async () => {
  await run('name', [{ mode: 'reserved' }, { mode: 'foreign' }, { mode: 'overflow' }], 3 * perCallBound(16 << 20, 262_144) + SLACK, (s, d) => {
    const refused = d.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('decoder refused'));
    const reserved = refused.find((l) => String(l.msg).includes('amp-reserved.wasm'));
    assert.match(String(reserved?.msg), /lightfoot_events_total is one of lightfoot's own metric names/);
    const foreign = refused.find((l) => String(l.msg).includes('amp-foreign.wasm'));
    assert.match(String(foreign?.msg), /"lightfoot_tcp_bytes_sent_total": belongs to decoder tcp, which declared it first; decoder fixture-amp-foreign may not write it/);
    assert.equal(sumOf(s, 'lightfoot_decoder_state', { decoder: 'amp-foreign', state: 'refused' }), 1);
    // Overflow: the first call's 1.7e308 is applied, every later one would reach +Inf.
    assert.equal(sumOf(s, 'lightfoot_fixture_amplified_total'), 1.7e308);
    assert.ok(sumOf(s, 'lightfoot_decoder_faults_total', { decoder: 'fixture-amp-overflow', kind: 'bad_output' }) >= 1);
  });
});

test('SIGTERM while a decode call is in flight ends within grace + deadline, exit 0', { skip: needsRoot }, async () => {
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', uniqueComm('lfbsigs')]);
  const comm = uniqueComm('lfbsigc');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-sig-'));
  cleanup.add(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.copyFileSync(path.join(fixtures, 'loop.wasm'), path.join(dir, 'loop.wasm'));
  const deadlineMs = 3000;
  fs.writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ decoders: [{ path: 'loop.wasm', limits: { deadlineMs } }] }));
  const d = await startDaemon(['--comm', comm, '--config', path.join(dir, 'c.json'), '--no-events']);
  try {
    const c = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(srv.port), '--conns', '2', '--bytes', '100', '--comm', comm]);
    await c.waitForLine(/^DONE /);
    await sleep(500); // the loop decoder is now inside a call that lasts deadlineMs
  } finally {
    const t0 = Date.now();
    const code = await d.stop();
    const took = Date.now() - t0;
    await srv.handle.kill();
    assert.equal(code, 0);
    assert.ok(took < 2000 + deadlineMs + 1000, `stopped in ${took} ms`);
  }
});
