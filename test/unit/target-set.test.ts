import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TargetError, formatErrorLine } from '../../runtime/errors';
import { createProcFs } from '../../runtime/targets/proc';
import { TargetSet, type Target, type TargetSelectors } from '../../runtime/targets/target-set';
import { FakeProcFs, statLine } from './fake-proc';

const sel = (s: Partial<TargetSelectors>): TargetSelectors => ({ pids: [], comms: [], cgroupPaths: [], all: false, ...s });
const ids = (ts: Target[]) => ts.map((t) => `${t.pid}:${t.comm}:${t.reason}`);

function setup(selectors: Partial<TargetSelectors>) {
  const proc = new FakeProcFs();
  let now = 1000;
  const targets = new TargetSet({ selectors: sel(selectors), procFs: proc, clock: () => now, excludePids: [] });
  return { proc, targets, tick: (ms = 1000) => (now += ms) };
}

test('--pid that does not exist at startup: TargetError naming ps -p', () => {
  const { proc, targets } = setup({ pids: [42, 7] });
  proc.procs.set(42, { comm: 'a', startTime: 1 });
  assert.throws(() => targets.rescan(), (e: unknown) => {
    assert.ok(e instanceof TargetError);
    assert.equal(e.code, 'LF_ERR_TARGET');
    assert.equal(formatErrorLine(e), 'lightfoot: no process with pid 7 (check `ps -p 7`)');
    return true;
  });
  const two = setup({ pids: [5, 6] });
  assert.throws(() => two.targets.rescan(), { message: 'no process with pid 5, 6', hint: 'check `ps -p 5,6`' });
});

test('--pid: exit reported once; a reused pid is not the same target', () => {
  const { proc, targets, tick } = setup({ pids: [42] });
  proc.procs.set(42, { comm: 'app', startTime: 100 });
  proc.procs.set(43, { comm: 'other', startTime: 100 });
  assert.deepEqual(ids(targets.rescan().added), ['42:app:pid']);
  assert.deepEqual(targets.rescan(), { added: [], exited: [] });
  // Only the pinned pid is read, not the whole process table.
  proc.reads = 0;
  targets.rescan();
  assert.equal(proc.reads, 1);

  tick();
  proc.procs.set(42, { comm: 'app', startTime: 999 }); // pid reused by a new process
  const d = targets.rescan();
  assert.deepEqual(ids(d.exited), ['42:app:pid']);
  assert.equal(d.exited[0]!.startTime, 100);
  assert.deepEqual(d.added, []);
  assert.deepEqual(targets.rescan(), { added: [], exited: [] });
  assert.deepEqual(targets.current(), []);
  assert.equal(targets.exhausted(), true);
});

test('--comm: exact kernel comm, picks up later processes, reports exits once', () => {
  const { proc, targets, tick } = setup({ comms: ['nginx', 'my (odd) app'] });
  proc.procs.set(10, { comm: 'nginx', startTime: 1 });
  proc.procs.set(11, { comm: 'nginx-worker', startTime: 1 });
  proc.procs.set(12, { comm: 'my (odd) app', startTime: 1 });
  proc.procs.set(13, { comm: 'Nginx', startTime: 1 });
  assert.deepEqual(ids(targets.rescan().added), ['10:nginx:comm', '12:my (odd) app:comm']);

  tick();
  proc.procs.set(20, { comm: 'nginx', startTime: 50 });
  proc.procs.delete(10);
  let d = targets.rescan();
  assert.deepEqual(ids(d.added), ['20:nginx:comm']);
  assert.equal(d.added[0]!.since, 2000);
  assert.deepEqual(ids(d.exited), ['10:nginx:comm']);
  assert.deepEqual(ids(targets.current()), ['12:my (odd) app:comm', '20:nginx:comm']);
  assert.equal(targets.current().find((t) => t.pid === 12)!.since, 1000, 'targets keep their first-seen time');

  // pid 12 reused by another program with the same comm: one exit, one addition.
  proc.procs.set(12, { comm: 'my (odd) app', startTime: 77 });
  d = targets.rescan();
  assert.deepEqual(d.exited.map((t) => [t.pid, t.startTime]), [[12, 1]]);
  assert.deepEqual(d.added.map((t) => [t.pid, t.startTime]), [[12, 77]]);
  assert.deepEqual(targets.rescan(), { added: [], exited: [] });
  assert.equal(targets.exhausted(), false);
});

