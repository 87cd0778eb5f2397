/**
 * Probe planning with the real engine and real binaries: binary introspection
 * (symbols, build-id, text bounds, cache), the openssl planner on libssl.so.3,
 * a static libssl.a program, Rust programs with BoringSSL and OpenSSL 1.1.1 and node, and hostile planners (trap, endless
 * loop, memory hog, foreign program, offset outside the function, uretprobe in
 * a Go binary, oversized plan) plus fuzzed binary-info: nothing is attached
 * from a bad plan and the error names the module and the reason.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../helpers/wasm-fixtures';
import { buildTlsClients } from '../workloads/build';
import { opensslModule } from '../../probes/openssl/manifest';
import { ModulePlanner, type PlannerEngine } from '../../runtime/modules/planner';
import type { BinaryInfo } from '../../runtime/native/binding';

const native = require('../../runtime/native/binding') as typeof import('../../runtime/native/binding');
const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const engine = new native.WasmEngine({ cacheDir: '' }) as unknown as PlannerEngine;
const root = repoRoot();
let fixtures = '';

/** The openssl planner built with -DLF_HOSTILE=n into a temp package root. */
function hostile(n: number): ModulePlanner {
  const dir = path.join(fixtures, String(n));
  const out = path.join(dir, opensslModule.planner!.component);
  if (!fs.existsSync(out)) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    // The memory hog gets more linear memory than the host's cap, so the cap is what stops it.
    const mem = n === 3 ? ['--max-memory', String(256 << 20)] : [];
    execFileSync('bash', [path.join(root, 'sdk/scripts/build-c-component.sh'), '--world', 'planner-plugin', ...mem, '-D', `LF_HOSTILE=${n}`,
      '-o', out, path.join(root, 'probes/openssl/planner/plan.c')], { stdio: 'pipe' });
  }
  return new ModulePlanner(opensslModule, engine, dir, native.readBinaryInfo);
}

before(() => {
  fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-planner-'));
});

test('introspection reads libssl.so.3: kind, soname, build-id, SSL_* symbols inside the text', () => {
  const info = native.readBinaryInfo(LIBSSL, { names: ['SSL_read', 'SSL_write', 'SSL_no_such_function'] });
  assert.equal(info.kind, 'shared-library');
  assert.equal(info.soname, 'libssl.so.3');
  assert.match(info.buildId ?? '', /^[0-9a-f]{40}$/);
  assert.deepEqual(info.symbols.map((s) => s.name), ['SSL_read', 'SSL_write']);
  assert.ok(info.symbolCount > 500);
  for (const s of info.symbols) assert.ok(info.text.some((t) => s.offset >= t.offset && s.offset + s.size <= t.offset + t.size));
  // nm agrees on the address.
  const nm = execFileSync('nm', ['-D', '--defined-only', LIBSSL], { encoding: 'utf8' });
  const addr = /^([0-9a-f]+) T SSL_write(@@\S+)?$/m.exec(nm)![1];
  assert.equal(info.symbols.find((s) => s.name === 'SSL_write')!.address, parseInt(addr, 16));
  assert.equal(native.readBinaryInfo(LIBSSL, {}).cached, true, 'second read is from the cache');
});

test('introspection refuses a non-ELF file with a clear message', () => {
  const f = path.join(fixtures, 'not-elf');
  fs.writeFileSync(f, 'hello');
  assert.throws(() => native.readBinaryInfo(f, {}), /reading binary .*not-elf: not a 64-bit ELF file/);
});

