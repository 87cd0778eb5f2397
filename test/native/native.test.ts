// Real-kernel tests of native/lightfoot.node: loads the fixture in test/fixtures/bpf into
// the running kernel (needs root), attaches it, and checks exact outcomes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const SKIP = isRoot ? false : 'needs root: loads eBPF programs into the kernel';

// dist/test/native/ is three levels below the repo root; private builds elsewhere set cwd.
function repoRoot(): string {
  for (const c of [path.resolve(__dirname, '..', '..', '..'), process.cwd()]) {
    if (existsSync(path.join(c, 'test', 'fixtures', 'bpf', 'build.sh'))) return c;
  }
  throw new Error('cannot find the repo root (run from it)');
}

// Loaded lazily so a non-root run without the addon still reports skips, not a crash.
type Binding = typeof import('../../runtime/native/binding');
let nb: Binding;
let fixtures = '';
function setup(): void {
  if (fixtures) return;
  nb = require('../../runtime/native/binding') as Binding;
  fixtures = execFileSync('bash', [path.join(repoRoot(), 'test', 'fixtures', 'bpf', 'build.sh')], { encoding: 'utf8' }).trim();
}
const objPath = () => path.join(fixtures, 'native_smoke.bpf.o');
const targetBin = () => path.join(fixtures, 'uprobe_target');

const RECORD_LEN = 20;
const MAGIC = 0x4e534d31;
interface Rec { cookie: bigint; arg: number; tgid: number }

/** Parses a batch and checks its framing: u32 LE length | record | zero pad to 8. */
function parseBatch(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    assert.ok(off + 4 <= buf.length, 'truncated length header');
    const len = buf.readUInt32LE(off);
    const end = off + 4 + len;
    assert.ok(end <= buf.length, 'record runs past the batch');
    out.push(buf.subarray(off + 4, end));
    const padded = Math.ceil(end / 8) * 8;
    assert.ok(buf.subarray(end, padded).every((b) => b === 0), 'padding is not zero');
    off = padded;
  }
  assert.equal(off, buf.length, 'batch does not end on a padded record');
  return out;
}

