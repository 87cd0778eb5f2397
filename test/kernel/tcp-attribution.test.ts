/**
 * Attribution without per-send/recv hooks (bpf/tcp.bpf.c): a server that
 * starts listening while the daemon runs owns its accepted connections
 * through the mark its listener gets in listen(), which the kernel clones
 * into each child; bytes come from the kernel's own counters, exact even when
 * the server closes without reading what the peer sent last.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startDaemon } from '../helpers/daemon';
import { buildWorkloads } from '../helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../helpers/process';
import { kernelStat, needsRoot, sleep, tcpOf, uniqueComm } from './kernel-test-env';

let bin = '';
before(async () => {
  if (!needsRoot) bin = (await buildWorkloads()).tcpWorkload;
});
after(() => cleanup.run());

test('a server that listens after the daemon started owns its accepted connections, bytes exact', { skip: needsRoot }, async () => {
  const K = 4, B = 5_000, R = 700;
  const srvComm = uniqueComm('lfasrv');
  const cliComm = uniqueComm('lfacli');
  // Only the server is selected, by a name it does not have yet when the daemon starts.
  const d = await startDaemon(['--comm', srvComm, '--flush-interval-ms', '60000']);
  try {
    const srv = await startServer(bin, ['server', '--port', '0', '--comm', srvComm]);
    const cli = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(srv.port), '--conns', String(K), '--bytes', String(B), '--reply-bytes', String(R), '--comm', cliComm]);
    await cli.waitForLine(/^DONE /);
    await eventually(async () => tcpOf(await d.scrape(), srvComm).closed === K, 10_000);
    await sleep(300);
    const s = await d.scrape();
    assert.deepEqual(tcpOf(s, srvComm, 'server'), { opened: K, closed: K, failed: 0, sent: K * R, received: K * (8 + B), retransmits: 0, resetsSent: 0, resetsReceived: 0, active: 0 });
    assert.equal(tcpOf(s, cliComm).opened, 0, 'the client is not selected');
    const series = s.filter((x) => x.name === 'lightfoot_tcp_bytes_received_total' && x.labels.comm === srvComm);
    assert.deepEqual(series.map((x) => [x.labels.pid, x.labels.role, x.labels.port]), [[String(srv.handle.pid), 'server', String(srv.port)]]);
    const opens = d.events.filter((e) => e.comm === srvComm && e.event === 'open');
    assert.deepEqual(opens.map((e) => [e.oldState, e.state, e.preexisting]), Array(K).fill(['SYN_RECV', 'ESTABLISHED', false]));
    assert.equal(kernelStat(s, 'dropped'), 0);
  } finally {
    assert.equal(await d.stop(), 0);
  }
});
