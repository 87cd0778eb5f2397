import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ConfigError, formatErrorLine } from '../../runtime/errors';
import { DEFAULT_LIMITS, parseDecoderConfig } from '../../runtime/decoders/config';
import { builtinDecoders, checkPin, resolveDecoderSources, type ManifestFs } from '../../runtime/decoders/manifest';

function configError(text: string): string {
  try {
    parseDecoderConfig(text, '/etc/lf/decoders.json');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return formatErrorLine(err);
  }
  assert.fail('expected a ConfigError');
}

test('config: full entry parsed, relative paths resolved against the file', () => {
  const sha = 'AB'.repeat(32);
  const cfg = parseDecoderConfig(
    JSON.stringify({
      requirePinned: true,
      decoders: [
        { path: 'http2.wasm', sha256: sha, enabled: false, limits: { memoryBytes: 8 * 1024 * 1024, deadlineMs: 20, fuel: 1000 } },
        { path: '/opt/x.wasm' },
      ],
    }),
    '/etc/lf/decoders.json',
  );
  assert.equal(cfg.requirePinned, true);
  assert.deepEqual(cfg.decoders[0], {
    path: '/etc/lf/http2.wasm',
    sha256: sha.toLowerCase(),
    enabled: false,
    limits: { memoryBytes: 8 * 1024 * 1024, deadlineMs: 20, fuel: 1000 },
    where: 'decoders[0]',
  });
  assert.deepEqual(cfg.decoders[1], { path: '/opt/x.wasm', enabled: true, limits: {}, where: 'decoders[1]' });
});

