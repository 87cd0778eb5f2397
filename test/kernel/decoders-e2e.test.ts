/**
 * Decoders end to end with the real daemon, kernel and traffic: hostile
 * components are contained while the TCP metrics (from the built-in tcp
 * component) stay exact, and a third-party decoder built with the SDK decodes
 * curl's HTTP/1.1 from captured payload.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { eventually, startDaemon, type Daemon } from '../helpers/daemon';
import { buildWorkloads } from '../helpers/workloads';
import { cleanup, spawnWorkload, startServer } from '../helpers/process';
import { sumOf } from '../helpers/prom';
import { buildFixtures, repoRoot } from '../helpers/wasm-fixtures';
import { needsRoot, sleep, tcpOf, uniqueComm } from './kernel-test-env';

let bin = '';
let fixtures = '';
before(async () => {
  if (needsRoot) return;
  bin = (await buildWorkloads()).tcpWorkload;
  fixtures = buildFixtures();
});
after(() => cleanup.run());

/** A --decoders directory holding just this fixture. */
function decoderDir(fixture: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lf-dec-${fixture}-`));
  fs.copyFileSync(path.join(fixtures, `${fixture}.wasm`), path.join(dir, `${fixture}.wasm`));
  cleanup.add(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Several waves of connections, so a faulting decoder is called again after each backoff. */
async function traffic(d: Daemon, port: number, comm: string, waves: number, conns: number, bytes: number, closedBefore = 0): Promise<void> {
  for (let w = 0; w < waves; w++) {
    const c = spawnWorkload(bin, ['client', '--host', '127.0.0.1', '--port', String(port), '--conns', String(conns), '--bytes', String(bytes), '--comm', comm]);
    await c.waitForLine(/^DONE /);
    await sleep(400);
  }
  await eventually(async () => tcpOf(await d.scrape(), comm).closed === closedBefore + waves * conns, 10_000);
}

const HOSTILE: { fixture: string; decoder: string; fault: string; quarantined?: boolean }[] = [
  { fixture: 'loop', decoder: 'fixture-loop', fault: 'timeout' },
  { fixture: 'alloc', decoder: 'fixture-alloc', fault: 'oom' },
  { fixture: 'trap', decoder: 'fixture-trap', fault: 'trap', quarantined: true },
  { fixture: 'garbage', decoder: 'fixture-garbage', fault: 'bad_output', quarantined: true },
];

for (const h of HOSTILE) {
  test(`a decoder that faults with ${h.fault} is contained; TCP metrics stay exact`, { skip: needsRoot }, async () => {
    const srv = await startServer(bin, ['server', '--port', '0', '--comm', uniqueComm(`lfh${h.fixture}s`)]);
    const comm = uniqueComm(`lfh${h.fixture}c`);
    const d = await startDaemon(['--comm', comm, '--decoders', decoderDir(h.fixture), '--no-events']);
    try {
      const rss0 = rssBytes(d.proc.pid!);
      const conns = 3, bytes = 700;
      let waves = 6;
      await traffic(d, srv.port, comm, waves, conns, bytes);
      if (h.quarantined) {
        // Quarantine takes 5 faults, and a wave that lands inside a backoff (100 ms doubling)
        // is dropped rather than called: keep the traffic coming until it is reached.
        const quarantined = async () => sumOf(await d.scrape(), 'lightfoot_decoder_state', { decoder: h.decoder, state: 'quarantined' }) === 1;
        while (!(await quarantined()) && waves < 20) {
          await traffic(d, srv.port, comm, 1, conns, bytes, waves * conns);
          waves++;
        }
      }
      await sleep(300);
      const s = await d.scrape();
      assert.deepEqual(tcpOf(s, comm, 'client'), { opened: waves * conns, closed: waves * conns, failed: 0, sent: waves * conns * (8 + bytes), received: waves * conns * bytes, retransmits: 0, resetsSent: 0, resetsReceived: 0, active: 0 });
      const faults = sumOf(s, 'lightfoot_decoder_faults_total', { decoder: h.decoder, kind: h.fault });
      assert.ok(faults >= 1, `${h.fault} faults counted: ${faults}`);
      assert.equal(sumOf(s, 'lightfoot_fixture_records_total'), 0, 'nothing from the bad decoder reached the metrics');
      if (h.quarantined) assert.equal(sumOf(s, 'lightfoot_decoder_state', { decoder: h.decoder, state: 'quarantined' }), 1);
      assert.equal(sumOf(s, 'lightfoot_decoder_state', { decoder: 'tcp', state: 'running' }), 1);
      assert.equal(sumOf(s, 'lightfoot_decoder_faults_total', { decoder: 'tcp' }), 0);
      if (h.fault === 'oom') assert.ok(rssBytes(d.proc.pid!) - rss0 < 256 << 20, 'the daemon did not grow past the cap');
    } finally {
      await d.stop();
      await srv.handle.kill();
    }
  });
}

test('a decoder that imports WASI is refused at load, naming the import; the rest run', { skip: needsRoot }, async () => {
  const comm = uniqueComm('lfhwasi');
  const srv = await startServer(bin, ['server', '--port', '0', '--comm', uniqueComm('lfhwasis')]);
  const d = await startDaemon(['--comm', comm, '--decoders', decoderDir('wasi')]);
  try {
    const refused = d.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('decoder refused'));
    assert.ok(refused, 'a log line says the decoder was refused');
    assert.match(String(refused.msg), /imports wasi:/);
    await traffic(d, srv.port, comm, 1, 2, 100);
    assert.equal(tcpOf(await d.scrape(), comm).sent, 2 * 108);
  } finally {
    await d.stop();
    await srv.handle.kill();
  }
});

test('a third-party decoder built with the SDK decodes curl HTTP/1.1 from captured payload', { skip: needsRoot }, async () => {
  const root = repoRoot();
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-http1-'));
  cleanup.add(() => fs.rmSync(project, { recursive: true, force: true }));
  fs.cpSync(path.join(root, 'sdk', 'examples', 'http1-requests'), project, { recursive: true });
  execFileSync(process.execPath, [path.join(root, 'dist', 'sdk', 'cli', 'main.js'), 'build', project], { stdio: 'pipe' });
  const wasm = fs.readdirSync(project).filter((f) => f.endsWith('.wasm'));
  assert.deepEqual(wasm, ['http1-requests.wasm']);
  const decoders = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-http1-dir-'));
  cleanup.add(() => fs.rmSync(decoders, { recursive: true, force: true }));
  fs.copyFileSync(path.join(project, wasm[0]), path.join(decoders, wasm[0]));

  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.add(() => new Promise((r) => server.close(r)));
  const port = (server.address() as { port: number }).port;
  // Only curl is selected: the test runner's own server is not. It runs under a
  // name of its own (a copy of the binary), so other runs' curls on this machine are not.
  const curlComm = uniqueComm('lfcurl');
  const curlBin = path.join(decoders, '..', `${path.basename(decoders)}-bin`, curlComm);
  fs.mkdirSync(path.dirname(curlBin));
  cleanup.add(() => fs.rmSync(path.dirname(curlBin), { recursive: true, force: true }));
  fs.copyFileSync(execFileSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim(), curlBin);
  fs.chmodSync(curlBin, 0o755);
  const d = await startDaemon(['--comm', curlComm, '--decoders', decoders, '--capture', 'tcp']);
  try {
    assert.deepEqual(d.logs.find((l) => l.msg === 'lightfoot ready')?.payloadCapture, ['tcp'], 'a stream decoder with --capture tcp turns TCP payload capture on (and only that)');
    // Async: the server answering curl lives in this process's event loop.
    const curl = promisify(execFile);
    for (let i = 0; i < 5; i++) await curl(curlBin, ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/ok${i}`]);
    for (let i = 0; i < 2; i++) await curl(curlBin, ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/missing`]);
    await eventually(async () => sumOf(await d.scrape(), 'lightfoot_http1_requests_total') === 7, 10_000);
    await sleep(300);
    const s = await d.scrape();
    assert.equal(sumOf(s, 'lightfoot_http1_requests_total', { method: 'GET', status_class: '2xx' }), 5);
    assert.equal(sumOf(s, 'lightfoot_http1_requests_total', { method: 'GET', status_class: '4xx' }), 2);
    assert.equal(sumOf(s, 'lightfoot_decoder_faults_total', { decoder: 'http1-requests' }), 0);
    // The same connections, counted by the tcp decoder.
    assert.equal(tcpOf(s, curlComm, 'client').closed, 7);
  } finally {
    await d.stop();
  }
});
