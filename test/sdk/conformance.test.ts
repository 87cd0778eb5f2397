// The same fixtures through V8 (jco transpile, no imports) and wasmtime (the
// native addon's WasmEngine) must give identical canonical outputs, for C and
// AssemblyScript components alike.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringifyCanonical } from '../../sdk/host/canonical';
import { listFixtures } from '../../sdk/host/fixtures';
import { loadProject } from '../../sdk/host/project';
import { replay } from '../../sdk/host/replay';
import { loadV8 } from '../../sdk/host/v8-engine';
import { loadWasmtime, wasmEngineClass } from '../../sdk/host/wasmtime-engine';
import { copyProject, mustBuild } from './helpers';

const PROJECTS = ['sdk/examples/http1-requests', 'sdk/templates/c', 'sdk/templates/assemblyscript',
  'sdk/guest/testdata/kitchen-sink-c', 'sdk/guest/testdata/kitchen-sink-as'];
const built: Record<string, string> = {};
const engine = wasmEngineClass();

before(() => {
  for (const p of PROJECTS) { built[p] = copyProject(p); mustBuild(built[p]); }
});

for (const p of PROJECTS) {
  test(`${p}: V8 and wasmtime agree`, { skip: engine.engine ? false : `wasmtime half skipped: ${engine.reason}` }, async () => {
    const proj = loadProject(built[p]);
    const bytes = readFileSync(proj.wasm);
    const v8 = await loadV8(bytes);
    const wt = loadWasmtime(bytes);
    assert.deepEqual(wt.describe(), v8.describe());
    for (const fx of listFixtures(proj.dir)) {
      const a = await replay(fx, () => loadV8(bytes));
      const b = await replay(fx, async () => loadWasmtime(bytes));
      assert.equal(stringifyCanonical(b.results), stringifyCanonical(a.results), `${fx.name}: engines differ`);
    }
  });
}

test('the V8 path alone passes every project fixture (runs without the addon)', async () => {
  for (const p of PROJECTS) {
    const proj = loadProject(built[p]);
    const bytes = readFileSync(proj.wasm);
    for (const fx of listFixtures(proj.dir)) {
      const { results } = await replay(fx, () => loadV8(bytes));
      const expected = JSON.parse(readFileSync(fx.expectedFile, 'utf8'));
      assert.equal(results.length, expected.length, `${p}/${fx.name}`);
    }
  }
  assert.ok(path.isAbsolute(built[PROJECTS[0]]));
});