test('--cgroup: processes at or below the cgroup; leaving it counts as exit', () => {
  const { proc, targets } = setup({ cgroupPaths: ['/system.slice/web.service'] });
  proc.procs.set(1, { comm: 'init', startTime: 1, cgroup: '/init.scope' });
  proc.procs.set(2, { comm: 'web', startTime: 1, cgroup: '/system.slice/web.service' });
  proc.procs.set(3, { comm: 'helper', startTime: 1, cgroup: '/system.slice/web.service/sub' });
  proc.procs.set(4, { comm: 'web2', startTime: 1, cgroup: '/system.slice/web.service2' });
  proc.procs.set(5, { comm: 'gone', startTime: 1 });
  assert.deepEqual(ids(targets.rescan().added), ['2:web:cgroup', '3:helper:cgroup']);
  proc.procs.get(3)!.cgroup = '/user.slice';
  assert.deepEqual(ids(targets.rescan().exited), ['3:helper:cgroup']);
});

test('--all: every user process except excluded pids and kernel threads', () => {
  const proc = new FakeProcFs();
  proc.procs.set(1, { comm: 'init', startTime: 1 });
  proc.procs.set(2, { comm: 'kthreadd', startTime: 1, kernelThread: true });
  proc.procs.set(99, { comm: 'lightfoot', startTime: 1 });
  const targets = new TargetSet({ selectors: sel({ all: true }), procFs: proc, excludePids: [99] });
  assert.deepEqual(ids(targets.rescan().added), ['1:init:all']);
  assert.equal(targets.size, 1);
});

test('combined selectors: the first matching reason wins, no duplicates', () => {
  const { proc, targets } = setup({ pids: [5], comms: ['app'], cgroupPaths: ['/'] });
  proc.procs.set(5, { comm: 'app', startTime: 1, cgroup: '/x' });
  proc.procs.set(6, { comm: 'app', startTime: 1, cgroup: '/x' });
  proc.procs.set(7, { comm: 'zzz', startTime: 1, cgroup: '/x' });
  assert.deepEqual(ids(targets.rescan().added), ['5:app:pid', '6:app:comm', '7:zzz:cgroup']);
});

test('unreadable processes are skipped, not fatal', () => {
  const { proc, targets } = setup({ all: true });
  proc.procs.set(1, { comm: 'a', startTime: 1 });
  proc.procs.set(2, { comm: 'b', startTime: 1 });
  const read = proc.readStat.bind(proc);
  proc.readStat = (pid: number) => {
    if (pid === 2) throw new Error('EACCES');
    return read(pid);
  };
  assert.deepEqual(ids(targets.rescan().added), ['1:a:all']);
});

test('fake /proc tree on disk through createProcFs, comm with spaces and ")"', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-ts-'));
  const write = (pid: number, comm: string, start: number) => {
    fs.mkdirSync(path.join(root, String(pid)), { recursive: true });
    fs.writeFileSync(path.join(root, String(pid), 'stat'), statLine(pid, comm, start));
  };
  try {
    write(100, 'web) (srv', 5);
    write(101, 'web', 5);
    const targets = new TargetSet({ selectors: sel({ comms: ['web) (srv'] }), procFs: createProcFs(root), excludePids: [] });
    assert.deepEqual(ids(targets.rescan().added), ['100:web) (srv:comm']);
    fs.rmSync(path.join(root, '100'), { recursive: true });
    write(100, 'web) (srv', 6);
    const d = targets.rescan();
    assert.deepEqual([d.exited[0]!.startTime, d.added[0]!.startTime], [5, 6]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
