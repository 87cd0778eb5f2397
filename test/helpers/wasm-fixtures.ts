/**
 * The hostile and well-behaved decoder components of test/fixtures/wasm/, built
 * with sdk/scripts/build-c-component.sh into $LIGHTFOOT_CACHE/wasm-fixtures/<hash
 * of inputs>, outside the checkout, once per content.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

// dist/test/helpers/ is three levels below the repo root; private builds elsewhere set cwd.
export function repoRoot(): string {
  for (const c of [path.resolve(__dirname, '..', '..', '..'), process.cwd()]) {
    if (existsSync(path.join(c, 'sdk', 'scripts', 'build-c-component.sh'))) return c;
  }
  throw new Error('cannot find the repo root (run from it)');
}

export const FIXTURES = ['good', 'loop', 'alloc', 'trap', 'garbage', 'shapes'] as const;

/** SIZED_N updates, each with one SIZED_LEN-byte label: charged SIZED_N*SIZED_LEN bytes, 2*SIZED_N items. */
export const SIZED = { n: 1000, len: 1000 } as const;

/**
 * Builds of amplify.c (one -D MODE each): `amp-<mode>.wasm`, decoder name `fixture-amp-<mode>`.
 * The four `sized-*` builds are the same output under four decoder names, so one daemon
 * can run it under and over each budget.
 */
export const AMPLIFY = {
  labels: 1, fields: 2, annotations: 3, 'sized-a': 4, 'sized-b': 4, 'sized-c': 4, 'sized-d': 4,
  reserved: 5, foreign: 6, overflow: 7,
} as const;
export type Amplify = keyof typeof AMPLIFY;

export type Fixture = (typeof FIXTURES)[number] | 'wasi' | `amp-${Amplify}`;
/** The allocator is linked with a 64 MiB cap so that the host's smaller cap is what stops it. */
const ALLOC_LINK_MAX = 64 << 20;

/** Builds every fixture once per content hash of its inputs; returns the directory. */
export function buildFixtures(): string {
  const root = repoRoot();
  const src = path.join(root, 'test', 'fixtures', 'wasm');
  const script = path.join(root, 'sdk', 'scripts', 'build-c-component.sh');
  const h = createHash('sha256');
  for (const f of [script, path.join(root, 'sdk', 'wit', 'decoder.wit'),
    ...readdirSync(src).sort().map((f) => path.join(src, f))]) {
    h.update(f).update(readFileSync(f));
  }
  const cache = process.env.LIGHTFOOT_CACHE ?? '/var/cache/lightfoot';
  const dir = path.join(cache, 'wasm-fixtures', h.digest('hex').slice(0, 16));
  if (existsSync(path.join(dir, 'done'))) return dir;
  mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = mkdtempSync(`${dir}.tmp-`);
  chmodSync(tmp, 0o755); // mkdtemp makes it private; the cache is shared
  const run = (args: string[]) => execFileSync('bash', [script, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  for (const f of FIXTURES) {
    run([...(f === 'alloc' ? ['--max-memory', String(ALLOC_LINK_MAX)] : []), '-o', path.join(tmp, `${f}.wasm`), path.join(src, `${f}.c`)]);
  }
  for (const [mode, n] of Object.entries(AMPLIFY)) {
    run(['-D', `MODE=${n}`, '-D', `NAME="fixture-amp-${mode}"`, '-D', `SIZED_N=${SIZED.n}`, '-D', `SIZED_LEN=${SIZED.len}`,
      '-o', path.join(tmp, `amp-${mode}.wasm`), path.join(src, 'amplify.c')]);
  }
  // printf pulls in wasi_snapshot_preview1: the official pipeline refuses it, so wrap the
  // core module with jco's WASI adapter by hand into a component that imports wasi:*.
  run(['--core', '-o', path.join(tmp, 'wasi.core.wasm'), path.join(src, 'wasi_import.c')]);
  execFileSync(path.join(root, 'node_modules', '.bin', 'jco'),
    ['new', path.join(tmp, 'wasi.core.wasm'), '--wasi-reactor', '-o', path.join(tmp, 'wasi.wasm')], { stdio: 'ignore' });
  // An empty component (valid, exports nothing) for the world check.
  writeFileSync(path.join(tmp, 'empty.wat'), '(component)\n');
  execFileSync(path.join(root, 'node_modules', '.bin', 'jco'),
    ['parse', path.join(tmp, 'empty.wat'), '-o', path.join(tmp, 'empty.wasm')], { stdio: 'ignore' });
  writeFileSync(path.join(tmp, 'done'), '');
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // a concurrent run won the race
  }
  return dir;
}
