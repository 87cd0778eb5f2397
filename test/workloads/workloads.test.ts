import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';

import { buildWorkloads } from './build';
import { cleanup, parseKv, spawnWorkload, startServer } from '../helpers/process';
import {
  addDropRule,
  cleanupStaleNamespaces,
  createNetnsPair,
  isRoot,
  NetnsPair,
  readDropCounter,
} from '../helpers/netns';

let bin = '';

before(async () => {
  bin = (await buildWorkloads()).tcpWorkload;
});

after(async () => {
  await cleanup.run();
});

describe('tcp_workload build', () => {
  test('binary is cached outside the repo and rebuild is a cache hit', async () => {
    assert.ok(fs.existsSync(bin));
    assert.ok(!bin.startsWith('/work/'), `binary must live outside the repo: ${bin}`);
    const again = await buildWorkloads();
    assert.equal(again.tcpWorkload, bin);
  });

  test('bad args print usage and exit 2', () => {
    for (const args of [[], ['bogus'], ['client', '--port', '1'], ['server', '--nope']]) {
      const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 5000 });
      assert.equal(r.status, 2, `args ${JSON.stringify(args)}`);
      assert.match(r.stderr, /usage:/);
    }
  });
});

describe('server/client on loopback', () => {
  test('K=3 B=1000: exact byte accounting on both sides', async () => {
    const { handle: srv, port } = await startServer(bin, ['server', '--port', '0', '--max-conns', '3']);
    const cli = spawnWorkload(bin, [
      'client', '--host', '127.0.0.1', '--port', String(port), '--conns', '3', '--bytes', '1000', '--comm', 'lf-wl-client',
    ]);
    // comm is applied immediately; the process may already be done, so only check when alive
    const done = await cli.waitForLine(/^DONE /, 15_000);
    assert.deepEqual(parseKv(done), { conns: 3, sent: 3 * (8 + 1000), received: 3000 });
    assert.equal((await cli.waitExit()).code, 0);

    const sdone = await srv.waitForLine(/^SERVER_DONE /, 10_000);
    assert.deepEqual(parseKv(sdone), { conns: 3, received: 3 * 1008, sent: 3000 });
    const conns = srv.lines.filter((l) => l.startsWith('CONN '));
    assert.equal(conns.length, 3);
    for (const l of conns) assert.match(l, /received=1008 sent=1000 status=ok$/);
    assert.equal((await srv.waitExit()).code, 0);
  });

  test('--reply-bytes differing from --bytes, and zero-byte payload', async () => {
    const { handle: srv, port } = await startServer(bin, ['server', '--port', '0']);
    const a = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(port), '--conns', '2', '--bytes', '100000', '--reply-bytes', '7']);
    assert.deepEqual(parseKv(await a.waitForLine(/^DONE /, 15_000)), { conns: 2, sent: 2 * 100008, received: 14 });
    const b = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(port), '--conns', '1', '--bytes', '0', '--reply-bytes', '300000']);
    assert.deepEqual(parseKv(await b.waitForLine(/^DONE /, 15_000)), { conns: 1, sent: 8, received: 300000 });
    await srv.waitForLine(/^CONN 3 .*received=8 sent=300000 status=ok$/, 5000);
    const info = await srv.kill('SIGTERM');
    assert.equal(info.code, 0, 'server exits cleanly on SIGTERM');
    assert.match(srv.stdout(), /SERVER_DONE conns=3 received=200024 sent=300014/);
  });

  test('--comm sets the process comm (pid of handle is the workload itself)', async () => {
    const { handle: srv, port } = await startServer(bin, ['server', '--port', '0', '--comm', 'lf-wl-srv-comm']);
    assert.equal(fs.readFileSync(`/proc/${srv.pid}/comm`, 'utf8').trim(), 'lf-wl-srv-comm');
    const cli = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(port), '--conns', '1', '--bytes', '10', '--hold-ms', '1500', '--comm', 'lf-wl-holder']);
    await srv.waitForLine(/^CONN 1 /, 5000); // server replied; client is now holding
    assert.equal(fs.readFileSync(`/proc/${cli.pid}/comm`, 'utf8').trim(), 'lf-wl-holder');
    assert.ok(!cli.hasExited, 'client holds the connection for --hold-ms');
    await cli.waitForLine(/^DONE conns=1 sent=18 received=10$/, 10_000);
    await srv.kill();
  });

  test('--reset: client RSTs after its data is ACKed; server survives and keeps serving', async () => {
    const { handle: srv, port } = await startServer(bin, ['server', '--port', '0']);
    const r = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(port), '--conns', '2', '--bytes', '50000', '--reset']);
    assert.deepEqual(parseKv(await r.waitForLine(/^DONE /, 15_000)), { conns: 2, sent: 2 * 50008, received: 0 });
    assert.equal((await r.waitExit()).code, 0);
    await srv.waitForLine(/^CONN 2 .*received=50008 sent=0 status=reset$/, 5000);
    assert.match(srv.lines.find((l) => l.startsWith('CONN 1 '))!, /received=50008 sent=0 status=reset$/);
    assert.ok(!srv.hasExited, 'server still running after RSTs');
    // and still serves a normal connection
    const ok = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(port), '--conns', '1', '--bytes', '1000']);
    await ok.waitForLine(/^DONE conns=1 sent=1008 received=1000$/, 10_000);
    await srv.waitForLine(/^CONN 3 .*status=ok$/, 5000);
    await srv.kill();
  });

  test('pingpong: 4 conns x 64 B for 1 s', async () => {
    const { handle: srv, port } = await startServer(bin, ['pingpong-server', '--port', '0']);
    const pp = spawnWorkload(bin, ['pingpong', '--host', '127.0.0.1', '--port', String(port), '--conns', '4', '--msg-bytes', '64', '--duration-ms', '1000', '--comm', 'lf-wl-pp']);
    const m = await pp.waitForLine(/^RESULT requests=(\d+) seconds=([\d.]+) rps=([\d.]+)$/, 15_000);
    const [requests, seconds, rps] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.ok(requests > 1000, `requests=${requests}`);
    assert.ok(seconds >= 1 && seconds < 3, `seconds=${seconds}`);
    assert.ok(Math.abs(rps - requests / seconds) / rps < 0.01);
    const bytes = parseKv(await pp.waitForLine(/^BYTES /));
    assert.deepEqual(bytes, { sent: requests * 64, received: requests * 64 });
    assert.equal((await pp.waitExit()).code, 0);
    // the echo server sees EOF on all 4 connections and keeps running
    assert.ok(!srv.hasExited);
    await srv.kill();
    console.log(`# pingpong loopback 4x64B: ${m[0]}`);
  });
});