function decode(r: Buffer): Rec {
  assert.equal(r.length, RECORD_LEN);
  assert.equal(r.readUInt32LE(16), MAGIC);
  return { cookie: r.readBigUInt64LE(0), arg: r.readUInt32LE(8), tgid: r.readUInt32LE(12) };
}

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sum of the per-CPU u64 counter in nsm_counts[slot]; checks the per-CPU value layout. */
function perCpuSum(obj: import('../../runtime/native/binding').BpfObject, slot: number): bigint {
  const v = obj.mapLookup('nsm_counts', u32(slot));
  assert.ok(v);
  assert.equal(v.length, nb.possibleCpus() * 8);
  let s = 0n;
  for (let i = 0; i < v.length; i += 8) s += v.readBigUInt64LE(i);
  return s;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function bpftoolNames(kind: 'prog' | 'map'): string[] {
  const out = execFileSync('bpftool', ['-j', kind, 'show'], { encoding: 'utf8' });
  return (JSON.parse(out || '[]') as { name?: string }[]).map((x) => x.name ?? '');
}
// Internal maps (native_s.rodata) are not matched: another object whose name starts with
// "native_s" could own one; the nsm_ maps are freed by the same close().
const ours = (n: string) => n.startsWith('nsm_');

/** Programs and maps are freed when their last fd closes; allow the kernel a moment. */
async function assertNoLeaks(): Promise<void> {
  let left: string[] = [];
  for (let i = 0; i < 50; i++) {
    left = [...bpftoolNames('prog'), ...bpftoolNames('map')].filter(ours);
    if (left.length === 0) return;
    await sleep(20);
  }
  assert.deepEqual(left, [], 'programs/maps still in the kernel after close()');
}

/** Opens the fixture with nsm_min_arg set, loads it, attaches the uprobe with a cookie. */
function loadWithUprobe(minArg: number, cookie: bigint) {
  const obj = nb.BpfObject.open(objPath());
  obj.setConstant('nsm_min_arg', u32(minArg));
  obj.load();
  const link = obj.attachUprobe('nsm_uprobe', { binaryPath: targetBin(), funcName: 'nsm_target', cookie });
  return { obj, link };
}

test('inspects programs and maps before load', { skip: SKIP }, async () => {
  setup();
  assert.equal(nb.libbpfVersion(), '1.7');
  const possible = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  const cpus = possible.split(',').reduce((n, r) => {
    const [a, b] = r.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
  assert.equal(nb.possibleCpus(), cpus);

  const obj = nb.BpfObject.open(objPath());
  try {
    const progs = Object.fromEntries(obj.programs().map((p) => [p.name, p]));
    assert.deepEqual(progs.nsm_uprobe, { name: 'nsm_uprobe', section: 'uprobe', type: 'kprobe', autoload: true });
    assert.deepEqual(progs.nsm_sysenter, { name: 'nsm_sysenter', section: 'raw_tp/sys_enter', type: 'raw_tracepoint', autoload: true });
    assert.deepEqual(progs.nsm_bad, { name: 'nsm_bad', section: 'raw_tp/sys_enter', type: 'raw_tracepoint', autoload: false });
    const maps = Object.fromEntries(obj.maps().map((m) => [m.name, m]));
    assert.deepEqual(maps.nsm_events, { name: 'nsm_events', type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 1 << 20 });
    assert.deepEqual(maps.nsm_counts, { name: 'nsm_counts', type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 4 });
    obj.setMaxEntries('nsm_hash', 128);
    assert.equal(obj.maps().find((m) => m.name === 'nsm_hash')?.maxEntries, 128);
  } finally {
    obj.close();
    obj.close(); // idempotent
  }
  assert.throws(() => nb.BpfObject.open('/nonexistent.bpf.o'), (e: any) => e.code === 'LF_ERR_OPEN' && /^opening \/nonexistent\.bpf\.o: no such file/.test(e.message));
});

test('setConstant rejects unknown names, wrong sizes and loaded objects', { skip: SKIP }, async () => {
  setup();
  const obj = nb.BpfObject.open(objPath());
  try {
    assert.throws(() => obj.setConstant('nsm_nope', u32(1)), (e: any) => e.code === 'LF_ERR_CONFIG' && /nsm_nope/.test(e.message));
    assert.throws(() => obj.setConstant('nsm_min_arg', u64(1n)), (e: any) => e.code === 'LF_ERR_CONFIG' && /nsm_min_arg.*8 bytes, variable is 4/.test(e.message));
    obj.setConstant('nsm_min_arg', u32(3));
    obj.load();
    assert.throws(() => obj.setConstant('nsm_min_arg', u32(1)), (e: any) => e.code === 'LF_ERR_CONFIG' && /nsm_min_arg.*already loaded/.test(e.message));
    assert.throws(() => obj.setAutoload('nsm_bad', true), (e: any) => e.code === 'LF_ERR_CONFIG');
  } finally {
    obj.close();
  }
  assert.throws(() => obj.programs(), (e: any) => e.code === 'LF_ERR_CLOSED');
  await assertNoLeaks();
});

test('uprobe by name fires once per call, carries the cookie, and the ring delivers every record in order', { skip: SKIP }, async () => {
  setup();
  const N = 1000;
  const cookie = 0xdeadbeefcafe1234n;
  const { obj, link } = loadWithUprobe(0, cookie);
  const batches: Buffer[] = [];
  const reader = obj.openRingBuffer('nsm_events', { pollIntervalMs: 20, maxBatchBytes: 4096, maxPendingBatches: 4 }, (b) => { batches.push(b); });
  try {
    const child = run(targetBin(), [String(N)]);
    const pid = child.child.pid;
    await child;
    await waitFor(() => reader.stats().records >= N, 5000, `${N} records`);
    await sleep(100); // nothing beyond N may arrive
    reader.stop();
    await sleep(20); // batches queued before stop() still land
    const recs = batches.flatMap(parseBatch).map(decode);
    assert.equal(recs.length, N);
    assert.deepEqual(recs.map((r) => r.arg), Array.from({ length: N }, (_, i) => i));
    assert.ok(recs.every((r) => r.cookie === cookie && r.tgid === pid));
    const st = reader.stats();
    assert.equal(st.records, N);
    assert.equal(st.bytes, N * RECORD_LEN);
    assert.equal(st.batches, batches.length);
    assert.ok(batches.every((b) => b.length <= 4096 + 32), 'a batch overshoots maxBatchBytes by more than one record');
    assert.ok(batches.length >= Math.ceil((N * 24) / 4096), 'batches were not cut at maxBatchBytes');
    assert.equal(perCpuSum(obj, 0), BigInt(N)); // hits
    assert.equal(perCpuSum(obj, 1), 0n); // ring drops
    link.destroy();
    link.destroy(); // idempotent
    await run(targetBin(), ['10']);
    assert.equal(perCpuSum(obj, 0), BigInt(N), 'uprobe still fires after destroy()');
  } finally {
    obj.close();
    reader.stop(); // after close(): no-op
  }
  await assertNoLeaks();
});

test('setConstant changes what the program does', { skip: SKIP }, async () => {
  setup();
  const N = 1000;
  const { obj } = loadWithUprobe(600, 7n);
  const recs: Rec[] = [];
  const reader = obj.openRingBuffer('nsm_events', { pollIntervalMs: 10, maxBatchBytes: 65536, maxPendingBatches: 2 }, (b) => { recs.push(...parseBatch(b).map(decode)); });
  try {
    await run(targetBin(), [String(N)]);
    await waitFor(() => recs.length >= N - 600, 5000, 'filtered records');
    await sleep(100);
    assert.equal(recs.length, N - 600);
    assert.deepEqual(recs.map((r) => r.arg), Array.from({ length: N - 600 }, (_, i) => 600 + i));
    assert.ok(recs.every((r) => r.cookie === 7n));
    assert.equal(perCpuSum(obj, 0), BigInt(N)); // the probe ran for every call; the filter cut the rest
  } finally {
    reader.stop();
    obj.close();
  }
  await assertNoLeaks();
});

test('map update, lookup, delete and keys, per-CPU layout included', { skip: SKIP }, async () => {
  setup();
  const obj = nb.BpfObject.open(objPath());
  try {
    assert.throws(() => obj.mapLookup('nsm_hash', u32(1)), (e: any) => e.code === 'LF_ERR_MAP' && /not loaded/.test(e.message));
    obj.load();
    for (const k of [5, 1, 9]) obj.mapUpdate('nsm_hash', u32(k), u64(BigInt(k * 100)));
    assert.deepEqual(obj.mapKeys('nsm_hash').map((b) => b.readUInt32LE(0)).sort((a, b) => a - b), [1, 5, 9]);
    assert.equal(obj.mapLookup('nsm_hash', u32(5))?.readBigUInt64LE(0), 500n);
    assert.equal(obj.mapLookup('nsm_hash', u32(6)), null);
    assert.equal(obj.mapDelete('nsm_hash', u32(5)), true);
    assert.equal(obj.mapDelete('nsm_hash', u32(5)), false);
    assert.deepEqual(obj.mapKeys('nsm_hash').map((b) => b.readUInt32LE(0)).sort((a, b) => a - b), [1, 9]);
    const BPF_NOEXIST = 1;
    assert.throws(() => obj.mapUpdate('nsm_hash', u32(1), u64(0n), BPF_NOEXIST), (e: any) => e.code === 'LF_ERR_MAP' && /file exists/.test(e.message));
    assert.throws(() => obj.mapLookup('nsm_hash', u64(1n)), (e: any) => e.code === 'LF_ERR_MAP' && /key is 8 bytes, map wants 4/.test(e.message));

    const cpus = nb.possibleCpus();
    const v = Buffer.alloc(cpus * 8);
    for (let i = 0; i < cpus; i++) v.writeBigUInt64LE(BigInt(i + 1) * 11n, i * 8);
    obj.mapUpdate('nsm_counts', u32(3), v);
    assert.deepEqual(obj.mapLookup('nsm_counts', u32(3)), v);
    assert.throws(() => obj.mapUpdate('nsm_counts', u32(3), u64(1n)), (e: any) => e.code === 'LF_ERR_MAP' && new RegExp(`map wants ${cpus * 8}`).test(e.message));
    assert.equal(obj.mapKeys('nsm_counts').length, 4);
  } finally {
    obj.close();
  }
  await assertNoLeaks();
});

test('attach by section counts runs, programStats reports them, destroy detaches', { skip: SKIP }, async () => {
  setup();
  const stats = nb.enableRunTimeStats();
  const obj = nb.BpfObject.open(objPath());
  try {
    obj.load();
    const link = obj.attach('nsm_sysenter');
    for (let i = 0; i < 20; i++) await run('true');
    assert.ok(perCpuSum(obj, 2) > 0n, 'sys_enter never counted');
    const ps = obj.programStats().find((p) => p.name === 'nsm_sysenter');
    assert.ok(ps && ps.id > 0 && ps.runCount > 0 && ps.runTimeNs > 0, JSON.stringify(ps));
    assert.ok(!obj.programStats().some((p) => p.name === 'nsm_bad'), 'autoload-off program has stats');
    link.destroy();
    await sleep(50);
    const before = perCpuSum(obj, 2);
    for (let i = 0; i < 5; i++) await run('true');
    assert.equal(perCpuSum(obj, 2), before, 'still counting after destroy()');
    assert.throws(() => obj.attach('nsm_bad'), (e: any) => e.code === 'LF_ERR_ATTACH' && /not loaded/.test(e.message));
    assert.throws(() => obj.attachUprobe('nsm_uprobe', { binaryPath: targetBin(), funcName: 'nsm_no_such_fn' }),
      (e: any) => e.code === 'LF_ERR_ATTACH' && /^attaching uprobe nsm_no_such_fn in .*uprobe_target \(nsm_uprobe\): /.test(e.message));
    assert.throws(() => obj.attachTracepoint('nsm_sysenter', 'nsm_nocat', 'nsm_none'), (e: any) => e.code === 'LF_ERR_ATTACH');
    // Attached links are destroyed by close() too.
    obj.attach('nsm_sysenter');
    obj.attachRawTracepoint('nsm_sysenter', 'sys_enter');
  } finally {
    obj.close();
    stats.close();
    stats.close();
  }
  await assertNoLeaks();
});

test('a verifier rejection throws LF_ERR_LOAD with the log tail and the failed program', { skip: SKIP }, async () => {
  setup();
  const obj = nb.BpfObject.open(objPath());
  try {
    obj.setAutoload('nsm_bad', true);
    let err: any;
    try { obj.load(); } catch (e) { err = e; }
    assert.ok(err !== undefined && Object.prototype.toString.call(err) === '[object Error]', 'load() did not throw an Error');
    assert.equal(err.code, 'LF_ERR_LOAD');
    assert.equal(err.failedProgram, 'nsm_bad');
    assert.match(err.message, /^loading .*native_smoke\.bpf\.o: permission denied\nverifier log \(tail\):\n/);
    assert.match(err.message, /invalid mem access 'scalar'/);
    const tail = err.message.split('\nverifier log (tail):\n')[1].split('\n');
    assert.ok(tail.length > 3 && tail.length <= 60, `tail has ${tail.length} lines`);
    assert.throws(() => obj.load(), (e: any) => e.code === 'LF_ERR_LOAD' && /close\(\) it and open\(\) it again/.test(e.message));
    assert.throws(() => obj.attach('nsm_sysenter'), (e: any) => e.code === 'LF_ERR_ATTACH');
  } finally {
    obj.close();
  }
  await assertNoLeaks();
  // Re-opened without the bad program, the same file loads.
  const again = nb.BpfObject.open(objPath());
  again.load();
  again.close();
  await assertNoLeaks();
});

test('backpressure: a slow consumer makes the reader wait, and no record is lost', { skip: SKIP }, async () => {
  setup();
  const N = 20000; // 20000 * 32 bytes in the kernel ring < 1 MiB: fits even if never drained
  const { obj } = loadWithUprobe(0, 1n);
  let records = 0;
  let inCallback = false;
  let reentered = false;
  let expected = 0;
  let ordered = true;
  const reader = obj.openRingBuffer('nsm_events', { pollIntervalMs: 10, maxBatchBytes: 1024, maxPendingBatches: 1 }, (b) => {
    if (inCallback) reentered = true;
    inCallback = true;
    for (const r of parseBatch(b)) {
      if (r.readUInt32LE(8) !== expected++) ordered = false;
      records++;
    }
    const until = Date.now() + 2;
    while (Date.now() < until) { /* slow consumer */ }
    inCallback = false;
  });
  try {
    await run(targetBin(), [String(N)]);
    await waitFor(() => records >= N, 30000, `${N} records`);
    await sleep(50);
    const st = reader.stats();
    assert.equal(records, N);
    assert.equal(st.records, N);
    assert.ok(ordered, 'records out of order');
    assert.ok(!reentered, 'onBatch re-entered');
    assert.ok(st.backpressureWaits > 0, `backpressureWaits = ${st.backpressureWaits}`);
    assert.equal(perCpuSum(obj, 1), 0n, 'the kernel dropped records');
  } finally {
    obj.close(); // stops the reader first
  }
  assert.equal(reader.stats().records, N);
  await assertNoLeaks();
});

test('log handler receives libbpf lines; a throwing onBatch becomes an uncaught exception', { skip: SKIP }, async () => {
  setup();
  const lines: [string, string][] = [];
  nb.setLogHandler((level, line) => { lines.push([level, line]); });
  const obj = nb.BpfObject.open(objPath());
  try {
    obj.load();
    await waitFor(() => lines.some(([, l]) => l.startsWith('libbpf: ')), 2000, 'libbpf log lines');
    assert.ok(lines.every(([lvl]) => lvl === 'warn' || lvl === 'info' || lvl === 'debug'));
    assert.ok(lines.some(([lvl, l]) => lvl === 'debug' && /nsm_/.test(l)), 'no debug line about the fixture');
    nb.setLogHandler(null);
    const n = lines.length;
    const o2 = nb.BpfObject.open(objPath());
    o2.close();
    await sleep(50);
    assert.equal(lines.length, n, 'handler still called after setLogHandler(null)');

    // A throw inside onBatch must not abort the process: it surfaces as uncaughtException.
    obj.attachUprobe('nsm_uprobe', { binaryPath: targetBin(), funcName: 'nsm_target' });
    const caught: unknown[] = [];
    const onUncaught = (e: unknown) => { caught.push(e); };
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    try {
      let calls = 0;
      obj.openRingBuffer('nsm_events', { pollIntervalMs: 10, maxBatchBytes: 64, maxPendingBatches: 1 }, () => { calls++; throw new Error('boom'); });
      await run(targetBin(), ['5']);
      await waitFor(() => calls >= 2, 3000, 'several onBatch calls');
      assert.ok(caught.length >= 2 && (caught[0] as Error).message === 'boom');
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      for (const l of listeners) process.on('uncaughtException', l);
    }
  } finally {
    nb.setLogHandler(null);
    obj.close();
  }
  await assertNoLeaks();
});

test('objects JS forgets are freed by the garbage collector', { skip: SKIP }, async () => {
  setup();
  // A child with --expose-gc: open, load, attach, read a ring, then drop everything unclosed.
  const script = `
    const nb = require(${JSON.stringify(require.resolve('../../runtime/native/binding'))});
    (function () {
      const o = nb.BpfObject.open(${JSON.stringify(objPath())});
      o.load();
      o.attach('nsm_sysenter');
      o.openRingBuffer('nsm_events', { pollIntervalMs: 10, maxBatchBytes: 4096, maxPendingBatches: 1 }, () => {});
    })();
    const { execFileSync } = require('node:child_process');
    const count = () => JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' }))
      .filter((p) => (p.name || '').startsWith('nsm_')).length;
    const before = count();
    (async () => {
      for (let i = 0; i < 20 && count() > 0; i++) { global.gc(); await new Promise((r) => setTimeout(r, 20)); }
      console.log(JSON.stringify({ before, after: count() }));
      process.exit(0);
    })();`;
  const { stdout } = await run(process.execPath, ['--expose-gc', '-e', script], { env: process.env });
  assert.deepEqual(JSON.parse(stdout.trim()), { before: 2, after: 0 }); // nsm_uprobe + nsm_sysenter
  await assertNoLeaks();
});
