/**
 * Decoder integrity with the real wasmtime engine, through the real CLI: a
 * sha256 pin in the config file admits exactly that module and refuses any
 * other bytes with both digests and what to do; a WASI-importing module is
 * refused naming its imports. No BPF involved, so no root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI } from '../helpers/daemon';
import { buildFixtures } from '../helpers/wasm-fixtures';

const fixtures = buildFixtures();
const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });

test('a sha256 pin admits the pinned module and refuses different bytes', () => {
  const good = path.join(fixtures, 'good.wasm');
  const other = path.join(fixtures, 'garbage.wasm');
  const cfg = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lf-pin-')), 'lightfoot.json');
  fs.writeFileSync(cfg, JSON.stringify({ decoders: [{ path: good, sha256: sha(good) }, { path: other, sha256: sha(good) }] }));
  const r = cli(['decoders', 'list', '--config', cfg, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { name?: string; state: string; path: string; refusal?: { reason: string } }[];
  const byPath = new Map(rows.map((x) => [x.path, x]));
  assert.equal(byPath.get(good)?.state, 'running');
  assert.equal(byPath.get(other)?.state, 'refused');
  const text = cli(['decoders', 'list', '--config', cfg]).stdout;
  assert.ok(text.includes(`sha256 mismatch: expected ${sha(good)}, actual ${sha(other)}`), text);
  assert.equal(byPath.get(path.resolve('dist/probes/tcp/decoder.wasm'))?.state ?? 'running', 'running');
});

test('verify refuses a WASI-importing component, naming the imports, with exit 1', () => {
  const r = cli(['decoders', 'verify', path.join(fixtures, 'wasi.wasm')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^lightfoot: .*wasi\.wasm: refused: imports wasi:.*wasi:filesystem\/types@[\d.]+.*: decoders get no imports \(a decoder gets no imports: no WASI/);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1);
});

test('verify shows what a good component declares', () => {
  const r = cli(['decoders', 'verify', path.join(fixtures, 'good.wasm')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /fixture-good/);
  assert.match(r.stdout, /lightfoot_fixture_records_total/);
});
