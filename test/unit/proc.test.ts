import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  createProcFs,
  listPids,
  parseCgroupV2Path,
  parseProcStat,
  readCgroupV2Path,
  readProcStat,
} from '../../runtime/targets/proc';
import { statLine } from './fake-proc';

test('parses pid, comm, ppid, starttime (field 22) and the kthread flag', () => {
  const real = '1234 (nginx) S 1 1234 1234 0 -1 4194624 100 0 0 0 5 3 0 0 20 0 1 0 98765 10000 200 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n';
  assert.deepEqual(parseProcStat(real), { pid: 1234, comm: 'nginx', ppid: 1, startTime: 98765, kernelThread: false });
  assert.equal(parseProcStat(statLine(2, 'kthreadd', 5, { ppid: 0, flags: 0x208040 }))!.kernelThread, true);
});

test('comm with spaces and parentheses: everything up to the last ")"', () => {
  assert.equal(parseProcStat(statLine(9, 'my app', 1))!.comm, 'my app');
  assert.equal(parseProcStat(statLine(9, 'a) (b', 1))!.comm, 'a) (b');
  assert.equal(parseProcStat(statLine(9, ')) S 1 2 3', 77))!.startTime, 77);
  assert.equal(parseProcStat(statLine(9, '', 1))!.comm, '');
});

test('malformed stat text gives undefined', () => {
  for (const bad of ['', 'garbage', '12 (x', 'x (y) S 1', '12 (x) S 1 2 3', '12 (x) S a b c d e f g h i j k l m n o p q r s t u']) {
    assert.equal(parseProcStat(bad), undefined, bad);
  }
});

test('property: any 15-byte comm round-trips through a stat line', () => {
  const comm = fc.string({ unit: 'grapheme', maxLength: 15 }).filter((s) => Buffer.byteLength(s) <= 15 && !s.includes('\n'));
  fc.assert(
    fc.property(comm, fc.integer({ min: 1, max: 4194304 }), fc.nat(), (c, pid, start) => {
      assert.deepEqual(parseProcStat(statLine(pid, c, start)), { pid, comm: c, ppid: 1, startTime: start, kernelThread: false });
    }),
    { numRuns: 1000 },
  );
});

test('cgroup v2 path from /proc/PID/cgroup', () => {
  assert.equal(parseCgroupV2Path('0::/system.slice/nginx.service\n'), '/system.slice/nginx.service');
  assert.equal(parseCgroupV2Path('12:pids:/x\n4:memory:/y\n0::/\n'), '/');
  assert.equal(parseCgroupV2Path('12:pids:/x\n'), undefined);
});

test('fake /proc tree: listPids, readProcStat, readCgroupV2Path, vanished process', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-proc-'));
  try {
    for (const [pid, comm] of [[10, 'a'], [2, 'b c'], [300, 'x)y']] as const) {
      fs.mkdirSync(path.join(root, String(pid)));
      fs.writeFileSync(path.join(root, String(pid), 'stat'), statLine(pid, comm, pid * 10));
      fs.writeFileSync(path.join(root, String(pid), 'cgroup'), `0::/slice/${pid}\n`);
    }
    fs.mkdirSync(path.join(root, 'self'));
    fs.writeFileSync(path.join(root, 'meminfo'), '');
    assert.deepEqual(listPids(root), [2, 10, 300]);
    assert.deepEqual(readProcStat(300, root), { pid: 300, comm: 'x)y', ppid: 1, startTime: 3000, kernelThread: false });
    assert.equal(readCgroupV2Path(2, root), '/slice/2');
    assert.equal(readProcStat(4, root), undefined);
    assert.equal(readCgroupV2Path(4, root), undefined);
    const pfs = createProcFs(root);
    assert.deepEqual(pfs.listPids(), [2, 10, 300]);
    assert.equal(pfs.readStat(2)!.comm, 'b c');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('the real /proc: this process', () => {
  const me = readProcStat(process.pid);
  assert.ok(me);
  assert.equal(me.pid, process.pid);
  assert.equal(me.comm, fs.readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim());
  assert.ok(me.startTime > 0);
  assert.ok(listPids().includes(process.pid));
});
