// Fixtures: `fixtures/NAME.batch.msgpack` (recorded batches, back to back, replayed
// verbatim) or `fixtures/NAME.batch.json` (a readable description turned into
// msgpack, replayed through a model of the host's stream buffering), each with
// `fixtures/NAME.expected.json`: one canonical result per batch. Format: sdk/docs/fixtures.md.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { encode, MsgValue, splitValues } from './msgpack';

export interface Fixture {
  name: string;
  file: string;
  expectedFile: string;
  /** Batches to send, each already msgpack, or a description to encode at replay. */
  batches: Buffer[] | BatchDesc[];
  /** Replay JSON batches through the host's stream buffering (prefix unconsumed bytes). */
  hostStreams: boolean;
}

export interface SegmentDesc {
  c: number | string; d: 0 | 1 | 'egress' | 'ingress';
  data?: string; hex?: string; eos?: boolean; gap?: boolean;
}
export interface BatchDesc {
  v?: number; probe?: string; schema?: number; logs?: boolean;
  records?: string[]; streams?: SegmentDesc[]; closed?: (number | string)[];
  [extra: string]: unknown;
}

export function listFixtures(dir: string): Fixture[] {
  const fdir = path.join(dir, 'fixtures');
  if (!existsSync(fdir)) return [];
  const out: Fixture[] = [];
  for (const f of readdirSync(fdir).sort()) {
    const m = /^(.*)\.batch\.(msgpack|json)$/.exec(f);
    if (!m) continue;
    const file = path.join(fdir, f);
    const base = { name: m[1], file, expectedFile: path.join(fdir, `${m[1]}.expected.json`) };
    if (m[2] === 'msgpack') {
      let batches: Buffer[];
      try { batches = splitValues(readFileSync(file)); } catch (e) { throw new Error(`${file}: ${(e as Error).message}`); }
      out.push({ ...base, batches, hostStreams: false });
    } else {
      let j: { batches?: BatchDesc[]; hostStreams?: boolean };
      try { j = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { throw new Error(`${file}: ${(e as Error).message}`); }
      if (!j || !Array.isArray(j.batches)) throw new Error(`${file}: expected {"batches": [...]}`);
      out.push({ ...base, batches: j.batches, hostStreams: j.hostStreams !== false });
    }
  }
  return out;
}

export const connKey = (c: bigint | number | string, d: number): string => `${BigInt(c)}/${d}`;
const dirNum = (d: SegmentDesc['d']): number => (d === 'ingress' || d === 1 ? 1 : 0);

function segBytes(s: SegmentDesc): Buffer {
  if (s.hex !== undefined) return Buffer.from(s.hex.replace(/\s+/g, ''), 'hex');
  return Buffer.from(s.data ?? '', 'utf8');
}

/** Encodes one described batch; `pending` (stream key → kept bytes) is put in front
 *  of each segment's data like the host does; a `gap` drops what was kept. */
export function encodeBatch(b: BatchDesc, pending?: Map<string, Buffer>): { bytes: Buffer; sent: Map<string, Buffer> } {
  const sent = new Map<string, Buffer>();
  const msg: Record<string, MsgValue> = {};
  for (const [k, v] of Object.entries(b)) {
    if (!['v', 'probe', 'schema', 'logs', 'records', 'streams', 'closed'].includes(k)) msg[k] = v as MsgValue;
  }
  msg.v = b.v ?? 1;
  msg.probe = b.probe ?? 'tcp';
  msg.schema = b.schema ?? 1;
  if (b.logs !== undefined) msg.logs = b.logs;
  msg.records = (b.records ?? []).map((h) => Buffer.from(h.replace(/\s+/g, ''), 'hex'));
  if (b.streams) {
    msg.streams = b.streams.map((s) => {
      const key = connKey(s.c, dirNum(s.d));
      let data = segBytes(s);
      if (pending) {
        const kept = s.gap ? undefined : pending.get(key);
        if (kept) data = Buffer.concat([kept, data]);
        pending.delete(key);
      }
      sent.set(key, Buffer.concat([sent.get(key) ?? Buffer.alloc(0), data]));
      const seg: Record<string, MsgValue> = { c: BigInt(s.c), d: dirNum(s.d), data, eos: s.eos ?? false };
      if (s.gap) seg.gap = true;
      return seg;
    });
  }
  if (b.closed) msg.closed = b.closed.map((c) => BigInt(c));
  return { bytes: encode(msg), sent };
}