test('the openssl planner plans libssl.so.3, a static libssl.a program, Rust programs with BoringSSL and OpenSSL 1.1.1, and node; refuses libc and says why', async () => {
  const p = new ModulePlanner(opensslModule, engine, root, native.readBinaryInfo);
  const lib = p.plan(p.info(LIBSSL));
  assert.equal(lib.status, 'planned');
  if (lib.status !== 'planned') return;
  const names = lib.attaches.map((a) => `${a.symbol}:${a.retprobe ? 'ret' : 'entry'}`).sort();
  assert.deepEqual(names, ['SSL_free:entry', 'SSL_read:entry', 'SSL_read:ret', 'SSL_read_ex:entry', 'SSL_read_ex:ret', 'SSL_write:entry', 'SSL_write:ret', 'SSL_write_ex:entry', 'SSL_write_ex:ret']);
  assert.ok(lib.notes.some((n) => /SSL_write_ex2/.test(n)), 'Debian 3.0 has no SSL_write_ex2, and the plan says so');
  const stat = await buildTlsClients();
  assert.equal(p.plan(p.info(stat.static)).status, 'planned');
  // Rust, statically linked: BoringSSL (no _ex forms) and OpenSSL 1.1.1 (the linker
  // dropped the unused _ex ones); the symbols are local in .symtab.
  for (const bin of [stat.boring, stat.openssl111]) {
    const r = p.plan(p.info(bin));
    assert.equal(r.status, 'planned', bin);
    if (r.status !== 'planned') continue;
    const got = r.attaches.map((a) => `${a.symbol}:${a.retprobe ? 'ret' : 'entry'}`).sort();
    assert.deepEqual(got, ['SSL_free:entry', 'SSL_read:entry', 'SSL_read:ret', 'SSL_write:entry', 'SSL_write:ret'], bin);
  }
  assert.equal(p.plan(p.info(process.execPath)).status, 'planned');
  const libc = p.plan(p.info('/lib/x86_64-linux-gnu/libc.so.6'));
  assert.equal(libc.status, 'not-applicable');
  if (libc.status === 'not-applicable') assert.match(libc.reason, /no SSL_read/);
});

const HOSTILE: [number, RegExp][] = [
  [1, /module openssl: planner trap/],
  [2, /module openssl: planner timeout/],
  [3, /module openssl: planner oom/],
  [4, /module openssl: plan refused: .*"lf_tcp_set_state".*not one of the module's uprobe programs/],
  [5, /module openssl: plan refused: .*offset \d+ is outside the function/],
  [7, /module openssl: plan refused: the plan has \d+ attachments \(at most 256\)/],
];
for (const [n, reason] of HOSTILE) {
  test(`hostile planner ${n}: nothing is planned, the error names the module and the reason`, () => {
    const p = hostile(n);
    const r = p.plan(p.info(LIBSSL));
    assert.equal(r.status, 'error');
    if (r.status === 'error') assert.match(r.reason, reason);
  });
}

test('a uretprobe asked for in a Go binary is refused by the host', () => {
  const p = hostile(6);
  const info: BinaryInfo = { ...p.info(LIBSSL), goVersion: 'go1.22.5', inode: 1, dev: 1 };
  const r = p.plan(info);
  assert.equal(r.status, 'error');
  if (r.status === 'error') assert.match(r.reason, /uretprobe in a Go binary \(go1\.22\.5\) would crash it/);
});

test('fuzzed binary-info never faults the host; every accepted plan stays inside the binary', () => {
  const p = new ModulePlanner(opensslModule, engine, root, native.readBinaryInfo);
  const base = p.info(LIBSSL);
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const names = ['SSL_read', 'SSL_write', 'SSL_read_ex', 'SSL_write_ex', 'SSL_write_ex2', 'SSL_free', '', 'x'.repeat(5000), 'SSL_read\u0000', '\u{1f600}'];
  let planned = 0;
  for (let i = 0; i < 300; i++) {
    // Half the inputs keep real offsets (so some plans pass the checks), half are wild.
    const wild = i % 2 === 0;
    const symbols = Array.from({ length: rnd(12) }, () => ({
      name: names[rnd(names.length)],
      offset: wild ? [0, 1, rnd(1 << 30), 2 ** 52][rnd(4)] : base.symbols[rnd(base.symbols.length)].offset,
      address: rnd(1 << 30),
      size: [0, 1, rnd(4096), 2 ** 40][rnd(4)],
    }));
    const info: BinaryInfo = { ...base, inode: 100000 + i, symbols, symbolCount: rnd(5) === 0 ? 0 : symbols.length, text: wild && rnd(2) ? [] : base.text };
    const r = p.plan(info);
    assert.ok(['planned', 'not-applicable', 'error'].includes(r.status));
    if (r.status === 'planned') {
      planned++;
      for (const a of r.attaches) {
        const sym = symbols.find((s) => s.name === a.symbol)!;
        assert.ok(a.offset === 0 || a.offset < sym.size);
        assert.ok(info.text.some((t) => a.fileOffset >= t.offset && a.fileOffset < t.offset + t.size));
      }
    }
  }
  assert.equal(p.faults.trap + p.faults.timeout + p.faults.oom, 0);
  assert.ok(planned > 0, 'some fuzzed inputs still plan');
});
