/**
 * The built-in http2 decoder end to end: the real daemon, the TCP probe's
 * payload capture (h2c) and real peers in their own processes — Node's http2,
 * @grpc/grpc-js, nghttp/nghttpd and curl — with exact counts on both sides,
 * RST_STREAM(CANCEL), GOAWAY on shutdown with the connection's 4-tuple and
 * process in the event line, PING RTT, and a connection opened before the
 * daemon started (counted; fields right or `unknown`, never wrong).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { eventually, startDaemon, type Daemon } from '../helpers/daemon';
import { cleanup, spawnWorkload } from '../helpers/process';
import { sumOf, type Sample } from '../helpers/prom';
import { PEERS, peerRun, peerServer } from '../decoders/http2-harness';
import { makeCert } from '../helpers/tls';
import { needsRoot, sleep, uniqueComm } from './kernel-test-env';

after(() => cleanup.run());

const count = (s: Sample[], metric: string, labels: Record<string, string> = {}): number => sumOf(s, `${metric}_count`, labels);
const hasNghttp = ((): boolean => {
  try {
    execFileSync('sh', ['-c', 'command -v nghttp && command -v nghttpd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function withDaemon(comms: string[], fn: (d: Daemon) => Promise<void>): Promise<void> {
  // Cleartext (h2c) needs TCP payload capture, which is opt-in (--capture).
  const d = await startDaemon([...comms.flatMap((c) => ['--comm', c]), '--capture', 'tcp,openssl']);
  try {
    assert.deepEqual(d.logs.find((l) => l.msg === 'lightfoot ready')?.payloadCapture, ['tcp', 'openssl'], 'the http2 decoder with --capture tcp turns TCP payload capture on');
    await fn(d);
  } finally {
    await d.stop();
  }
}

test('Node http2 h2c, both sides: 20 requests -> exactly 16x200 + 4x404 per side, 2 RST_STREAM(CANCEL), a PING RTT', { skip: needsRoot }, async () => {
  const sc = uniqueComm('lfh2ns'), cc = uniqueComm('lfh2nc');
  await withDaemon([sc, cc], async (d) => {
    const srv = await peerServer(['node-server', '--port', '0', '--comm', sc]);
    try {
      const done = await peerRun(['node-client', '--port', String(srv.port), '--requests', '20', '--cancel', '2', '--ping', '--comm', cc]);
      assert.equal(done, 'DONE ok=16 notfound=4 cancelled=2 ping=1');
      await eventually(async () => count(await d.scrape(), 'lightfoot_http_server_request_duration_seconds') === 20 &&
        count(await d.scrape(), 'lightfoot_http_client_request_duration_seconds') === 20, 10_000);
      const s = await d.scrape();
      const port = String(srv.port);
      assert.equal(count(s, 'lightfoot_http_server_request_duration_seconds', { http_request_method: 'GET', http_response_status_code: '200', http_route: '/items/{id}', server_port: port }), 16);
      assert.equal(count(s, 'lightfoot_http_server_request_duration_seconds', { http_response_status_code: '404', http_route: '/missing', server_port: port }), 4);
      assert.equal(count(s, 'lightfoot_http_client_request_duration_seconds', { http_response_status_code: '200', url_template: '/items/{id}', server_address: '127.0.0.1', server_port: port }), 16);
      assert.equal(count(s, 'lightfoot_http_client_request_duration_seconds', { http_response_status_code: '404', url_template: '/missing', server_address: '127.0.0.1', server_port: port }), 4);
      assert.equal(sumOf(s, 'lightfoot_http2_stream_resets_total', { side: 'client', error_code: 'CANCEL', sender: 'local' }), 2);
      assert.equal(sumOf(s, 'lightfoot_http2_stream_resets_total', { side: 'server', error_code: 'CANCEL', sender: 'peer' }), 2);
      assert.equal(count(s, 'lightfoot_http2_ping_rtt_seconds', { side: 'client', sender: 'local' }), 1);
      assert.equal(sumOf(s, 'lightfoot_http2_connections_total', { detected: 'preface', transport: 'h2c' }), 2, 'one connection, seen from each end');
      assert.equal(sumOf(s, 'lightfoot_http2_resyncs_total'), 0);
      assert.equal(sumOf(s, 'lightfoot_decoder_faults_total', { decoder: 'http2' }), 0);
      const resets = d.events.filter((e) => e.event === 'stream-reset' && e.side === 'client');
      assert.equal(resets.length, 2);
      assert.equal(resets[0]!.comm, cc);
      assert.match(String(resets[0]!.remote), new RegExp(`^127\\.0\\.0\\.1:${port}$`));
      assert.equal((resets[0]!.annotations as Record<string, string>).protocol, 'h2c');
    } finally {
      await srv.kill();
    }
  });
});

test('grpc-js h2c, both sides: 7 OK, 3 NOT_FOUND, 2 INTERNAL and a server-streaming call, exactly per code; one event line per failed RPC', { skip: needsRoot }, async () => {
  const sc = uniqueComm('lfh2gs'), cc = uniqueComm('lfh2gc');
  await withDaemon([sc, cc], async (d) => {
    const srv = await peerServer(['grpc-server', '--port', '0', '--comm', sc]);
    try {
      const done = await peerRun(['grpc-client', '--port', String(srv.port), '--plan', 'ok:7,notfound:3,internal:2', '--stream', '1', '--comm', cc]);
      assert.equal(done, 'DONE codes={"0":7,"5":3,"13":2} streamed=3');
      await eventually(async () => count(await d.scrape(), 'lightfoot_rpc_server_duration_seconds') === 13 &&
        count(await d.scrape(), 'lightfoot_rpc_client_duration_seconds') === 13, 10_000);
      const s = await d.scrape();
      for (const side of ['server', 'client']) {
        const m = `lightfoot_rpc_${side}_duration_seconds`;
        const base = { rpc_system: 'grpc', rpc_service: 'lightfoot.test.Echo', server_port: String(srv.port) };
        assert.equal(count(s, m, { ...base, rpc_method: 'Unary', rpc_grpc_status_code: '0' }), 7, side);
        assert.equal(count(s, m, { ...base, rpc_method: 'Unary', rpc_grpc_status_code: '5' }), 3, side);
        assert.equal(count(s, m, { ...base, rpc_method: 'Unary', rpc_grpc_status_code: '13' }), 2, side);
        assert.equal(count(s, m, { ...base, rpc_method: 'Stream', rpc_grpc_status_code: '0' }), 1, side);
        const failed = d.events.filter((e) => e.event === 'rpc-failed' && e.side === side);
        assert.equal(failed.length, 5, `${side}: failure lines`);
        const nf = failed.find((e) => e.grpcCode === 'NOT_FOUND')!;
        assert.equal(nf.grpcMessage, 'no such item: 42');
        assert.equal(nf.comm, side === 'server' ? sc : cc);
        assert.equal(typeof nf.pid, 'number');
        assert.match(String(nf.local), /^127\.0\.0\.1:\d+$/);
      }
      assert.equal(count(s, 'lightfoot_http_server_request_duration_seconds'), 0);
    } finally {
      await srv.kill();
    }
  });
});

test('grpc-js over TLS (OpenSSL inside node), both sides, default capture: exact per code, joined to the TCP connection', { skip: needsRoot }, async () => {
  const sc = uniqueComm('lfh2ts'), cc = uniqueComm('lfh2tc');
  const cert = makeCert();
  // The default daemon: TLS plaintext (openssl) is captured, cleartext is not.
  const d = await startDaemon(['--comm', sc, '--comm', cc]);
  try {
    assert.deepEqual(d.logs.find((l) => l.msg === 'lightfoot ready')?.payloadCapture, ['openssl']);
    const srv = await peerServer(['grpc-server', '--port', '0', '--tls', `${cert.key},${cert.cert}`, '--comm', sc]);
    try {
      // The server's node binary is planned and attached (at its exec, or the next rescan);
      // the client runs the same binary, so its calls are covered from its first one.
      await eventually(() => d.logs.some((l) => l.msg === 'uprobes attached' && l.module === 'openssl'), 15_000);
      const done = await peerRun(['grpc-client', '--port', String(srv.port), '--plan', 'ok:4,notfound:2,internal:1', '--stream', '1', '--tls', cert.cert, '--comm', cc]);
      assert.equal(done, 'DONE codes={"0":4,"5":2,"13":1} streamed=3');
      await eventually(async () => count(await d.scrape(), 'lightfoot_rpc_server_duration_seconds') === 8 &&
        count(await d.scrape(), 'lightfoot_rpc_client_duration_seconds') === 8, 10_000).catch(async (err) => {
        const s = await d.scrape();
        throw new Error(`${(err as Error).message}: server=${count(s, 'lightfoot_rpc_server_duration_seconds')} client=${count(s, 'lightfoot_rpc_client_duration_seconds')} ssl=${JSON.stringify(s.filter((x) => x.name === 'lightfoot_probe_kernel_events_total' && x.labels.probe === 'openssl').map((x) => [x.labels.stat, x.value]))}`);
      });
      await sleep(300);
      const s = await d.scrape();
      for (const side of ['server', 'client']) {
        const m = `lightfoot_rpc_${side}_duration_seconds`;
        const base = { rpc_system: 'grpc', rpc_service: 'lightfoot.test.Echo', server_port: String(srv.port) };
        assert.equal(count(s, m, { ...base, rpc_method: 'Unary', rpc_grpc_status_code: '0' }), 4, side);
        assert.equal(count(s, m, { ...base, rpc_method: 'Unary', rpc_grpc_status_code: '5' }), 2, side);
        assert.equal(count(s, m, { ...base, rpc_method: 'Unary', rpc_grpc_status_code: '13' }), 1, side);
        assert.equal(count(s, m, { ...base, rpc_method: 'Stream', rpc_grpc_status_code: '0' }), 1, side);
      }
      assert.equal(sumOf(s, 'lightfoot_http2_connections_total', { transport: 'tls' }), 2, 'one TLS connection, seen from each end');
      assert.equal(sumOf(s, 'lightfoot_http2_connections_total', { transport: 'h2c' }), 0);
      assert.equal(sumOf(s, 'lightfoot_probe_kernel_events_total', { probe: 'openssl', stat: 'unjoined' }), 0, 'every TLS call joined to its socket');
      assert.equal(sumOf(s, 'lightfoot_decoder_faults_total', { decoder: 'http2' }), 0);
      const failed = d.events.filter((e) => e.event === 'rpc-failed' && e.side === 'server');
      assert.equal(failed.length, 3);
      assert.equal((failed[0]!.annotations as Record<string, string>).protocol, 'h2');
    } finally {
      await srv.kill();
    }
  } finally {
    assert.equal(await d.stop(), 0);
  }
});

test('without --capture tcp, cleartext is not captured: no capture hook, no h2c decoded, TCP still exact', { skip: needsRoot }, async () => {
  const sc = uniqueComm('lfh2xs'), cc = uniqueComm('lfh2xc');
  const d = await startDaemon(['--comm', sc, '--comm', cc, '--bpf-stats']);
  try {
    assert.deepEqual(d.logs.find((l) => l.msg === 'lightfoot ready')?.payloadCapture, ['openssl'], 'default: TLS plaintext only');
    assert.ok(d.logs.some((l) => String(l.msg).startsWith('payload capture off for tcp (--capture)')), 'the daemon says why h2c is not decoded');
    const srv = await peerServer(['node-server', '--port', '0', '--comm', sc]);
    try {
      assert.equal(await peerRun(['node-client', '--port', String(srv.port), '--requests', '5', '--comm', cc]), 'DONE ok=4 notfound=1 cancelled=0 ping=0');
      await eventually(async () => sumOf(await d.scrape(), 'lightfoot_tcp_connections_closed_total', { comm: cc }) === 1, 10_000);
      const s = await d.scrape();
      assert.equal(count(s, 'lightfoot_http_server_request_duration_seconds'), 0);
      assert.equal(count(s, 'lightfoot_http_client_request_duration_seconds'), 0);
      const hooked = s.filter((x) => x.name === 'lightfoot_bpf_program_runs_total' && /^lf_tcp_(enter|exit)_|^lf_tcp_(send|recv)_length$/.test(x.labels.program));
      assert.deepEqual(hooked.filter((x) => x.value > 0), [], 'no per-syscall capture hook ran');
    } finally {
      await srv.kill();
    }
  } finally {
    assert.equal(await d.stop(), 0);
  }
});

test('GOAWAY on shutdown: a server that stops sends GOAWAY(NO_ERROR), one event line each side with the 4-tuple and process', { skip: needsRoot }, async () => {
  const sc = uniqueComm('lfh2ws'), cc = uniqueComm('lfh2wc');
  await withDaemon([sc, cc], async (d) => {
    const srv = await peerServer(['node-server', '--port', '0', '--comm', sc]);
    const cli = spawnWorkload(process.execPath, [PEERS, 'node-client', '--port', String(srv.port), '--requests', '4', '--hold', '--comm', cc], { stdin: true });
    await cli.waitForLine(/^READY/);
    await srv.kill(); // SIGTERM: server.close() sends GOAWAY on the open session
    // each end's lane reports on its own schedule: wait for both
    await eventually(() => d.events.some((e) => e.event === 'goaway' && e.side === 'client' && e.sender === 'peer') &&
      d.events.some((e) => e.event === 'goaway' && e.side === 'server' && e.sender === 'local'), 10_000);
    await sleep(300);
    const g = d.events.filter((e) => e.event === 'goaway' && e.sender === 'local' && e.side === 'server');
    assert.ok(g.length >= 1, 'the server sent GOAWAY (Node sends one on close() and one as the session ends)');
    assert.equal(g[0]!.errorCode, 'NO_ERROR');
    assert.equal(g[0]!.comm, sc);
    assert.match(String(g[0]!.local), new RegExp(`:${srv.port}$`));
    assert.equal(typeof g[0]!.debugDataLength, 'number');
    assert.ok(!('debugData' in g[0]!));
    const s = await d.scrape();
    assert.equal(sumOf(s, 'lightfoot_http2_goaways_total', { side: 'server', error_code: 'NO_ERROR', sender: 'local' }), g.length, 'one line per GOAWAY');
    assert.equal(sumOf(s, 'lightfoot_http2_goaways_total', { side: 'client', error_code: 'NO_ERROR', sender: 'peer' }), g.length, 'the client saw each of them');
    cli.send('go');
    await cli.exited;
  });
});

test('a connection opened before lightfoot started is counted, mid-stream; every field right or `unknown`', { skip: needsRoot }, async () => {
  const sc = uniqueComm('lfh2ps'), cc = uniqueComm('lfh2pc');
  const srv = await peerServer(['node-server', '--port', '0', '--comm', sc]);
  const cli = spawnWorkload(process.execPath, [PEERS, 'node-client', '--port', String(srv.port), '--requests', '40', '--hold', '--comm', cc], { stdin: true });
  try {
    await cli.waitForLine(/^READY/); // 20 requests done, the session stays open
    await withDaemon([sc, cc], async (d) => {
      cli.send('go');
      await cli.waitForLine(/^DONE/);
      await eventually(async () => sumOf(await d.scrape(), 'lightfoot_http2_streams_total', { outcome: 'complete' }) >= 40, 10_000).catch(async (err) => {
        const s = await d.scrape();
        const pick = (re: RegExp) => JSON.stringify(s.filter((x) => re.test(x.name) || (x.name === 'lightfoot_probe_kernel_events_total' && x.labels.probe === 'tcp')).map((x) => [x.name, x.labels, x.value]));
        throw new Error(`${(err as Error).message}: ${pick(/^lightfoot_http2_(streams|connections|resyncs)_total$|^lightfoot_decoder_(stream_bytes|batches)_dropped_total$/)}`);
      });
      await sleep(300);
      const s = await d.scrape();
      assert.equal(sumOf(s, 'lightfoot_http2_connections_total', { detected: 'midstream' }), 2, 'found mid-stream from both ends');
      for (const side of ['client', 'server']) assert.equal(sumOf(s, 'lightfoot_http2_streams_total', { side, outcome: 'complete' }), 20, side);
      for (const x of s.filter((x) => x.name === 'lightfoot_http_server_request_duration_seconds_count' || x.name === 'lightfoot_http_client_request_duration_seconds_count')) {
        const route = x.labels.http_route ?? x.labels.url_template;
        assert.ok(['/items/{id}', '/missing', 'unknown'].includes(route!), `route ${route}`);
        assert.ok(['200', '404', 'unknown'].includes(x.labels.http_response_status_code!), JSON.stringify(x.labels));
        assert.ok(['GET', 'unknown'].includes(x.labels.http_request_method!), JSON.stringify(x.labels));
      }
    });
  } finally {
    await cli.kill();
    await srv.kill();
  }
});

test('nghttp against nghttpd (h2c, non-Node peers): N requests on one connection counted exactly per status', { skip: needsRoot || (!hasNghttp && 'nghttp2-client/nghttp2-server not installed (scripts/setup.sh installs them)') }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-nghttpd-'));
  cleanup.add(() => fs.rmSync(root, { recursive: true, force: true }));
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(root, `f${i}.txt`), `file ${i}\n`.repeat(100));
  const port = 20000 + (process.pid % 20000);
  await withDaemon(['nghttpd', 'nghttp', 'curl'], async (d) => {
    const srv = spawnWorkload('nghttpd', ['--no-tls', '-d', root, '-a', '127.0.0.1', String(port)]);
    try {
      await sleep(500);
      // nghttp fetches each distinct URI once, all on one connection
      const urls = [...[0, 1, 2, 3, 4].map((i) => `http://127.0.0.1:${port}/f${i}.txt`), `http://127.0.0.1:${port}/nope`];
      execFileSync('nghttp', ['-n', ...urls], { timeout: 10_000 });
      execFileSync('curl', ['-s', '-o', '/dev/null', '--http2-prior-knowledge', `http://127.0.0.1:${port}/f2.txt`], { timeout: 10_000 });
      await eventually(async () => count(await d.scrape(), 'lightfoot_http_server_request_duration_seconds') === 7, 10_000).catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify((await d.scrape()).filter((x) => /^lightfoot_(http|rpc)/.test(x.name) && !x.name.endsWith('_bucket')))}`);
      });
      const s = await d.scrape();
      const p = String(port);
      assert.equal(count(s, 'lightfoot_http_server_request_duration_seconds', { http_response_status_code: '200', server_port: p }), 6);
      assert.equal(count(s, 'lightfoot_http_server_request_duration_seconds', { http_response_status_code: '404', server_port: p }), 1);
      assert.equal(count(s, 'lightfoot_http_client_request_duration_seconds', { http_response_status_code: '200', server_port: p }), 6);
      assert.equal(count(s, 'lightfoot_http_client_request_duration_seconds', { http_response_status_code: '404', server_port: p }), 1);
      assert.equal(sumOf(s, 'lightfoot_http2_connections_total', { detected: 'preface' }), 4, 'two connections, each seen from both ends');
    } finally {
      await srv.kill();
    }
  });
});
