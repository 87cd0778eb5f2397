// sdk/generated/ must be what `jco types`/`guest-types` make of sdk/wit now:
// regenerate into a temp dir and diff (a WIT change without gen-types.sh fails).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../sdk/host/paths';
import { tempDir } from './helpers';

function files(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p, base) : [path.relative(base, p)];
  }).sort();
}

test('sdk/generated matches sdk/wit (run sdk/scripts/gen-types.sh when this fails)', () => {
  const out = tempDir('types');
  execFileSync('bash', [path.join(repoRoot(), 'sdk/scripts/gen-types.sh'), out]);
  const committed = path.join(repoRoot(), 'sdk/generated');
  assert.deepEqual(files(committed), files(out));
  for (const f of files(out)) {
    assert.equal(readFileSync(path.join(committed, f), 'utf8'), readFileSync(path.join(out, f), 'utf8'), `sdk/generated/${f} is stale`);
  }
});
