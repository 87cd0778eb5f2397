// `lightfoot-sdk new` → `build` → `test` end to end for both languages: a fresh
// scaffold must build and pass its own fixtures; an edited expectation must fail
// with a diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from './helpers';

for (const lang of ['c', 'assemblyscript']) {
  test(`template ${lang}: new, build, test, verify`, () => {
    const parent = tempDir(`tpl-${lang}`);
    const name = `my-${lang === 'c' ? 'c' : 'as'}-decoder`;
    let r = runCli(['new', name, '--lang', lang], parent);
    assert.equal(r.status, 0, r.stderr);
    const dir = path.join(parent, name);
    r = runCli(['build', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`built .*${name}\\.wasm \\(\\d+ bytes, sha256 [0-9a-f]{64}\\)`));
    r = runCli(['test', dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 passed, 0 failed/);
    r = runCli(['verify', path.join(dir, `${name}.wasm`)]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`decoder ${name} 0\\.1\\.0`));
    assert.match(r.stdout, /metric\[1\] counter lightfoot_my_\w+_stream_bytes_total\{direction\}/);

    // A wrong expectation fails and the diff names the changed record.
    const exp = path.join(dir, 'fixtures/basic.expected.json');
    writeFileSync(exp, readFileSync(exp, 'utf8').replace('"value":18', '"value":17'));
    r = runCli(['test', dir]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /FAIL basic/);
    assert.match(r.stdout, /- .*"value":17/);
    assert.match(r.stdout, /\+ .*"value":18/);
  });
}

test('new refuses bad names, unknown languages and non-empty dirs', () => {
  const parent = tempDir('tpl-bad');
  let r = runCli(['new', 'Bad_Name'], parent);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'lightfoot-sdk: invalid decoder name "Bad_Name": use [a-z][a-z0-9-]* (it becomes part of metric names)\n');
  r = runCli(['new', 'ok', '--lang', 'rust'], parent);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--lang.*rust.*invalid|Allowed choices/i);
  assert.equal(runCli(['new', 'ok'], parent).status, 0);
  r = runCli(['new', 'ok'], parent);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^lightfoot-sdk: .*ok exists and is not empty\n$/);
});
