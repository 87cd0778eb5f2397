/**
 * Retransmits provoked by dropping data segments (nftables, in a pair of test
 * network namespaces; netem is not available on these kernels) are counted:
 * at least one, exactly what the kernel's own per-namespace counter says, and
 * no more than were dropped plus those the kernel itself flags as spurious
 * (on this 2-vCPU VM, veth delivery on two CPUs reorders segments and TCP
 * sometimes resends one whose original was still queued:
 * TCPSpuriousRtxHostQueues, or that the peer reports as duplicate: DSACK).
 *
 * The rule drops packets 20, 40, 60 and 80 of each connection, by conntrack's
 * count: single losses that fast retransmit repairs one for one, and never a
 * retransmission (a later packet), which would send TCP into timeout recovery.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startDaemon } from '../helpers/daemon';
import { buildWorkloads } from '../helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../helpers/process';
import { cleanupStaleNamespaces, createNetnsPair, type NetnsPair } from '../helpers/netns';
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

/** The namespace's own TCP counters (nstat -az: absolute values). */
async function tcpCounters(ns: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await net!.exec(ns, 'nstat', ['-az'])).stdout.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name && value !== undefined) out[name] = Number(value);
  }
  return out;
}

test('retransmits provoked by dropped segments are counted', { skip: needsRoot }, async () => {
  const n = net!;
  // Keep the sender to real losses: no tail-loss probes, and no fast retransmit on
  // the reordering that veth processing on two CPUs causes (RACK off, a dupack
  // threshold of 20; a single drop still draws far more dupacks than that).
  for (const knob of ['net.ipv4.tcp_early_retrans=0', 'net.ipv4.tcp_recovery=0', 'net.ipv4.tcp_reordering=20']) {
    await n.exec(n.nsA, 'sysctl', ['-qw', knob]);
  }
  const srvComm = uniqueComm('lfrtsrv');
  const cliComm = uniqueComm('lfrtcli');
  const srv = await startServer(bin, ['server', '--port', '0', '--bind', n.addrB, '--comm', srvComm], { netns: n.nsB });
  await n.exec(n.nsB, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_acct=1']);
  await n.exec(n.nsB, 'nft', ['add', 'table', 'inet', 'lfrt']);
  await n.exec(n.nsB, 'nft', ['add', 'chain', 'inet', 'lfrt', 'input', '{ type filter hook input priority 0; }']);
  await n.exec(n.nsB, 'nft', ['add', 'rule', 'inet', 'lfrt', 'input', 'tcp', 'dport', String(srv.port), 'ct', 'original', 'packets', '{ 20, 40, 60, 80 }', 'counter', 'drop']);
  const drop = {
    async read(): Promise<number> {
      const out = (await n.exec(n.nsB, 'nft', ['list', 'chain', 'inet', 'lfrt', 'input'])).stdout;
      return Number(/counter packets (\d+)/.exec(out)![1]);
    },
  };
  const d = await startDaemon(['--comm', cliComm]);
  try {
    const before = await tcpCounters(n.nsA);
    const cli = spawnWorkload(bin, ['client', '--host', n.addrB, '--port', String(srv.port), '--conns', '2', '--bytes', '200000', '--reply-bytes', '10', '--comm', cliComm], { netns: n.nsA });
    await cli.waitForLine(/^DONE /, 60_000);
    await eventually(async () => tcpOf(await d.scrape(), cliComm).closed === 2, 15_000);
    await sleep(300);
    const t = tcpOf(await d.scrape(), cliComm, 'client');
    const dropped = await drop.read();
    const after = await tcpCounters(n.nsA);
    const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    const kernelCount = delta('TcpRetransSegs');
    // Spurious retransmits the kernel itself recognised (veth on two CPUs reorders).
    const spurious = delta('TcpExtTCPSpuriousRtxHostQueues') + delta('TcpExtTCPDSACKRecvSegs');
    assert.ok(dropped > 0, 'the rule dropped data segments');
    assert.ok(t.retransmits >= 1, `retransmits counted: ${t.retransmits}`);
    assert.ok(t.retransmits <= dropped + spurious, `no more retransmits (${t.retransmits}) than drops (${dropped}) plus the retransmits the kernel knows were spurious (${spurious})`);
    assert.equal(t.retransmits, kernelCount, "equal to the namespace's own RetransSegs");
    assert.deepEqual([t.opened, t.closed, t.sent], [2, 2, 2 * 200_008], 'bytes stay exact under loss');
  } finally {
    await d.stop();
  }
});
