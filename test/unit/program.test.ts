import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../runtime/errors';
import { readVersion, runCli, type CommandHandlers, type DoctorOptions } from '../../runtime/cli/program';
import type { RunOptions } from '../../runtime/cli/options';

function harness(handlers: Partial<CommandHandlers> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: { run: RunOptions[]; doctor: DoctorOptions[] } = { run: [], doctor: [] };
  const h: CommandHandlers = {
    run: handlers.run ?? (async (o) => (calls.run.push(o), 0)),
    doctor: handlers.doctor ?? (async (o) => (calls.doctor.push(o), 0)),
  };
  const run = (...argv: string[]) =>
    runCli(argv, h, { writeOut: (s) => out.push(s), writeErr: (s) => err.push(s), version: '9.9.9', stderrIsTTY: false, env: {} });
  return { run, out, err, calls, stdout: () => out.join(''), stderr: () => err.join('') };
}

test('run passes typed options to the handler and returns its exit code', async () => {
  const h = harness({ run: async () => 3 });
  assert.equal(await h.run('run', '--pid', '42', '--comm', 'nginx', '--no-events'), 3);
  const h2 = harness();
  assert.equal(await h2.run('run', '--pid', '42', '--pid', '7,8', '--comm', 'nginx', '--cgroup', 'a/b', '--no-events', '--metrics-addr', '[::1]:0'), 0);
  const o = h2.calls.run[0]!;
  assert.deepEqual(o.pids, [42, 7, 8]);
  assert.deepEqual(o.comms, ['nginx']);
  assert.deepEqual(o.cgroups, ['a/b']);
  assert.equal(o.events, false);
  assert.deepEqual(o.metricsAddr, { host: '::1', port: 0 });
  assert.equal(h2.stderr(), '');
});

test('doctor passes --json', async () => {
  const h = harness();
  assert.equal(await h.run('doctor', '--json'), 0);
  assert.equal(await h.run('doctor'), 0);
  assert.deepEqual(h.calls.doctor, [{ json: true }, { json: false }]);
});

test('unknown flag: one line on stderr, exit 2', async () => {
  const h = harness();
  assert.equal(await h.run('run', '--pd', '1'), 2);
  assert.equal(h.stderr(), "lightfoot: unknown option '--pd'; did you mean --pid? (see `lightfoot run --help`)\n");
  assert.equal(h.calls.run.length, 0);
});

test('missing value, unknown command, excess argument: exit 2', async () => {
  let h = harness();
  assert.equal(await h.run('run', '--pid'), 2);
  assert.equal(h.stderr(), "lightfoot: option '--pid <pid>' argument missing (see `lightfoot run --help`)\n");
  h = harness();
  assert.equal(await h.run('rnu'), 2);
  assert.equal(h.stderr(), "lightfoot: unknown command 'rnu'; did you mean run? (see `lightfoot --help`)\n");
  h = harness();
  assert.equal(await h.run('run', '--all', 'extra'), 2);
  assert.match(h.stderr(), /^lightfoot: too many arguments for 'run'\. Expected 0 arguments but got 1\. \(see `lightfoot run --help`\)\n$/);
});

test('bad values: the validation message, exit 2', async () => {
  const h = harness();
  assert.equal(await h.run('run'), 2);
  assert.equal(h.stderr(), 'lightfoot: no processes selected (pass --pid PID, --comm NAME, --cgroup PATH (each repeatable) or --all, or --control-addr for pods pushed by the Kubernetes watcher)\n');
  const h2 = harness();
  assert.equal(await h2.run('run', '--pid', 'abc'), 2);
  assert.equal(h2.stderr(), 'lightfoot: --pid abc: a pid must be a positive integer up to 4194304 (find the pid with `pgrep NAME` or `ps -e`)\n');
});

test('handler errors: one line, exit 1, no stack trace', async () => {
  const h = harness({ run: async () => { throw new ConfigError('cannot serve metrics on 127.0.0.1:9464: address already in use', { hint: 'pick another port with --metrics-addr' }); } });
  assert.equal(await h.run('run', '--all'), 1);
  assert.equal(h.stderr(), 'lightfoot: cannot serve metrics on 127.0.0.1:9464: address already in use (pick another port with --metrics-addr)\n');
  const h2 = harness({ run: async () => { throw new TypeError('oops'); } });
  assert.equal(await h2.run('run', '--all'), 1);
  assert.equal(h2.stderr(), 'lightfoot: oops\n');
});

test('--help has examples and exits 0; --version prints the version', async () => {
  const h = harness();
  assert.equal(await h.run('run', '--help'), 0);
  assert.match(h.stdout(), /Usage: lightfoot run \[options\]/);
  assert.match(h.stdout(), /Examples:\n {2}# watch one process/);
  assert.match(h.stdout(), /--no-events/);
  const h2 = harness();
  assert.equal(await h2.run('--help'), 0);
  assert.match(h2.stdout(), /Commands:\n {2}run \[options\]/);
  assert.match(h2.stdout(), /Examples:\n {2}sudo lightfoot doctor/);
  const h3 = harness();
  assert.equal(await h3.run('doctor', '--help'), 0);
  assert.match(h3.stdout(), /sudo lightfoot doctor --json/);
  const h4 = harness();
  assert.equal(await h4.run('--version'), 0);
  assert.equal(h4.stdout(), '9.9.9\n');
});

test('no command prints help on stderr and exits 2', async () => {
  const h = harness();
  assert.equal(await h.run(), 2);
  assert.match(h.stderr(), /^Usage: lightfoot/);
});

test('readVersion finds the lightfoot package.json', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-version-'));
  try {
    fs.mkdirSync(path.join(root, 'dist/runtime/cli'), { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), '{"name":"lightfoot","version":"1.2.3"}');
    // A package.json of another package on the way up is skipped.
    fs.writeFileSync(path.join(root, 'dist/package.json'), '{"name":"other","version":"0.0.1"}');
    assert.equal(readVersion(path.join(root, 'dist/runtime/cli')), '1.2.3');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