test('config: errors name the file, the key and the fix', () => {
  assert.match(configError('{'), /--config \/etc\/lf\/decoders.json: not valid JSON/);
  assert.match(configError('[]'), /\(top level\): expected an object/);
  assert.match(configError('{"decoder": []}'), /decoder: unknown key \(known keys here: decoders, requirePinned\)/);
  assert.match(configError('{"decoders": [{}]}'), /decoders\[0\]\.path: missing/);
  assert.match(configError('{"decoders": [{"path": "a.wasm", "sha256": "abc"}]}'), /decoders\[0\]\.sha256: expected 64 hex digits, got "abc" \(compute it with `sha256sum a.wasm`/);
  assert.match(
    configError('{"decoders": [{"path": "a.wasm", "limits": {"deadlineMs": 0}}]}'),
    /decoders\[0\]\.limits\.deadlineMs: expected a whole number from 1 to 10000, got 0 \(the default is 100\)/,
  );
  assert.match(configError('{"decoders": [{"path": "a.wasm", "limits": {"memory": 1}}]}'), /decoders\[0\]\.limits\.memory: unknown key/);
  assert.match(configError('{"decoders": [{"path": "a.wasm", "enabled": "yes"}]}'), /decoders\[0\]\.enabled: expected true or false/);
  assert.match(configError('{"decoders": [{"path": "a.wasm"}, {"path": "./a.wasm"}]}'), /decoders\[1\]\.path: \.\/a\.wasm is already listed as decoders\[0\]/);
});

function fakeFs(tree: Record<string, string[] | string>): ManifestFs {
  const enoent = (p: string): Error => Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
  return {
    readdir: (d) => {
      const v = tree[d];
      if (!Array.isArray(v)) throw enoent(d);
      return v;
    },
    isDirectory: (p) => {
      if (tree[p] === undefined) throw enoent(p);
      return Array.isArray(tree[p]);
    },
    readText: (p) => {
      const v = tree[p];
      if (typeof v !== 'string') throw enoent(p);
      return v;
    },
  };
}

test('manifest: built-ins, directories and config merged by path', () => {
  const fs = fakeFs({
    '/d': ['b.wasm', 'a.wasm', 'notes.txt'],
    '/etc/cfg.json': JSON.stringify({
      requirePinned: true,
      decoders: [
        { path: '/d/a.wasm', sha256: 'f'.repeat(64), limits: { deadlineMs: 5 } },
        { path: '/builtin/tcp.wasm', enabled: false },
        { path: 'extra.wasm' },
      ],
    }),
  });
  const sources = resolveDecoderSources({ builtins: [{ path: '/builtin/tcp.wasm' }], dirs: ['/d'], configFile: '/etc/cfg.json', fs });
  assert.deepEqual(
    sources.map((s) => [s.path, s.origin, s.enabled, s.sha256, s.requirePinned, s.limits.deadlineMs]),
    [
      ['/builtin/tcp.wasm', 'builtin', false, undefined, false, DEFAULT_LIMITS.deadlineMs],
      ['/d/a.wasm', 'dir', true, 'f'.repeat(64), true, 5],
      ['/d/b.wasm', 'dir', true, undefined, true, DEFAULT_LIMITS.deadlineMs],
      ['/etc/extra.wasm', 'config', true, undefined, true, DEFAULT_LIMITS.deadlineMs],
    ],
  );
  assert.match(sources[1]!.from, /--config \/etc\/cfg.json decoders\[0\]/);
});

test('manifest: unusable --decoders directory is a ConfigError naming the flag', () => {
  const fs = fakeFs({ '/file': 'x' });
  assert.throws(() => resolveDecoderSources({ dirs: ['/missing'], fs }), (e: unknown) => e instanceof ConfigError && /--decoders \/missing: cannot read the directory \(ENOENT\)/.test(e.message));
  assert.throws(() => resolveDecoderSources({ dirs: ['/file'], fs }), /--decoders \/file: not a directory/);
  assert.throws(() => resolveDecoderSources({ configFile: '/nope.json', fs }), /--config \/nope.json: cannot read the file \(ENOENT\)/);
});

test('manifest: built-in decoders found under dist/probes', () => {
  const fs = fakeFs({ '/pkg/dist/probes': ['tcp', 'tls'], '/pkg/dist/probes/tcp': ['decoder.wasm', 'manifest.js'], '/pkg/dist/probes/tls': ['x.js'] });
  assert.deepEqual(builtinDecoders('/pkg', fs), [{ path: '/pkg/dist/probes/tcp/decoder.wasm' }]);
  assert.deepEqual(builtinDecoders('/nowhere', fs), []);
});

test('sha256 pin: match, mismatch with expected/actual, bad pin', () => {
  const bytes = Buffer.from('decoder bytes');
  const actual = createHash('sha256').update(bytes).digest('hex');
  assert.deepEqual(checkPin(bytes, actual.toUpperCase()), { ok: true, actual });
  const wrong = '0'.repeat(64);
  const r = checkPin(bytes, wrong);
  assert.equal(r.ok, false);
  assert.equal((r as { message: string }).message, `sha256 mismatch: expected ${wrong}, actual ${actual}`);
  assert.match((checkPin(bytes, 'xyz') as { message: string }).message, /not 64 hex digits/);
});

test('config: output budget limits and shareMetrics', () => {
  const cfg = parseDecoderConfig(
    JSON.stringify({ decoders: [{ path: 'a.wasm', limits: { outputBytes: 1 << 20, outputItems: 5000 }, shareMetrics: ['lightfoot_x_total', 'lightfoot_x_total'] }] }),
    '/etc/lf/decoders.json',
  );
  assert.deepEqual(cfg.decoders[0]!.limits, { outputBytes: 1 << 20, outputItems: 5000 });
  assert.deepEqual(cfg.decoders[0]!.shareMetrics, ['lightfoot_x_total']);
  assert.equal(DEFAULT_LIMITS.outputBytes, 16 << 20);
  assert.equal(DEFAULT_LIMITS.outputItems, 262_144);
  assert.match(configError('{"decoders":[{"path":"a.wasm","limits":{"outputBytes":100}}]}'),
    /decoders\[0\]\.limits\.outputBytes: expected a whole number from 65536 to 1073741824, got 100.*the default is 16777216/);
  assert.match(configError('{"decoders":[{"path":"a.wasm","shareMetrics":"lightfoot_x_total"}]}'),
    /decoders\[0\]\.shareMetrics: expected a list of metric names/);
  const fs: ManifestFs = {
    readdir: () => [],
    isDirectory: () => true,
    readText: () => JSON.stringify({ decoders: [{ path: '/d/a.wasm', shareMetrics: ['lightfoot_y_total'], limits: { outputItems: 100 } }] }),
  };
  const [src] = resolveDecoderSources({ configFile: '/etc/lf/c.json', fs });
  assert.deepEqual(src!.shareMetrics, ['lightfoot_y_total']);
  assert.deepEqual(src!.limits, { ...DEFAULT_LIMITS, outputItems: 100 });
});
