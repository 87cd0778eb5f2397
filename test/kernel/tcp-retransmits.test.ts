/**
 * Retransmits provoked by dropping data segments (nftables, in a pair of test
 * network namespaces; netem is not available on these kernels) are counted:
 * at least one, no more than were dropped, and exactly what the kernel's own
 * per-namespace counter says.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startDaemon } from '../helpers/daemon';
import { buildWorkloads } from '../helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../helpers/process';
import { addDropRule, cleanupStaleNamespaces, createNetnsPair, type NetnsPair } from '../helpers/netns';
import { needsRoot, sleep, tcpOf, uniqueComm } from './kernel-test-env';

let bin = '';
let net: NetnsPair | undefined;
before(async () => {
  if (needsRoot) return;
  bin = (await buildWorkloads()).tcpWorkload;
  await cleanupStaleNamespaces();
  net = await createNetnsPair(`rt${process.pid % 1000}`);
});
after(async () => {
  await cleanup.run();
  await net?.destroy();
});

async function retransSegs(ns: string): Promise<number> {
  const snmp = (await net!.exec(ns, 'cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = snmp[0].split(/\s+/);
  return Number(snmp[1].split(/\s+/)[names.indexOf('RetransSegs')]);
}

test('retransmits provoked by dropped segments are counted', { skip: needsRoot }, async () => {
  const n = net!;
  // Tail-loss probes may retransmit segments that were not lost; keep to real losses.
  await n.exec(n.nsA, 'sysctl', ['-qw', 'net.ipv4.tcp_early_retrans=0']);
  const srvComm = uniqueComm('lfrtsrv');
  const cliComm = uniqueComm('lfrtcli');
  const srv = await startServer(bin, ['server', '--port', '0', '--bind', n.addrB, '--comm', srvComm], { netns: n.nsB });
  const drop = await addDropRule(n.nsB, { everyNth: 10, dport: srv.port }, 'input');
  const d = await startDaemon(['--comm', cliComm]);
  try {
    const before = await retransSegs(n.nsA);
    const cli = spawnWorkload(bin, ['client', '--host', n.addrB, '--port', String(srv.port), '--conns', '2', '--bytes', '200000', '--reply-bytes', '10', '--comm', cliComm], { netns: n.nsA });
    await cli.waitForLine(/^DONE /, 60_000);
    await eventually(async () => tcpOf(await d.scrape(), cliComm).closed === 2, 15_000);
    await sleep(300);
    const t = tcpOf(await d.scrape(), cliComm, 'client');
    const dropped = await drop.read();
    const kernelCount = (await retransSegs(n.nsA)) - before;
    assert.ok(dropped > 0, 'the rule dropped data segments');
    assert.ok(t.retransmits >= 1, `retransmits counted: ${t.retransmits}`);
    assert.ok(t.retransmits <= dropped, `no more retransmits (${t.retransmits}) than drops (${dropped})`);
    assert.equal(t.retransmits, kernelCount, "equal to the namespace's own RetransSegs");
    assert.deepEqual([t.opened, t.closed, t.sent], [2, 2, 2 * 200_008], 'bytes stay exact under loss');
  } finally {
    await d.stop();
  }
});
