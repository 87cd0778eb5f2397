/**
 * The openssl probe module end to end: real TLS clients (curl with the shared
 * libssl.so.3, a C client linked with libssl.a, one using only the _ex calls,
 * Rust clients linked statically with BoringSSL and with OpenSSL 1.1.1,
 * Node's https with the OpenSSL inside the node binary) against local TLS
 * servers, the daemon attached per binary by the module's planner, and the
 * shipped http1-requests decoder subscribed to the TLS plaintext streams.
 * Every count is exact; bytes are compared with what the programs moved.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { eventually, startDaemon, type Daemon } from '../helpers/daemon';
import { buildTlsClients, type TlsClients } from '../workloads/build';
import { cleanup, spawnWorkload } from '../helpers/process';
import { sumOf, type Sample } from '../helpers/prom';
import { buildHttp1ForTls, makeCert } from '../helpers/tls';
import { needsRoot, sleep, uniqueComm } from './kernel-test-env';

const run = promisify(execFile);
let clients: TlsClients;
let decoders = '';
let certDir = '';

/** curl under a name of this run: other test runs on the machine also run curl. */
let curl = 'curl';
let curlComm = 'curl';

before(async () => {
  if (needsRoot) return;
  curlComm = uniqueComm('lfcurl');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-curl-'));
  cleanup.add(() => fs.rmSync(dir, { recursive: true, force: true }));
  curl = path.join(dir, curlComm);
  fs.copyFileSync('/usr/bin/curl', curl);
  fs.chmodSync(curl, 0o755);
  clients = await buildTlsClients();
  decoders = buildHttp1ForTls();
  certDir = makeCert().dir;
});
after(() => cleanup.run());

const BIG = 4 * 1024 * 1024;
function response(pathname: string): Buffer {
  if (pathname === '/big') return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG}\r\nConnection: close\r\n\r\n`), Buffer.alloc(BIG, 0x78)]);
  const status = pathname === '/missing' ? '404 Not Found' : '200 OK';
  return Buffer.from(`HTTP/1.1 ${status}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
}

