import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  LightfootError,
  LoadError,
  NotSupportedError,
  PermissionError,
  TargetError,
  UsageError,
  exitCodeFor,
  formatErrorLine,
} from '../../runtime/errors';

test('each error class has its stable code and name', () => {
  const cases: [LightfootError, string, string][] = [
    [new UsageError('m'), 'LF_ERR_USAGE', 'UsageError'],
    [new ConfigError('m'), 'LF_ERR_CONFIG', 'ConfigError'],
    [new TargetError('m'), 'LF_ERR_TARGET', 'TargetError'],
    [new PermissionError('m'), 'LF_ERR_PERMISSION', 'PermissionError'],
    [new NotSupportedError('m', { feature: 'f' }), 'LF_ERR_NOT_SUPPORTED', 'NotSupportedError'],
    [new LoadError('m'), 'LF_ERR_LOAD', 'LoadError'],
  ];
  for (const [err, code, name] of cases) {
    assert.equal(err.code, code);
    assert.equal(err.name, name);
    assert.ok(err instanceof LightfootError);
    assert.ok(err instanceof Error);
  }
});

test('instanceof distinguishes subclasses', () => {
  const e = new UsageError('m');
  assert.ok(e instanceof UsageError);
  assert.equal(e instanceof ConfigError, false);
  assert.equal(new Error('x') instanceof LightfootError, false);
  assert.equal((null as unknown) instanceof LightfootError, false);
});

test('instanceof works across two copies of the module', () => {
  const file = require.resolve('../../runtime/errors');
  const saved = require.cache[file];
  delete require.cache[file];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const copy = require(file) as typeof import('../../runtime/errors');
  require.cache[file] = saved;
  assert.notEqual(copy.UsageError, UsageError);
  const foreign = new copy.UsageError('from the other copy');
  assert.ok(foreign instanceof UsageError);
  assert.ok(foreign instanceof LightfootError);
  assert.equal(foreign instanceof ConfigError, false);
  assert.ok(new TargetError('x') instanceof copy.TargetError);
});

test('cause and hint are kept; NotSupportedError carries feature and minimumKernel', () => {
  const cause = new Error('ENOSYS');
  const e = new NotSupportedError('no ring buffer', { feature: 'BPF ring buffer', minimumKernel: '5.8', cause, hint: 'upgrade' });
  assert.equal(e.cause, cause);
  assert.equal(e.hint, 'upgrade');
  assert.equal(e.feature, 'BPF ring buffer');
  assert.equal(e.minimumKernel, '5.8');
  assert.equal(new UsageError('m').hint, undefined);
  assert.equal('cause' in new UsageError('m'), false);
});

test('formatErrorLine gives exactly one line', () => {
  assert.equal(formatErrorLine(new UsageError('bad flag', { hint: 'use --pid' })), 'lightfoot: bad flag (use --pid)');
  assert.equal(formatErrorLine(new ConfigError('no hint')), 'lightfoot: no hint');
  assert.equal(formatErrorLine(new ConfigError('two\nlines', { hint: 'a\n  b' })), 'lightfoot: two lines (a b)');
  const sys = Object.assign(new Error('open /x failed'), { code: 'EACCES' });
  assert.equal(formatErrorLine(sys), 'lightfoot: open /x failed (EACCES)');
  assert.equal(formatErrorLine('plain'), 'lightfoot: plain');
});

test('exitCodeFor: 2 for usage errors, 1 otherwise', () => {
  assert.equal(exitCodeFor(new UsageError('x')), 2);
  assert.equal(exitCodeFor(new ConfigError('x')), 1);
  assert.equal(exitCodeFor(new Error('x')), 1);
});
