// Bad input gets one clear line on stderr and a non-zero status, never a stack.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { jcoBin, repoRoot } from '../../sdk/host/paths';
import { copyProject, runCli, tempDir } from './helpers';

let dir = '';
let withImports = '';

before(() => {
  dir = tempDir('cli');
  // A component importing WASI (printf): core module from the C build script, then
  // `jco new` WITH the preview1 adapter, which is exactly what decoders must not do.
  const core = path.join(dir, 'imp.core.wasm');
  withImports = path.join(dir, 'imp.wasm');
  execFileSync('bash', [path.join(repoRoot(), 'sdk/scripts/build-c-component.sh'), '--core', '-I', path.join(repoRoot(), 'sdk/guest/c'),
    '-o', core, path.join(repoRoot(), 'test/sdk/fixtures/with-imports.c')]);
  execFileSync(jcoBin(), ['new', core, '--wasi-reactor', '-o', withImports], { stdio: 'ignore' });
});

function oneLine(r: { status: number | null; stderr: string }, status: number, re: RegExp): void {
  assert.equal(r.status, status, r.stderr);
  assert.equal(r.stderr.split('\n').length, 2, `not one line: ${r.stderr}`);
  assert.match(r.stderr, re);
}

test('missing directory', () => {
  oneLine(runCli(['build', path.join(dir, 'nope')]), 1, /^lightfoot-sdk: no such directory: .*nope\n$/);
  oneLine(runCli(['test', path.join(dir, 'nope')]), 1, /^lightfoot-sdk: no such directory: /);
});

test('directory that is not a project', () => {
  oneLine(runCli(['test', dir]), 1, /is not a decoder project \(no lightfoot-decoder\.json; create one with `lightfoot-sdk new`\)/);
});

test('test before build', () => {
  const p = copyProject('sdk/templates/c');
  oneLine(runCli(['test', p]), 1, /\.wasm not found: run `lightfoot-sdk build .*` first/);
});

test('bad wasm', () => {
  const f = path.join(dir, 'garbage.wasm');
  writeFileSync(f, Buffer.from('not wasm at all'));
  oneLine(runCli(['verify', f]), 1, /^lightfoot-sdk: not a valid WebAssembly component: /);
  oneLine(runCli(['verify', path.join(dir, 'absent.wasm')]), 1, /^lightfoot-sdk: no such file: /);
  // A core module is not a component either.
  const core = path.join(dir, 'core.wasm');
  writeFileSync(core, Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  oneLine(runCli(['verify', core]), 1, /^lightfoot-sdk: not a valid WebAssembly component: /);
});

test('component with imports is refused, naming them', () => {
  oneLine(runCli(['verify', withImports]), 1, /^lightfoot-sdk: component imports wasi:cli\/stderr.*: decoders get no imports \(no WASI\)\n$/);
  const p = copyProject('sdk/templates/c');
  oneLine(runCli(['test', p, '--component', withImports]), 1, /component imports wasi:/);
});

test('C code that needs WASI fails the build with the imports named', () => {
  const p = copyProject('sdk/templates/c');
  writeFileSync(path.join(p, 'src/decoder.c'), `#include <stdio.h>\n${readFileSync(path.join(p, 'src/decoder.c'), 'utf8').replace('lf_out_init(ret);', 'lf_out_init(ret); puts("x");')}`);
  const r = runCli(['build', p]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /wasi_snapshot_preview1\.fd_write/);
});

test('usage errors exit 2', () => {
  const r = runCli(['frobnicate']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  assert.equal(runCli(['test', '.', '--engine', 'spidermonkey']).status, 2);
});
