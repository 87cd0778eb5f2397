// Replays fixtures through a decoder and compares canonical results: the core of
// `lightfoot-sdk test` and of the V8/wasmtime conformance test.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { BatchResult, canonResult, lineDiff, stringifyCanonical } from './canonical';
import { BatchDesc, connKey, encodeBatch, Fixture } from './fixtures';
import { Decoder } from './types';

export interface ReplayOutcome {
  results: unknown[]; // canonical, one per batch
  problems: string[]; // host-contract violations seen while replaying
}

function resultOf(dec: Decoder, batch: Buffer): BatchResult {
  try {
    return { ok: dec.decode(batch) };
  } catch (e: any) {
    if (e?.code === 'LF_ERR_DECODE') {
      const kind = String(e.decodeError);
      // The guest's own text: the wasmtime engine prefixes "decode: <kind>: ".
      const message = String(e.decodeMessage ?? e.message).replace(new RegExp(`^(decode: )?${kind}: `), '');
      return { error: { kind, message } };
    }
    if (e?.code === 'LF_ERR_DECODER_FAULT') return { error: { kind: 'fault', message: String(e.faultKind) } };
    throw e;
  }
}

/** Runs every batch of a fixture; `load` makes a fresh instance (again after a fault). */
export async function replay(fx: Fixture, load: () => Promise<Decoder>): Promise<ReplayOutcome> {
  let dec = await load();
  const results: unknown[] = [];
  const problems: string[] = [];
  const pending = new Map<string, Buffer>();
  for (let i = 0; i < fx.batches.length; i++) {
    const b = fx.batches[i];
    let bytes: Buffer;
    let sent = new Map<string, Buffer>();
    if (Buffer.isBuffer(b)) bytes = b;
    else ({ bytes, sent } = encodeBatch(b as BatchDesc, fx.hostStreams ? pending : undefined));
    const r = resultOf(dec, bytes);
    results.push(canonResult(r));
    if ('error' in r && r.error.kind === 'fault') dec = await load();
    if (!fx.hostStreams || Buffer.isBuffer(b)) continue;
    // The host's side of `consumed`: keep the unconsumed tail for the next segment.
    const progress = 'ok' in r ? r.ok.streams : [];
    for (const [key, data] of sent) {
      const p = progress.find((s) => connKey(s.connection, s.direction === 'ingress' ? 1 : 0) === key);
      const consumed = p ? p.consumed : 0; // as runtime/decoders/stream-table.ts: no progress = nothing consumed
      if (consumed > data.length) problems.push(`batch ${i}: stream ${key} consumed ${consumed} of ${data.length} bytes`);
      if (consumed < data.length) pending.set(key, data.subarray(Math.min(consumed, data.length)));
    }
    const desc = b as BatchDesc;
    for (const s of desc.streams ?? []) if (s.eos) pending.delete(connKey(s.c, s.d === 'ingress' || s.d === 1 ? 1 : 0));
    for (const c of desc.closed ?? []) { pending.delete(connKey(c, 0)); pending.delete(connKey(c, 1)); }
  }
  return { results, problems };
}

/** Canonical text of an expected file, with omitted output lists read as empty. */
export function readExpected(file: string): unknown[] | undefined {
  if (!existsSync(file)) return undefined;
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(raw)) throw new Error(`${file}: expected a JSON array (one result per batch)`);
  return raw.map((r: any) => {
    if (r && typeof r === 'object' && r.ok) {
      for (const k of ['metrics', 'logs', 'annotations', 'streams']) r.ok[k] ??= [];
    }
    return canonResult(r);
  });
}

export interface Comparison { pass: boolean; diff: string }

export function compare(expected: unknown[] | undefined, actual: unknown[]): Comparison {
  const a = stringifyCanonical(actual);
  if (expected === undefined) return { pass: false, diff: '(no expected file; run with --update to write it)' };
  const e = stringifyCanonical(expected);
  return e === a ? { pass: true, diff: '' } : { pass: false, diff: lineDiff(e, a) };
}

export function writeExpected(file: string, actual: unknown[]): void {
  writeFileSync(file, stringifyCanonical(actual) + '\n');
}
