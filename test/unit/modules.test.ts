/**
 * The protocol-agnostic module host, without the kernel: stream gap decisions
 * for both payload layouts, plan checks, /proc/PID/maps parsing, and the one
 * module list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamGaps } from '../../runtime/modules/ring-pipeline';
import { checkPlan } from '../../runtime/modules/plan-check';
import { devNumber, mappedBinaries } from '../../runtime/modules/binaries';
import { PROBE_MODULES } from '../../probes/index';
import type { BinaryInfo, PlanOutcome } from '../../runtime/native/binding';

const TCP_LAYOUT = { kind: 6, header: 40, cookie: 16, direction: 1, len: 32, captured: 36 };
const SSL_LAYOUT = { ...TCP_LAYOUT, offset: 40, seq: 48 };

test('TCP layout: a record cut short puts gap on the next one of its stream only', () => {
  const g = new StreamGaps(TCP_LAYOUT);
  assert.equal(g.next('1/0', 0, 100, 100, undefined), false);
  assert.equal(g.next('1/0', 0, 50, 80, undefined), false);
  assert.equal(g.next('1/1', 0, 10, 10, undefined), false, 'the other direction is untouched');
  assert.equal(g.next('1/0', 0, 10, 10, undefined), true);
  assert.equal(g.next('1/0', 0, 10, 10, undefined), false);
});

test('TLS layout: calls carried across records reassemble; a lost chunk, a truncated call or a lost call set gap', () => {
  const g = new StreamGaps(SSL_LAYOUT);
  // One 20000-byte call in three records.
  assert.equal(g.next('5/1', 0, 8192, 20000, 0), false);
  assert.equal(g.next('5/1', 8192, 8192, 20000, 0), false);
  assert.equal(g.next('5/1', 16384, 3616, 20000, 0), false);
  // Next call: its middle record is lost.
  assert.equal(g.next('5/1', 0, 8192, 20000, 1), false);
  assert.equal(g.next('5/1', 16384, 3616, 20000, 1), true);
  // A call truncated by the capture limit: the following call starts after a gap.
  assert.equal(g.next('5/1', 0, 1024, 5000, 2), false);
  assert.equal(g.next('5/1', 0, 10, 10, 3), true);
  // A whole call lost (seq jumps from 4 to 6).
  assert.equal(g.next('5/1', 0, 10, 10, 4), false);
  assert.equal(g.next('5/1', 0, 10, 10, 6), true);
  g.forget(5n);
  assert.equal(g.next('5/1', 0, 10, 10, 0), false, 'a closed connection starts afresh');
});

const INFO: BinaryInfo = {
  path: '/lib/libssl.so.3', dev: 1, inode: 2, mtimeNs: 3, sizeBytes: 4, kind: 'shared-library', needed: [], runpath: [],
  symbolCount: 2, cached: false, parseMs: 0,
  symbols: [{ name: 'SSL_read', offset: 0x1000, address: 0x1000, size: 64 }, { name: 'SSL_write', offset: 0x2000, address: 0x2000, size: 0 }],
  text: [{ offset: 0x1000, size: 0x2000 }],
};
const OK = (attach: PlanOutcome['attach']): PlanOutcome => ({ status: 'ok', attach, config: Buffer.alloc(0), notes: [] });
const PROGRAMS = ['lf_ssl_rw_enter', 'lf_ssl_rw_exit'];

test('checkPlan accepts the module\'s programs at offsets inside the function and the text', () => {
  const r = checkPlan(OK([
    { program: 'lf_ssl_rw_enter', symbol: 'SSL_read', offset: 0, mode: 'uprobe', cookie: 0 },
    { program: 'lf_ssl_rw_enter', symbol: 'SSL_read', offset: 12, mode: 'uprobe', cookie: 1 },
    { program: 'lf_ssl_rw_exit', symbol: 'SSL_read', offset: 0, mode: 'uretprobe', cookie: 0 },
  ]), INFO, PROGRAMS, false);
  assert.equal(r.ok, true);
  if (r.ok) assert.deepEqual(r.attaches.map((a) => [a.fileOffset, a.retprobe]), [[0x1000, false], [0x100c, false], [0x1000, true]]);
});

const BAD: [string, PlanOutcome, RegExp, Partial<BinaryInfo>?][] = [
  ['foreign program', OK([{ program: 'lf_tcp_set_state', symbol: 'SSL_read', offset: 0, mode: 'uprobe', cookie: 0 }]), /not one of the module's uprobe programs/],
  ['unknown symbol', OK([{ program: 'lf_ssl_rw_enter', symbol: 'main', offset: 0, mode: 'uprobe', cookie: 0 }]), /no such function/],
  ['offset past the function', OK([{ program: 'lf_ssl_rw_enter', symbol: 'SSL_read', offset: 64, mode: 'uprobe', cookie: 0 }]), /outside the function/],
  ['offset into a size-0 symbol', OK([{ program: 'lf_ssl_rw_enter', symbol: 'SSL_write', offset: 4, mode: 'uprobe', cookie: 0 }]), /outside the function/],
  ['negative offset', OK([{ program: 'lf_ssl_rw_enter', symbol: 'SSL_read', offset: -1, mode: 'uprobe', cookie: 0 }]), /outside the function/],
  ['uretprobe in Go', OK([{ program: 'lf_ssl_rw_exit', symbol: 'SSL_read', offset: 0, mode: 'uretprobe', cookie: 0 }]), /Go binary/, { goVersion: 'go1.23.1' }],
  ['uretprobe off entry', OK([{ program: 'lf_ssl_rw_exit', symbol: 'SSL_read', offset: 4, mode: 'uretprobe', cookie: 0 }]), /at the function entry/],
  ['not in text', OK([{ program: 'lf_ssl_rw_enter', symbol: 'SSL_read', offset: 0, mode: 'uprobe', cookie: 0 }]), /not in an executable segment/, { text: [] }],
  ['cookie too big', OK([{ program: 'lf_ssl_rw_enter', symbol: 'SSL_read', offset: 0, mode: 'uprobe', cookie: 2 ** 32 }]), /u32/],
  ['twice', OK([{ program: 'lf_ssl_rw_enter', symbol: 'SSL_read', offset: 0, mode: 'uprobe', cookie: 0 }, { program: 'lf_ssl_rw_enter', symbol: 'SSL_read', offset: 0, mode: 'uprobe', cookie: 1 }]), /twice/],
  ['empty', OK([]), /attaches nothing/],
  ['config without a map', { ...OK([{ program: 'lf_ssl_rw_enter', symbol: 'SSL_read', offset: 0, mode: 'uprobe', cookie: 0 }]), config: Buffer.from([1]) }, /no configMap/],
];
for (const [name, outcome, reason, patch] of BAD) {
  test(`checkPlan refuses the whole plan: ${name}`, () => {
    const r = checkPlan(outcome, { ...INFO, ...patch }, PROGRAMS, false);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, reason);
  });
}

test('mappedBinaries: executable file mappings, one per inode; deleted and anonymous ones skipped', () => {
  const maps = [
    '55d0c0000000-55d0c0001000 r--p 00000000 fd:01 100 /usr/bin/curl',
    '55d0c0001000-55d0c0005000 r-xp 00001000 fd:01 100 /usr/bin/curl',
    '7f0000000000-7f0000100000 r-xp 00020000 fd:01 200 /usr/lib/x86_64-linux-gnu/libssl.so.3',
    '7f0000100000-7f0000200000 r-xp 00120000 fd:01 200 /usr/lib/x86_64-linux-gnu/libssl.so.3',
    '7f0000300000-7f0000400000 r-xp 00000000 fd:01 300 /tmp/gone (deleted)',
    '7f0000500000-7f0000600000 rw-p 00000000 00:00 0 ',
    '7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0 [vdso]',
  ].join('\n');
  const got = mappedBinaries(42, () => maps);
  assert.deepEqual(got, [
    { path: '/usr/bin/curl', dev: 0xfd01, inode: 100, hostPath: '/proc/42/root/usr/bin/curl' },
    { path: '/usr/lib/x86_64-linux-gnu/libssl.so.3', dev: 0xfd01, inode: 200, hostPath: '/proc/42/root/usr/lib/x86_64-linux-gnu/libssl.so.3' },
  ]);
  assert.deepEqual(mappedBinaries(43, () => { throw new Error('ENOENT'); }), [], 'a process that is gone has no binaries');
});

test('devNumber encodes major:minor like stat() does', () => {
  assert.equal(devNumber('fd:01'), 0xfd01);
  assert.equal(devNumber('00:1a'), 0x1a);
  assert.equal(devNumber('103:02'), (0x103 << 8) | 2);
  assert.equal(devNumber('08:120'), (0x20 | (8 << 8)) + 0x100 * 4096);
});

test('one module list: unique names, tcp first, openssl plans per binary', () => {
  const names = PROBE_MODULES.map((m) => m.name);
  assert.equal(new Set(names).size, names.length);
  assert.equal(names[0], 'tcp');
  const ssl = PROBE_MODULES.find((m) => m.name === 'openssl')!;
  assert.ok(ssl.planner);
  assert.ok(ssl.planner.interest.names?.includes('SSL_write_ex2'));
});