describe('netns pair + nftables drop rule', { skip: isRoot() ? false : 'needs root (ip netns / nft)' }, () => {
  let pair: NetnsPair | undefined;

  before(async () => {
    await cleanupStaleNamespaces();
    pair = await createNetnsPair(`wl${process.pid}`);
  });
  after(async () => {
    await cleanup.run();
    await pair?.destroy();
    await pair?.destroy(); // idempotent
  });

  test('pair is isolated and reachable', async () => {
    const p = pair!;
    const hostLinks = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
    assert.ok(!/lfv[ab]/.test(hostLinks), 'no veth end in the host namespace');
    const addrs = await p.exec(p.nsA, 'ip', ['-o', '-4', 'addr']);
    assert.match(addrs.stdout, new RegExp(`${p.addrA.replace(/\./g, '\\.')}/30`));
    assert.match(addrs.stdout, /127\.0\.0\.1/);
    const routes = await p.exec(p.nsA, 'ip', ['-4', 'route']);
    assert.ok(!/default/.test(routes.stdout), 'no default route inside the namespace');
    const { handle: srv, port } = await startServer(bin, ['server', '--port', '0', '--bind', p.addrB, '--max-conns', '1'], { netns: p.nsB });
    const cli = spawnWorkload(bin, ['client', '--host', p.addrB, '--port', String(port), '--conns', '1', '--bytes', '1'], { netns: p.nsA });
    await cli.waitForLine(/^DONE conns=1 sent=9 received=1$/, 10_000);
    await srv.waitForLine(new RegExp(`^CONN 1 peer=${p.addrA.replace(/\./g, '\\.')}:\\d+ received=9 sent=1 status=ok$`), 5000);
  });

  async function retransSegs(ns: string): Promise<number> {
    const snmp = await pair!.exec(ns, 'cat', ['/proc/net/snmp']);
    const tcp = snmp.stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
    const hdr = tcp[0].split(/\s+/);
    return Number(tcp[1].split(/\s+/)[hdr.indexOf('RetransSegs')]);
  }

  test('random drop on the receiver input provokes retransmits; transfer completes exactly', async () => {
    const p = pair!;
    const { handle: srv, port } = await startServer(bin, ['server', '--port', '0', '--bind', p.addrB], { netns: p.nsB });
    // client in nsA sends 3 x 300008 bytes; ~10% of its data segments are dropped when arriving in nsB
    const rule = await addDropRule(p.nsB, { probability: 10, dport: port }, 'input');
    const before = await retransSegs(p.nsA);
    const cli = spawnWorkload(
      bin,
      ['client', '--host', p.addrB, '--port', String(port), '--conns', '3', '--bytes', '300000', '--reply-bytes', '1000', '--comm', 'lf-wl-drop'],
      { netns: p.nsA },
    );
    const done = await cli.waitForLine(/^DONE /, 60_000);
    assert.deepEqual(parseKv(done), { conns: 3, sent: 3 * 300008, received: 3000 });
    assert.equal((await cli.waitExit()).code, 0);
    const dropped = await readDropCounter(p.nsB);
    assert.equal(await rule.read(), dropped);
    assert.ok(dropped > 0, `dropped=${dropped}`);
    await srv.waitForLine(/^CONN 3 .*received=300008 sent=1000 status=ok$/, 10_000);
    const retrans = (await retransSegs(p.nsA)) - before;
    assert.ok(retrans >= dropped, `RetransSegs delta=${retrans} < dropped=${dropped}`);
    console.log(`# netns random 10%: dropped=${dropped} RetransSegs(nsA) delta=${retrans}`);
    await rule.remove();
    await rule.remove(); // idempotent
    await srv.kill();
  });

  test('everyNth drop of the server reply; pid/comm/netns of a workload started via ip netns exec', async () => {
    const p = pair!;
    const { handle: srv, port } = await startServer(bin, ['server', '--port', '0', '--bind', p.addrA, '--comm', 'lf-wl-nssrv'], { netns: p.nsA });
    // pid is the workload's own pid even through `ip netns exec` (it execs in place)
    assert.equal(fs.readFileSync(`/proc/${srv.pid}/comm`, 'utf8').trim(), 'lf-wl-nssrv');
    // ... and it really runs inside nsA: its net ns inode equals the bind-mounted /run/netns/<nsA>
    assert.equal(fs.readlinkSync(`/proc/${srv.pid}/ns/net`), `net:[${fs.statSync(`/run/netns/${p.nsA}`).ino}]`);
    // server in nsA; every 5th reply data segment arriving in nsB is dropped
    const rule = await addDropRule(p.nsB, { everyNth: 5, sport: port, counter: 'lf_nth' }, 'input');
    const before = await retransSegs(p.nsA);
    const cli = spawnWorkload(bin, ['client', '--host', p.addrA, '--port', String(port), '--conns', '1', '--bytes', '10', '--reply-bytes', '200000'], { netns: p.nsB });
    await cli.waitForLine(/^DONE conns=1 sent=18 received=200000$/, 60_000);
    const dropped = await rule.read();
    const retrans = (await retransSegs(p.nsA)) - before;
    assert.ok(dropped > 0, `dropped=${dropped}`);
    assert.ok(retrans >= dropped, `RetransSegs delta=${retrans} < dropped=${dropped}`);
    console.log(`# netns everyNth=5: dropped=${dropped} RetransSegs(nsA) delta=${retrans}`);
    await rule.remove();
    await srv.kill();
  });
});
