/**
 * Bad input to the real CLI: each mistake gets one clear line saying what to
 * do and a non-zero exit, and nothing is left loaded in the kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { CLI, isRoot } from '../helpers/daemon';
import { bpfObjectsNamed } from '../helpers/bpftool';

/**
 * Runs the CLI; `unprivileged` drops every capability first (setpriv, util-linux)
 * rather than switching user, so the checkout is readable wherever CI clones it.
 */
function cli(args: string[], opts: { unprivileged?: boolean } = {}) {
  const [cmd, argv] = opts.unprivileged
    ? ['setpriv', ['--bounding-set', '-all', '--inh-caps', '-all', '--', process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0];
}

test('an unknown flag is a usage error (exit 2) that points at --help', () => {
  const r = cli(['run', '--pids', '1']);
  assert.equal(r.code, 2);
  assert.match(oneLine(r.stderr), /^lightfoot: unknown option '--pids'.*lightfoot run --help/);
});

test('run without a selector says which flags select processes', () => {
  const r = cli(['run']);
  assert.equal(r.code, 2);
  assert.match(oneLine(r.stderr), /--pid.*--comm.*--cgroup.*--all/);
});

test('a bad pid value is refused before anything loads', () => {
  const r = cli(['run', '--pid', 'abc']);
  assert.equal(r.code, 2);
  assert.match(oneLine(r.stderr), /^lightfoot: .*pid/);
});

test('--capture of a probe that does not exist names the probes there are', () => {
  const r = cli(['run', '--all', '--capture', 'tcp,quic']);
  assert.equal(r.code, 2);
  assert.match(oneLine(r.stderr), /^lightfoot: --capture quic: no such probe .*probes: tcp, openssl/);
});

test('a process without BPF privileges is told to use sudo', { skip: !isRoot() && 'needs root to drop privileges deterministically' }, () => {
  const r = cli(['run', '--pid', String(process.pid)], { unprivileged: true });
  assert.equal(r.code, 1);
  assert.equal(oneLine(r.stderr), 'lightfoot: lightfoot run needs root or CAP_BPF and CAP_PERFMON to load eBPF programs (run it with sudo; `lightfoot doctor` lists what is missing)');
});

test('an unknown pid is named, with how to check it', { skip: !isRoot() && 'needs root' }, () => {
  let pid = 4_000_000;
  while (fs.existsSync(`/proc/${pid}`)) pid++;
  const r = cli(['run', '--pid', String(pid)]);
  assert.equal(r.code, 1);
  assert.equal(oneLine(r.stderr), `lightfoot: no process with pid ${pid} (check \`ps -p ${pid}\`)`);
  assert.deepEqual(bpfObjectsNamed('lf_').progs, []);
});

test('a missing cgroup is named', { skip: !isRoot() && 'needs root' }, () => {
  const r = cli(['run', '--cgroup', 'no/such/cgroup-for-lightfoot']);
  assert.equal(r.code, 1);
  assert.match(oneLine(r.stderr), /^lightfoot: .*no\/such\/cgroup-for-lightfoot/);
});

test('doctor passes as root and lists every program of the TCP probe as loading', { skip: !isRoot() && 'needs root' }, () => {
  const r = cli(['doctor', '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as { ok: boolean; checks: { check: string; status: string }[] };
  assert.equal(report.ok, true);
  const programs = report.checks.filter((c) => c.check.startsWith('program '));
  assert.deepEqual(
    programs.map((c) => [c.check, c.status]),
    ['lf_tcp_set_state', 'lf_tcp_destroy_sock', 'lf_tcp_flush_iter', 'lf_tcp_adopt_iter', 'lf_tcp_claim_iter', 'lf_tcp_send_reset', 'lf_tcp_receive_reset', 'lf_tcp_process_free'].map((p) => [`program ${p}`, 'ok']),
  );
  assert.deepEqual(bpfObjectsNamed('lf_').progs, [], 'doctor leaves nothing loaded');
});

test('doctor without privileges fails and says what to fix', { skip: !isRoot() && 'needs root to drop privileges deterministically' }, () => {
  const r = cli(['doctor'], { unprivileged: true });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /capabilities\s+FAIL/);
  assert.match(r.stdout, /-> run as root, or grant CAP_BPF and CAP_PERFMON/);
  assert.match(r.stdout, /lightfoot cannot monitor this host: fix capabilities/);
});
