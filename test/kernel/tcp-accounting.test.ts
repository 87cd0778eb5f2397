/**
 * The TCP probe against real loopback traffic from the C workload: exact
 * counts of connections, bytes and resets, and nothing from processes outside
 * the selection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startDaemon, type Daemon } from '../helpers/daemon';
import { buildWorkloads } from '../helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../helpers/process';
import { kernelStat, needsRoot, sleep, tcpOf, uniqueComm } from './kernel-test-env';

let bin = '';
before(async () => {
  if (!needsRoot) bin = (await buildWorkloads()).tcpWorkload;
});
after(() => cleanup.run());

/** Waits until `closed` connections of `comm` are counted, then lets stragglers land. */
async function settled(d: Daemon, comm: string, closed: number) {
  await eventually(async () => tcpOf(await d.scrape(), comm).closed >= closed, 10_000);
  await sleep(300);
  return d.scrape();
}

test('K connections carrying B bytes each way are counted exactly, per side', { skip: needsRoot }, async () => {
  const K = 5, B = 10_000, R = 3_000;
  const srvComm = uniqueComm('lfsrv');
  const cliComm = uniqueComm('lfcli');
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', srvComm]);
  // The server is selected by pid; the client by name before it even exists.
  // No periodic flush inside this test: the exact event sequence is asserted.
  const d = await startDaemon(['--pid', String(srv.handle.pid), '--comm', cliComm, '--flush-interval-ms', '60000']);
  try {
    const cli = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(srv.port), '--conns', String(K), '--bytes', String(B), '--reply-bytes', String(R), '--comm', cliComm]);
    await cli.waitForLine(/^DONE /);
    const s = await settled(d, srvComm, K);
    const wire = K * (8 + B); // 8-byte header + payload per connection
    assert.deepEqual(tcpOf(s, cliComm, 'client'), { opened: K, closed: K, failed: 0, sent: wire, received: K * R, retransmits: 0, resetsSent: 0, resetsReceived: 0, active: 0 });
    assert.deepEqual(tcpOf(s, srvComm, 'server'), { opened: K, closed: K, failed: 0, sent: K * R, received: wire, retransmits: 0, resetsSent: 0, resetsReceived: 0, active: 0 });
    // Labels name the peer and the service port on both sides.
    const series = s.filter((x) => x.name === 'lightfoot_tcp_bytes_sent_total' && x.labels.comm === cliComm);
    assert.deepEqual(series.map((x) => x.labels), [{ pid: String(cli.pid), comm: cliComm, role: 'client', peer: '127.0.0.1', port: String(srv.port) }]);
    // Conservation: every record the kernel emitted was decoded, none dropped.
    assert.equal(kernelStat(s, 'dropped'), 0);
    assert.equal(kernelStat(s, 'emitted'), s.find((x) => x.name === 'lightfoot_events_total')!.value);
    // One JSON line per event: each client connection is open, two state changes, close.
    const clientEvents = d.events.filter((e) => e.comm === cliComm);
    const byCookie = new Map<string, string[]>();
    for (const e of clientEvents) byCookie.set(String(e.connection), [...(byCookie.get(String(e.connection)) ?? []), `${e.event}:${e.state}`]);
    assert.equal(byCookie.size, K);
    for (const seq of byCookie.values()) assert.deepEqual(seq, ['open:ESTABLISHED', 'state:FIN_WAIT1', 'state:FIN_WAIT2', 'close:CLOSE']);
    const closes = clientEvents.filter((e) => e.event === 'close');
    assert.deepEqual(closes.map((e) => [e.bytesSent, e.bytesReceived, e.remote]), Array(K).fill([8 + B, R, `127.0.0.1:${srv.port}`]));
  } finally {
    assert.equal(await d.stop(), 0);
  }
});

test('a reset provoked with SO_LINGER 0 is counted once, in the right direction on each side', { skip: needsRoot }, async () => {
  const B = 2_000;
  const srvComm = uniqueComm('lfrsrv');
  const cliComm = uniqueComm('lfrcli');
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', srvComm]);
  const d = await startDaemon(['--comm', srvComm, '--comm', cliComm]);
  try {
    const cli = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(srv.port), '--conns', '1', '--bytes', String(B), '--reset', '--comm', cliComm]);
    await cli.waitForLine(/^DONE /);
    await srv.handle.waitForLine(/status=reset/);
    const s = await settled(d, srvComm, 1);
    const c = tcpOf(s, cliComm, 'client');
    const v = tcpOf(s, srvComm, 'server');
    assert.deepEqual([c.resetsSent, c.resetsReceived, c.sent, c.opened, c.closed], [1, 0, 8 + B, 1, 1]);
    assert.deepEqual([v.resetsSent, v.resetsReceived, v.received, v.opened, v.closed], [0, 1, 8 + B, 1, 1]);
    const resets = d.events.filter((e) => e.event === 'reset').map((e) => [e.comm, e.resetDirection]);
    assert.deepEqual(resets.sort(), [[cliComm, 'sent'], [srvComm, 'received']].sort());
  } finally {
    await d.stop();
  }
});

test('processes outside the selection produce nothing', { skip: needsRoot }, async () => {
  const srvComm = uniqueComm('lfosrv');
  const inComm = uniqueComm('lfoin');
  const outComm = uniqueComm('lfoout');
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', srvComm]);
  const d = await startDaemon(['--comm', inComm]);
  try {
    const run = (comm: string) =>
      spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(srv.port), '--conns', '3', '--bytes', '500', '--comm', comm]).waitForLine(/^DONE /);
    await run(outComm);
    await run(inComm);
    await run(outComm);
    const s = await settled(d, inComm, 3);
    assert.equal(tcpOf(s, inComm).sent, 3 * 508);
    const comms = new Set(s.filter((x) => x.name.startsWith('lightfoot_tcp_')).map((x) => x.labels.comm));
    assert.deepEqual([...comms], [inComm]);
    assert.ok(d.events.every((e) => e.comm === inComm), 'no event lines for other processes');
    assert.ok(kernelStat(s, 'filtered') >= 6, 'the kernel saw and filtered the others');
  } finally {
    await d.stop();
  }
});
