import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, type CommandHandlers } from '../../runtime/cli/program';
import { parseRunOptions } from '../../runtime/cli/options';
import { decodersList, decodersVerify, type DecodersCommandDeps } from '../../runtime/cli/decoders-command';
import { FakeEngine, fakeFiles, fakeInfo, fault } from '../../runtime/decoders/testing';
import type { ManifestFs } from '../../runtime/decoders/manifest';
import { sha256Hex } from '../../runtime/decoders/manifest';

function setup() {
  const engine = new FakeEngine();
  const files: Record<string, Buffer> = {};
  files['/dec/h2.wasm'] = engine.add('h2', {
    info: fakeInfo('h2', {
      version: '1.2.0',
      subscriptions: [{ probe: 'tcp', kinds: [1, 2], streams: true }],
      metrics: [{ name: 'lightfoot_h2_frames_total', kind: 'counter', help: 'HTTP/2 frames.', labels: ['type'], buckets: [] }],
    }),
  });
  files['/dec/wasi.wasm'] = engine.add('wasi', { info: fakeInfo('w'), imports: ['wasi:cli/environment@0.2.0'] });
  files['/dec/clash.wasm'] = engine.add('clash', {
    info: fakeInfo('clash', { metrics: [{ name: 'lightfoot_events_total', kind: 'counter', help: 'x', labels: [], buckets: [] }] }),
  });
  files['/dec/crash.wasm'] = engine.add('crash', { info: fakeInfo('crash'), decode: () => { throw fault('trap', 'unreachable'); } });
  const mfs: ManifestFs = {
    readdir: (d) => {
      if (d === '/dec') return Object.keys(files).filter((f) => f.startsWith('/dec/')).map((f) => f.slice(5)).concat('README');
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    },
    isDirectory: (p) => p === '/dec',
    readText: () => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    },
  };
  let out = '';
  let err = '';
  const deps = (w: (s: string) => void): DecodersCommandDeps => ({
    writeOut: w,
    engine: () => engine,
    builtins: () => [],
    readFile: fakeFiles(files),
    manifestFs: mfs,
  });
  const handlers: CommandHandlers = {
    run: async () => 0,
    doctor: async () => 0,
    decoders: { list: (o, w) => decodersList(o, deps(w)), verify: (o, w) => decodersVerify(o, deps(w)) },
  };
  const cli = (argv: string[]) =>
    runCli(argv, handlers, { writeOut: (s) => void (out += s), writeErr: (s) => void (err += s), version: '0.0.0' });
  return { cli, files, out: () => out, err: () => err };
}

test('decoders list: table with name, version, state, faults, subscriptions, sha256; refusals explained', async () => {
  const s = setup();
  assert.equal(await s.cli(['decoders', 'list', '--decoders', '/dec']), 0);
  const lines = s.out().split('\n');
  assert.match(lines[0]!, /^NAME\s+VERSION\s+STATE\s+FAULTS\s+SUBSCRIPTIONS\s+SHA256\s+FROM$/);
  assert.match(s.out(), new RegExp(`h2\\s+1\\.2\\.0\\s+running\\s+0\\s+tcp\\[1,2\\]\\+streams\\s+${sha256Hex(s.files['/dec/h2.wasm']!).slice(0, 12)}`));
  assert.match(s.out(), /clash\s+-\s+refused/);
  assert.match(s.out(), /\/dec\/clash\.wasm: describe\(\): .*lightfoot_events_total is one of lightfoot's own metric names \(reserved\)/);
  assert.match(s.out(), /\/dec\/wasi\.wasm: imports wasi:cli\/environment@0\.2\.0: decoders get no imports/);
  assert.equal(s.err(), '');
});

test('decoders list --json', async () => {
  const s = setup();
  assert.equal(await s.cli(['decoders', 'list', '--decoders', '/dec', '--json']), 0);
  const doc = JSON.parse(s.out()) as { name: string | null; state: string; refused?: string }[];
  assert.deepEqual(doc.map((d) => [d.name, d.state]), [[null, 'refused'], ['crash', 'running'], ['h2', 'running'], [null, 'refused']]);
  assert.match(String(doc[0]!.refused), /one of lightfoot's own metric names/);
});

test('decoders verify: prints what the component declares', async () => {
  const s = setup();
  const sha = sha256Hex(s.files['/dec/h2.wasm']!);
  assert.equal(await s.cli(['decoders', 'verify', '/dec/h2.wasm', '--sha256', sha]), 0);
  assert.match(s.out(), /^\/dec\/h2\.wasm: valid lightfoot decoder/);
  assert.match(s.out(), /name\s+h2\n\s+version\s+1\.2\.0/);
  assert.match(s.out(), /lightfoot_h2_frames_total\{type\}  counter  HTTP\/2 frames\./);
  assert.match(s.out(), /empty tcp batch: ok/);
});

test('decoders verify: invalid → exit 1 and one clear line', async () => {
  const cases: [string[], RegExp, number][] = [
    [['/dec/wasi.wasm'], /^lightfoot: \/dec\/wasi\.wasm: refused: imports wasi:cli\/environment@0\.2\.0: decoders get no imports \(.*\)\n$/, 1],
    [['/dec/h2.wasm', '--sha256', '0'.repeat(64)], /^lightfoot: \/dec\/h2\.wasm: refused: sha256 mismatch: expected 0{64}, actual [0-9a-f]{64} \(.*\)\n$/, 1],
    [['/dec/crash.wasm'], /^lightfoot: \/dec\/crash\.wasm: decoding an empty tcp batch failed: fault: trap: unreachable \(.*\)\n$/, 1],
    [['/dec/missing.wasm'], /cannot read the file \(ENOENT\)/, 1],
    [['/dec/h2.wasm', '--sha256', 'xyz'], /^lightfoot: --sha256 "xyz": expected 64 hex digits/, 2],
  ];
  for (const [args, re, code] of cases) {
    const s = setup();
    assert.equal(await s.cli(['decoders', 'verify', ...args]), code, args.join(' '));
    assert.match(s.err(), re);
    assert.equal(s.err().split('\n').length, 2, 'one line');
  }
});

test('run: --decoders (repeatable) and --config parsed; absent flags leave RunOptions unchanged', async () => {
  const o = parseRunOptions({ all: true, decoders: ['/a', '/b', '/a'], config: '/etc/lf.json' });
  assert.deepEqual(o.decoderDirs, ['/a', '/b']);
  assert.equal(o.decoderConfig, '/etc/lf.json');
  const plain = parseRunOptions({ all: true });
  assert.equal('decoderDirs' in plain, false);
  assert.equal('decoderConfig' in plain, false);
  assert.throws(() => parseRunOptions({ all: true, config: ' ' }), /--config "": the file name is empty/);

  let seen: unknown;
  const code = await runCli(['run', '--all', '--decoders', '/x', '--decoders', '/y', '--config', 'c.json'], {
    run: async (opts) => ((seen = opts), 0),
    doctor: async () => 0,
  }, { writeErr: () => {}, writeOut: () => {} });
  assert.equal(code, 0);
  assert.deepEqual((seen as { decoderDirs: string[] }).decoderDirs, ['/x', '/y']);
  assert.equal((seen as { decoderConfig: string }).decoderConfig, 'c.json');
});