/** A TLS server in this (unselected) process that answers fixed bytes, so byte counts are exact. */
async function tlsServer(): Promise<{ port: number; received: () => number; sent: () => number }> {
  let received = 0;
  let sent = 0;
  const server = tls.createServer({ key: fs.readFileSync(path.join(certDir, 'key.pem')), cert: fs.readFileSync(path.join(certDir, 'cert.pem')) }, (sock) => {
    let head = '';
    sock.on('data', (d: Buffer) => {
      received += d.length;
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const target = head.split(' ')[1] ?? '/';
      const body = response(target);
      sent += body.length;
      sock.end(body);
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.add(() => new Promise((r) => server.close(() => r(undefined))));
  return { port: (server.address() as { port: number }).port, received: () => received, sent: () => sent };
}

function sslStat(s: Sample[], stat: string): number {
  return sumOf(s, 'lightfoot_probe_kernel_events_total', { probe: 'openssl', stat });
}

function requests(s: Sample[], status: string): number {
  return sumOf(s, 'lightfoot_http1_requests_total', { method: 'GET', status_class: status });
}

async function daemon(args: string[]): Promise<Daemon> {
  return startDaemon([...args, '--decoders', decoders]);
}

test('curl over HTTPS (shared libssl.so.3): N requests counted exactly, bytes equal, joined to the TCP connection', { skip: needsRoot }, async () => {
  const srv = await tlsServer();
  const d = await daemon(['--comm', curlComm]);
  try {
    assert.deepEqual(d.logs.find((l) => l.msg === 'lightfoot ready')?.probes, ['tcp', 'openssl']);
    // The first curl after start is planned and attached at its exec; it may finish
    // (26 ms) before the attach does. Later ones find libssl.so.3 attached (the
    // attachment lingers 2 s after its last user), so they are counted exactly.
    await run(curl, ['-sk', '-o', '/dev/null', `https://127.0.0.1:${srv.port}/warm`]);
    await eventually(() => d.logs.some((l) => l.msg === 'uprobes attached' && String(l.path).includes('libssl.so')), 30_000);
    await sleep(300);
    const s0 = await d.scrape();
    const [rx0, tx0] = [srv.received(), srv.sent()];
    const events0 = d.events.length;
    for (let i = 0; i < 5; i++) await run(curl, ['-sk', '-o', '/dev/null', `https://127.0.0.1:${srv.port}/ok${i}`]);
    for (let i = 0; i < 2; i++) await run(curl, ['-sk', '-o', '/dev/null', `https://127.0.0.1:${srv.port}/missing`]);
    await eventually(async () => { const x = await d.scrape(); return requests(x, '2xx') - requests(s0, '2xx') + requests(x, '4xx') - requests(s0, '4xx') === 7; }, 30_000);
    await sleep(300);
    const s = await d.scrape();
    const delta = (f: (x: Sample[]) => number): number => f(s) - f(s0);
    assert.equal(delta((x) => requests(x, '2xx')), 5);
    assert.equal(delta((x) => requests(x, '4xx')), 2);
    assert.equal(delta((x) => sslStat(x, 'bytes_sent')), srv.received() - rx0, 'plaintext curl wrote = what the server read');
    assert.equal(delta((x) => sslStat(x, 'bytes_received')), srv.sent() - tx0, 'plaintext curl read = what the server wrote');
    assert.equal(sslStat(s, 'dropped'), 0);
    assert.equal(sslStat(s, 'truncated'), 0);
    assert.equal(sslStat(s, 'unjoined'), 0, 'every call found its socket');
    assert.equal(sumOf(s, 'lightfoot_decoder_faults_total', { decoder: 'http1-requests' }), 0);
    // Joined identity: each TLS request's connection is a TCP connection of curl.
    const tcpConns = new Set(d.events.filter((e) => e.decoder === 'tcp' && e.comm === curlComm).map((e) => e.connection));
    const tlsConns = d.events.slice(events0).filter((e) => e.decoder === 'http1-requests' && e.event === 'request').map((e) => e.connection);
    assert.equal(tlsConns.length, 7);
    for (const c of tlsConns) assert.ok(tcpConns.has(c), `TLS connection ${String(c)} is one of curl's TCP connections`);
    const attached = d.logs.filter((l) => l.msg === 'uprobes attached' && String(l.path).includes('libssl.so'));
    assert.equal(attached.length, 1, 'libssl.so.3 attached once for all the curls');
    assert.equal(typeof attached[0]!.sinceExecMs, 'number', 'attached at an exec');
  } finally {
    await d.stop();
  }
});

for (const variant of [
  { name: 'a C program linked statically with libssl.a', bin: () => clients.static, args: [] as string[], fn: 'SSL_write' },
  { name: 'a program that uses only SSL_read_ex/SSL_write_ex', bin: () => clients.shared, args: ['--ex'], fn: 'SSL_write_ex' },
  // Rust programs (test/workloads/tls-rs/): BoringSSL has SSL_read/SSL_write and no
  // _ex forms; rust-openssl 0.10.57 calls SSL_read/SSL_write on 1.1.1 too.
  { name: 'a Rust program linked statically with BoringSSL (boring crate)', bin: () => clients.boring, args: [], fn: 'SSL_write' },
  { name: 'a Rust program linked statically with OpenSSL 1.1.1 (openssl-src)', bin: () => clients.openssl111, args: [], fn: 'SSL_write' },
]) {
  test(`${variant.name}: requests and bytes exact`, { skip: needsRoot }, async () => {
    const srv = await tlsServer();
    // Selected by the name it has at exec (the exec watcher sees that one).
    const comm = path.basename(variant.bin()).slice(0, 15);
    const d = await daemon(['--comm', comm]);
    try {
      // Warm-up run: planned and attached at its exec (the attach outlives it by 2 s).
      await run(variant.bin(), ['127.0.0.1', String(srv.port), '/warm', '1', ...variant.args, '--comm', comm]);
      await eventually(() => d.logs.some((l) => l.msg === 'uprobes attached'), 30_000);
      await sleep(300);
      const s0 = await d.scrape();
      const c = spawnWorkload(variant.bin(), ['127.0.0.1', String(srv.port), '/ok', '6', ...variant.args, '--comm', comm]);
      const [, sent, received] = await c.waitForLine(/^DONE .*sent=(\d+) received=(\d+)/);
      await eventually(async () => requests(await d.scrape(), '2xx') - requests(s0, '2xx') === 6, 30_000);
      await sleep(300);
      const s = await d.scrape();
      assert.equal(requests(s, '2xx') - requests(s0, '2xx'), 6);
      assert.equal(sslStat(s, 'bytes_sent') - sslStat(s0, 'bytes_sent'), Number(sent));
      assert.equal(sslStat(s, 'bytes_received') - sslStat(s0, 'bytes_received'), Number(received));
      assert.equal(sslStat(s, 'unjoined'), 0);
      assert.equal(sslStat(s, 'dropped'), 0);
    } finally {
      await d.stop();
    }
  });
}

test('a 4 MiB response is counted exactly; with a low capture limit the truncation is counted', { skip: needsRoot }, async () => {
  const srv = await tlsServer();
  for (const capture of [undefined, 1024]) {
    const d = await daemon(['--comm', curlComm, ...(capture ? ['--capture-bytes', String(capture)] : [])]);
    try {
      // Warm-up: the first curl after start may finish before its attach (see the curl test).
      await run(curl, ['-sk', '-o', '/dev/null', `https://127.0.0.1:${srv.port}/warm`]);
      await eventually(() => d.logs.some((l) => l.msg === 'uprobes attached' && String(l.path).includes('libssl.so')), 30_000);
      await sleep(300);
      const s0 = await d.scrape();
      await run(curl, ['-sk', '-o', '/dev/null', `https://127.0.0.1:${srv.port}/big`], { maxBuffer: 1 << 20 });
      await eventually(async () => sslStat(await d.scrape(), 'bytes_received') - sslStat(s0, 'bytes_received') >= response('/big').length, 30_000);
      await sleep(300);
      const s = await d.scrape();
      const delta = (stat: string): number => sslStat(s, stat) - sslStat(s0, stat);
      const moved = delta('bytes_sent') + delta('bytes_received');
      assert.equal(delta('bytes_received'), response('/big').length);
      assert.equal(sslStat(s, 'dropped'), 0);
      // Conservation: every byte moved was captured or counted as truncated.
      assert.equal(delta('bytes_captured') + delta('truncated_bytes'), moved);
      if (capture) assert.ok(sslStat(s, 'truncated') > 0, 'calls beyond the limit are counted as truncated');
      else assert.equal(sslStat(s, 'truncated'), 0);
    } finally {
      await d.stop();
    }
  }
});

const NODE_SERVER = `
const https = require('https'); const fs = require('fs');
const s = https.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]) }, (req, res) => {
  res.statusCode = req.url === '/missing' ? 404 : 200; res.setHeader('Connection', 'close'); res.end('hello');
});
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;
const NODE_CLIENT = `
const https = require('https');
const [port, n] = [Number(process.argv[1]), Number(process.argv[2])];
process.stdin.once('data', async () => {
  for (let i = 0; i < n; i++) {
    const path = i % 3 === 2 ? '/missing' : '/ok';
    await new Promise((resolve, reject) => https.get({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));
  }
  console.log('DONE ' + n); process.exit(0);
});
console.log('READY');
`;

test('Node https server and client (OpenSSL inside the node binary): both sides counted, one attachment, no duplicates', {
  skip: needsRoot,
}, async () => {
  const server = spawnWorkload(process.execPath, ['-e', NODE_SERVER, path.join(certDir, 'key.pem'), path.join(certDir, 'cert.pem')]);
  const port = Number((await server.waitForLine(/^PORT (\d+)/))[1]);
  const client = spawnWorkload(process.execPath, ['-e', NODE_CLIENT, String(port), '9'], { stdin: true });
  await client.waitForLine(/^READY/);
  const d = await daemon(['--pid', String(server.pid), '--pid', String(client.pid)]);
  try {
    const nodeAttach = d.logs.filter((l) => l.msg === 'uprobes attached' && l.module === 'openssl');
    assert.equal(nodeAttach.length, 1, `one attachment for the one node binary: ${JSON.stringify(nodeAttach.map((l) => l.path))}`);
    client.send('go');
    await client.waitForLine(/^DONE 9/);
    await eventually(async () => requests(await d.scrape(), '2xx') + requests(await d.scrape(), '4xx') >= 18, 10_000).catch(async (err) => {
      const s = await d.scrape();
      throw new Error(`${(err as Error).message}: 2xx=${requests(s, '2xx')} 4xx=${requests(s, '4xx')} calls=${sslStat(s, 'calls')} unjoined=${sslStat(s, 'unjoined')}`);
    });
    await sleep(300);
    const s = await d.scrape();
    // 9 requests, seen once by the client process and once by the server process.
    assert.equal(requests(s, '2xx'), 12);
    assert.equal(requests(s, '4xx'), 6);
    assert.equal(sslStat(s, 'unjoined'), 0, 'memory-BIO calls joined through the socket read before SSL_read');
  } finally {
    await d.stop();
    await client.kill();
    await server.kill();
  }
});

test('processes exiting mid-attach leak nothing: every uprobe link is gone after they exit (bpftool)', { skip: needsRoot }, async () => {
  const srv = await tlsServer();
  const comm = path.basename(clients.static).slice(0, 15);
  const d = await daemon(['--comm', comm, '--rescan-interval-ms', '100']);
  try {
    // Short-lived selected processes: some exit before their attach finishes.
    const runs = Array.from({ length: 12 }, (_, i) =>
      run(clients.static, ['127.0.0.1', String(srv.port), '/ok', i % 2 ? '1' : '0', '--comm', comm]).catch(() => undefined));
    await Promise.all(runs);
    assert.ok(d.logs.some((l) => l.msg === 'uprobes attached'), 'the churning binary was attached');
    await sleep(3500); // rescans notice the exits; attachments linger 2 s
    const links = JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' }) || '[]') as { pids?: { pid: number }[]; prog_id: number }[];
    const progs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' }) || '[]') as { id: number; name?: string }[];
    const sslProgs = new Set(progs.filter((p) => p.name?.startsWith('lf_ssl_')).map((p) => p.id));
    const held = links.filter((l) => sslProgs.has(l.prog_id) && l.pids?.some((p) => p.pid === d.proc.pid));
    assert.equal(held.length, 0, `uprobe/companion links still held by the daemon: ${JSON.stringify(held)}`);
    const s = await d.scrape();
    assert.equal(sumOf(s, 'lightfoot_decoder_faults_total'), 0);
    assert.equal(d.logs.filter((l) => l.level === 'error').length, 0, 'no error storm');
  } finally {
    await d.stop();
  }
});
