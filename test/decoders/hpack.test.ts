/**
 * The http2 decoder's HPACK code (probes/http2/wasm/hpack.c), compiled natively
 * with ASan/UBSan (test/decoders/c/hpack_driver.c), against hpack.js as the
 * oracle: generated header lists (Huffman or not, indexed, never-indexed,
 * evictions) and header blocks recorded from real Node http2 and grpc-js
 * traffic decode to the same fields. Started mid-stream, every field it reports
 * equals the oracle's or is unknown. Random and mutated blocks and HPACK bombs
 * never crash it, and every table entry is freed.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../../runtime/package-root';
import { headerBlocks, recordPeers, type Chunk } from './http2-harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const hpack = require('hpack.js') as {
  compressor: { create(o: { table: { maxSize: number } }): Duplex };
  decompressor: { create(o: { table: { maxSize: number } }): Duplex & { execute(): void; updateTableSize(n: number): void } };
};
interface Duplex { write(x: unknown): void; read(): any }

interface Field { known: boolean; name: string; value: string }
type Result = { ok: true; fields: Field[]; entries: number; size: number } | { ok: false; status: number };

let driver = '';
before(() => {
  const root = packageRoot();
  driver = path.join(mkdtempSync(path.join(os.tmpdir(), 'lf-hpack-')), 'hpack_driver');
  execFileSync('cc', ['-std=c11', '-O1', '-g', '-Wall', '-Wextra', '-Werror', '-fsanitize=address,undefined', '-fno-sanitize-recover=all',
    '-I', path.join(root, 'probes/http2/wasm'), path.join(root, 'test/decoders/c/hpack_driver.c'), path.join(root, 'probes/http2/wasm/hpack.c'), '-o', driver]);
});

type Op = { op: 'I'; known: boolean } | { op: 'L'; limit: number } | { op: 'F' } | { op: 'B'; block: Buffer };

function runDriver(ops: Op[]): Result[] {
  const parts: Buffer[] = [];
  for (const o of ops) {
    const payload = o.op === 'I' ? Buffer.from([o.known ? 1 : 0]) : o.op === 'L' ? Buffer.alloc(4) : o.op === 'F' ? Buffer.alloc(0) : o.block;
    if (o.op === 'L') payload.writeUInt32LE(o.limit);
    const h = Buffer.alloc(5);
    h[0] = o.op.charCodeAt(0);
    h.writeUInt32LE(payload.length, 1);
    parts.push(h, payload);
  }
  const r = spawnSync(driver, { input: Buffer.concat(parts), maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `driver failed (status ${r.status}, signal ${r.signal}):\n${r.stderr.toString().slice(0, 4000)}`);
  const out = r.stdout;
  const res: Result[] = [];
  let o = 0;
  for (const op of ops) {
    if (op.op !== 'B') continue;
    const st = out[o++]!;
    if (st !== 0) { res.push({ ok: false, status: st }); continue; }
    const n = out.readUInt32LE(o); o += 4;
    const fields: Field[] = [];
    for (let i = 0; i < n; i++) {
      const known = out[o++] === 1;
      const nl = out.readUInt32LE(o); o += 4;
      const name = out.subarray(o, o + nl).toString('latin1'); o += nl;
      const vl = out.readUInt32LE(o); o += 4;
      const value = out.subarray(o, o + vl).toString('latin1'); o += vl;
      fields.push({ known, name, value });
    }
    const entries = out.readUInt32LE(o), size = out.readUInt32LE(o + 4); o += 8;
    res.push({ ok: true, fields, entries, size });
  }
  assert.equal(o, out.length);
  return res;
}

function oracleDecode(blocks: Buffer[], size = 4096): Field[][] {
  const d = hpack.decompressor.create({ table: { maxSize: size } });
  return blocks.map((b) => {
    d.write(b);
    d.execute();
    const out: Field[] = [];
    let f;
    while ((f = d.read()) !== null) out.push({ known: true, name: Buffer.from(f.name, 'latin1').toString('latin1'), value: f.value });
    return out;
  });
}

/** A small deterministic PRNG (tests must be reproducible). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
}

test('generated header lists: hpack.js encodes, the decoder gives the same fields as hpack.js decodes', () => {
  const r = prng(1);
  const names = [':method', ':path', ':status', ':authority', 'content-type', 'grpc-status', 'user-agent', 'x-trace', 'cookie', 'te'];
  for (const tableSize of [4096, 256, 0]) {
    const c = hpack.compressor.create({ table: { maxSize: tableSize } });
    const blocks: Buffer[] = [];
    for (let b = 0; b < 300; b++) {
      const list = [];
      for (let i = 0, n = 1 + Math.floor(r() * 12); i < n; i++) {
        const name = r() < 0.7 ? names[Math.floor(r() * names.length)]! : `x-${Math.floor(r() * 50)}`;
        const len = Math.floor(r() ** 3 * 300);
        let value = '';
        for (let k = 0; k < len; k++) value += String.fromCharCode(r() < 0.9 ? 32 + Math.floor(r() * 95) : Math.floor(r() * 256));
        if (r() < 0.3) value = `v${Math.floor(r() * 10)}`; // repeats: indexed references
        list.push({ name, value, huffman: r() < 0.6, neverIndex: r() < 0.1 });
      }
      c.write(list);
      const parts: Buffer[] = [];
      let ch;
      while ((ch = c.read()) !== null) parts.push(ch);
      blocks.push(Buffer.concat(parts));
    }
    const want = oracleDecode(blocks, tableSize);
    const ops: Op[] = [{ op: 'I', known: true }];
    if (tableSize !== 4096) {
      ops.push({ op: 'L', limit: tableSize });
      // the encoder's table is smaller from the start: tell our table with a size update
      blocks[0] = Buffer.concat([Buffer.from([0x20 | Math.min(tableSize, 31), ...(tableSize >= 31 ? encodeInt(tableSize - 31) : [])]), blocks[0]!]);
    }
    const got = runDriver([...ops, ...blocks.map((block): Op => ({ op: 'B', block }))]);
    got.forEach((g, i) => {
      assert.ok(g.ok, `block ${i} (table ${tableSize}) decoded: ${JSON.stringify(g)} ${blocks[i]!.toString('hex').slice(0, 80)}`);
      assert.deepEqual(g.fields, want[i], `block ${i} (table ${tableSize})`);
      assert.ok(g.size <= tableSize, 'table size within its maximum');
    });
  }
});

function encodeInt(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) { out.push((v & 127) | 128); v >>>= 7; }
  out.push(v);
  return out;
}

let recorded: { node: Chunk[]; grpc: Chunk[] };

test('recorded header blocks (Node http2, grpc-js; both directions) decode exactly as hpack.js decodes them', async () => {
  const node = await recordPeers(['node-server', '--port', '0'], (p) => ['node-client', '--port', String(p), '--requests', '30']);
  const grpc = await recordPeers(['grpc-server', '--port', '0'], (p) => ['grpc-client', '--port', String(p), '--plan', 'ok:10,notfound:5,internal:5', '--stream', '2']);
  recorded = { node: node.chunks, grpc: grpc.chunks };
  let n = 0;
  for (const chunks of [node.chunks, grpc.chunks]) {
    for (const dir of [0, 1] as const) {
      const blocks = headerBlocks(chunks, dir);
      assert.ok(blocks.length >= 20, `${blocks.length} blocks`);
      const want = oracleDecode(blocks);
      const got = runDriver([{ op: 'I', known: true }, ...blocks.map((block): Op => ({ op: 'B', block }))]);
      got.forEach((g, i) => {
        assert.ok(g.ok);
        assert.deepEqual(g.fields, want[i], `block ${i} dir ${dir}`);
      });
      n += blocks.length;
    }
  }
  assert.ok(n > 100);
});

test('started mid-stream (unknown table): every field reported equals the oracle or is unknown; known again after dynamic entries arrive', () => {
  for (const chunks of [recorded.node, recorded.grpc]) {
    for (const dir of [0, 1] as const) {
      const blocks = headerBlocks(chunks, dir);
      const want = oracleDecode(blocks);
      for (const start of [1, 3, 7]) {
        const got = runDriver([{ op: 'I', known: false }, ...blocks.slice(start).map((block): Op => ({ op: 'B', block }))]);
        let known = 0, unknown = 0;
        got.forEach((g, i) => {
          assert.ok(g.ok, `mid-stream block ${start + i} decodes`);
          const w = want[start + i]!;
          assert.equal(g.fields.length, w.length);
          g.fields.forEach((f, k) => {
            if (f.known) {
              known++;
              assert.deepEqual(f, w[k], `block ${start + i} field ${k}`);
            } else {
              unknown++;
              assert.equal(f.name, '', 'an unknown field has no name');
            }
          });
        });
        assert.ok(known > 0 && unknown > 0, `some fields known (${known}), some unknown (${unknown})`);
      }
    }
  }
});

test('size updates: evictions as RFC 7541 §4.4; an update over the SETTINGS limit, index 0 and a bad index are errors', () => {
  const lit = (name: string, value: string): number[] => [0x40, name.length, ...Buffer.from(name), value.length, ...Buffer.from(value)];
  const res = runDriver([
    { op: 'I', known: true },
    { op: 'B', block: Buffer.from([...lit('a', 'x'.repeat(10)), ...lit('b', 'y'.repeat(10))]) }, // 2 entries: 43 + 43
    { op: 'B', block: Buffer.from([0x3f, 0x1a, 0xbe]) }, // size update to 31+26=57: evicts 'a'; then index 62 = 'b'
    { op: 'B', block: Buffer.from([0xbf]) }, // index 63: gone
    { op: 'L', limit: 100 },
    { op: 'B', block: Buffer.from([0x3f, 0x66]) }, // update to 133 > 100
    { op: 'B', block: Buffer.from([0x80]) }, // index 0
    { op: 'B', block: Buffer.from([0x82, 0x3f, 0x01]) }, // update after a field
  ]);
  assert.deepEqual(res[0], { ok: true, fields: [{ known: true, name: 'a', value: 'x'.repeat(10) }, { known: true, name: 'b', value: 'y'.repeat(10) }], entries: 2, size: 86 });
  assert.deepEqual(res[1], { ok: true, fields: [{ known: true, name: 'b', value: 'y'.repeat(10) }], entries: 1, size: 43 });
  assert.deepEqual(res.slice(2).map((r) => r.ok), [false, false, false, false]);
});

test('fuzz: random and mutated blocks, huge literals, HPACK bombs: no crash (ASan), bounded table, everything freed', () => {
  const r = prng(99);
  const ops: Op[] = [{ op: 'I', known: true }];
  const seeds = [...headerBlocks(recorded.node, 0), ...headerBlocks(recorded.grpc, 1)];
  for (let i = 0; i < 3000; i++) {
    let b: Buffer;
    if (i % 3 === 0) {
      b = Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)));
    } else {
      b = Buffer.from(seeds[Math.floor(r() * seeds.length)]!);
      for (let k = 0, n = 1 + Math.floor(r() * 4); k < n && b.length; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      if (r() < 0.2) b = b.subarray(0, Math.floor(r() * b.length));
    }
    ops.push({ op: 'B', block: b });
    if (i % 97 === 0) ops.push({ op: 'I', known: r() < 0.5 });
  }
  // A bomb: one 4000-byte entry referenced 20000 times (80 MB of header list from 20 kB).
  const big = Buffer.alloc(4000, 0x61);
  ops.push({ op: 'I', known: true }, { op: 'B', block: Buffer.concat([Buffer.from([0x40, 1, 0x7a, 0x7f, ...encodeInt(4000 - 127)]), big]) });
  ops.push({ op: 'B', block: Buffer.alloc(20000, 0xbe) });
  // A literal longer than its block, and a length near 2^32.
  ops.push({ op: 'B', block: Buffer.from([0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f]) });
  ops.push({ op: 'B', block: Buffer.from([0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]) });
  const res = runDriver(ops);
  const bomb = res[res.length - 3]!;
  assert.ok(bomb.ok && bomb.fields.length === 20000 && bomb.entries === 1, 'the bomb decodes without copying');
  assert.deepEqual(res.slice(-2).map((x) => x.ok), [false, false]);
  assert.ok(res.filter((x) => x.ok).length > 100, 'some mutated blocks still decode');
  for (const x of res) if (x.ok) assert.ok(x.size <= 4096, 'never above the table maximum');
});
