/**
 * The daemon's life around real processes: cgroup selection, an exiting
 * target, a daemon restart in the middle of a connection, a full ring buffer,
 * and no BPF program, map or link left behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { eventually, startDaemon } from '../helpers/daemon';
import { buildWorkloads } from '../helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../helpers/process';
import { bpfObjectsNamed, linkCount } from '../helpers/bpftool';
import { sumOf } from '../helpers/prom';
import { findCgroup2Mount } from '../../runtime/targets/cgroup';
import { kernelStat, needsRoot, sleep, tcpOf, uniqueComm } from './kernel-test-env';

const STEPPER = path.resolve(__dirname, '../../../test/workloads/stepper.js');
let bin = '';
before(async () => {
  if (!needsRoot) bin = (await buildWorkloads()).tcpWorkload;
});
after(() => cleanup.run());

test('--cgroup selects every process in a cgroup v2 directory, including ones started later', { skip: needsRoot }, async () => {
  const mount = findCgroup2Mount(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  assert.ok(mount, 'a cgroup v2 hierarchy is mounted');
  const dir = path.join(mount.mountPoint, `lightfoot-test-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  cleanup.add(() => fs.rmdirSync(dir));
  const srvComm = uniqueComm('lfcgsrv');
  const inComm = uniqueComm('lfcgin');
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', srvComm]);
  const d = await startDaemon(['--cgroup', dir]);
  try {
    // Moves itself into the cgroup, then becomes the workload.
    const inside = spawnWorkload('/bin/sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec ${bin} client --host 127.0.0.1 --port ${srv.port} --conns 4 --bytes 1000 --comm ${inComm}`]);
    await inside.waitForLine(/^DONE /);
    const outside = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(srv.port), '--conns', '2', '--bytes', '1000', '--comm', uniqueComm('lfcgout')]);
    await outside.waitForLine(/^DONE /);
    await eventually(async () => tcpOf(await d.scrape(), inComm).closed === 4);
    await sleep(300);
    const s = await d.scrape();
    assert.deepEqual(tcpOf(s, inComm, 'client'), { opened: 4, closed: 4, failed: 0, sent: 4 * 1008, received: 4 * 1000, retransmits: 0, resetsSent: 0, resetsReceived: 0, active: 0 });
    const comms = new Set(s.filter((x) => x.name.startsWith('lightfoot_tcp_')).map((x) => x.labels.comm));
    assert.deepEqual([...comms], [inComm], 'the server and the outside client are not in the cgroup');
  } finally {
    await d.stop();
  }
});

test('a restart of the daemon and an exiting target lose nothing and leak nothing', { skip: needsRoot }, async () => {
  const baselineLinks = linkCount();
  const sink = spawnWorkload(process.execPath, [STEPPER], { stdin: true });
  sink.send('listen');
  const port = Number((await sink.waitForLine(/^LISTENING (\d+)/))[1]);
  const client = spawnWorkload(process.execPath, [STEPPER], { stdin: true });

  // Daemon A sees the connection open and the first 1000 bytes.
  const a = await startDaemon(['--pid', String(client.pid)]);
  client.send(`connect 127.0.0.1 ${port}`);
  await client.waitForLine(/^CONNECTED/);
  client.send('send 1000');
  await client.waitForLine(/^SENT 1000$/);
  await eventually(async () => tcpOf(await a.scrape(), 'node').opened === 1);
  assert.equal(await a.stop(), 0);
  const final = a.logs.find((l) => l.msg === 'final counts')!;
  assert.equal((final.tcp as { flushed: number }).flushed, 1, 'the still-open connection was flushed at shutdown');
  const aFlush = a.events.filter((e) => e.event === 'flush');
  assert.equal(aFlush.at(-1)?.bytesSent, 1000, 'daemon A reported every byte it saw');

  // Nothing of daemon A is left in the kernel (maps are freed by deferred kernel work).
  await eventually(() => bpfObjectsNamed('lf_').maps.length === 0, 5000);
  assert.deepEqual(bpfObjectsNamed('lf_'), { progs: [], maps: [] });
  assert.equal(linkCount(), baselineLinks);

  // Daemon B picks the connection up on its next use and sees its end.
  const b = await startDaemon(['--pid', String(client.pid)]);
  try {
    client.send('send 2500');
    await client.waitForLine(/^SENT 3500$/);
    client.send('close');
    await client.waitForLine(/^CLOSED/);
    client.send('exit'); // the target exits: its socket is destroyed with it
    await client.exited;
    await eventually(async () => tcpOf(await b.scrape(), 'node').closed === 1);
    await sleep(200);
    const s = await b.scrape();
    const t = tcpOf(s, 'node');
    assert.deepEqual([t.opened, t.closed, t.sent, t.active], [1, 1, 2500, 0]);
    const opens = b.events.filter((e) => e.event === 'open');
    assert.deepEqual(opens.map((e) => e.preexisting), [true], 'marked as first seen mid-connection');
    // A + B account for every byte the client sent while either was running.
    assert.equal(1000 + t.sent, 3500);
    // The exited target is reported and forgotten, in the kernel too.
    await eventually(() => b.logs.some((l) => l.msg === 'target exited' && l.pid === client.pid), 5000);
    await eventually(async () => sumOf(await b.scrape(), 'lightfoot_targets') === 0, 5000);
  } finally {
    sink.send('exit');
    assert.equal(await b.stop(), 0);
  }
  await eventually(() => bpfObjectsNamed('lf_').maps.length === 0, 5000);
  assert.deepEqual(bpfObjectsNamed('lf_'), { progs: [], maps: [] });
  assert.equal(linkCount(), baselineLinks);
});

test('idle connections report their counters every flush interval', { skip: needsRoot }, async () => {
  const sink = spawnWorkload(process.execPath, [STEPPER], { stdin: true });
  sink.send('listen');
  const port = Number((await sink.waitForLine(/^LISTENING (\d+)/))[1]);
  const client = spawnWorkload(process.execPath, [STEPPER], { stdin: true });
  const d = await startDaemon(['--pid', String(client.pid), '--flush-interval-ms', '300']);
  try {
    client.send(`connect 127.0.0.1 ${port}`);
    await client.waitForLine(/^CONNECTED/);
    client.send('send 1234');
    await client.waitForLine(/^SENT 1234$/);
    // The connection now sits idle: no send or recv would ever carry a flush.
    await eventually(async () => tcpOf(await d.scrape(), 'node').sent === 1234, 5000);
    const flushes = d.events.filter((e) => e.event === 'flush');
    assert.ok(flushes.length >= 1);
    assert.equal(flushes.at(-1)!.bytesSent, 1234);
    assert.equal(tcpOf(await d.scrape(), 'node').closed, 0, 'still open');
  } finally {
    client.send('exit');
    sink.send('exit');
    await d.stop();
  }
});

test('a full ring buffer is counted: every event is either decoded or counted as dropped', { skip: needsRoot }, async () => {
  const K = 1000;
  const srvComm = uniqueComm('lfrbsrv');
  const cliComm = uniqueComm('lfrbcli');
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', srvComm]);
  // 64 KiB holds ~400 records; the client alone makes 4 per connection.
  const d = await startDaemon(['--comm', cliComm, '--ring-buffer-size', '64KiB', '--no-events', '--flush-interval-ms', '60000']);
  try {
    d.proc.kill('SIGSTOP'); // the consumer cannot drain while stopped
    const cli = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(srv.port), '--conns', String(K), '--bytes', '10', '--comm', cliComm]);
    await cli.waitForLine(/^DONE /, 60_000);
    await sleep(200); // TIME_WAIT sockets are destroyed when their owner exits
    await cli.exited;
    d.proc.kill('SIGCONT');
    await eventually(async () => {
      const s = await d.scrape();
      return kernelStat(s, 'emitted') === sumOf(s, 'lightfoot_events_total', { probe: 'tcp' });
    });
    const s = await d.scrape();
    const emitted = kernelStat(s, 'emitted');
    const dropped = kernelStat(s, 'dropped');
    assert.ok(dropped > 0, 'the ring overflowed');
    assert.equal(emitted + dropped, 4 * K, 'open, FIN_WAIT1, FIN_WAIT2 and close of each connection: each emitted or dropped');
    assert.equal(sumOf(s, 'lightfoot_events_total', { probe: 'tcp' }), emitted, 'everything emitted was decoded');
    assert.equal(sumOf(s, 'lightfoot_events_lost_total', { probe: 'tcp' }), dropped);
  } finally {
    d.proc.kill('SIGCONT');
    await d.stop();
  }
});
