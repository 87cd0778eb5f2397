// Per-connection stream reassembly for one decoder and one probe. The host
// keeps, per (connection, direction), the bytes the decoder has not consumed
// yet plus the bytes that arrived since; each call sends them as one segment
// and the decoder's stream-progress says how many it consumed. Bounded per
// stream (overflow → bytes dropped, next segment flagged `gap`) and in the
// number of streams.

import type { StreamSegment } from './batch-encoder';
import type { StreamDropReason } from './self-metrics';

export interface StreamLimits {
  /** Unconsumed + new bytes kept per (connection, direction). */
  maxStreamBytes: number;
  /** Streams (connection × direction) tracked at once. */
  maxStreams: number;
}

export const DEFAULT_STREAM_LIMITS: Readonly<StreamLimits> = Object.freeze({
  maxStreamBytes: 256 * 1024,
  maxStreams: 4096,
});

interface Stream {
  connection: bigint;
  direction: 0 | 1;
  chunks: Buffer[];
  length: number;
  /** Arrival times: flattened [offset, tsNs, …] pairs, ascending offsets; bytes
   * from `offset` on arrived at `tsNs` (kernel CLOCK_MONOTONIC), until the next pair. */
  marks: number[];
  /** Bytes handed to the in-flight call (a prefix of chunks); 0 when none. */
  sent: number;
  /** New bytes (or eos/gap) since the last send. */
  dirty: boolean;
  /** When it last became dirty (a table-wide counter): orders a connection's two segments. */
  dirtySince: number;
  /** The next segment must carry gap. */
  gap: boolean;
  /** Bytes were lost while a call was in flight: drop its unconsumed rest. */
  gapAfterSent: boolean;
  eos: boolean;
  eosSent: boolean;
}

function newStream(connection: bigint, direction: 0 | 1, gap: boolean): Stream {
  return { connection, direction, chunks: [], marks: [], length: 0, sent: 0, dirty: false, dirtySince: 0, gap, gapAfterSent: false, eos: false, eosSent: false };
}

export type DropFn = (reason: StreamDropReason, bytes: number) => void;

export class StreamTable {
  readonly #limits: StreamLimits;
  readonly #onDrop: DropFn;
  readonly #streams = new Map<bigint, [Stream | undefined, Stream | undefined]>();
  #count = 0;
  #dirty = 0;
  #dirtySeq = 0;

  constructor(limits: StreamLimits, onDrop: DropFn) {
    this.#limits = limits;
    this.#onDrop = onDrop;
  }

  /** Streams tracked (connection × direction). */
  get size(): number {
    return this.#count;
  }
  get hasDirty(): boolean {
    return this.#dirty > 0;
  }

  /** Bytes held for (connection, direction); for tests and debugging. */
  pending(connection: bigint, direction: 0 | 1): number | undefined {
    return this.#streams.get(connection)?.[direction]?.length;
  }

  /**
   * New bytes from the probe. `gap`: the probe lost bytes before these.
   * `tsNs`: when the probe saw them (kernel monotonic ns), carried to the
   * decoder in the segment's `ts` marks.
   */
  append(connection: bigint, direction: 0 | 1, data: Buffer, gap: boolean, tsNs?: number): void {
    let pair = this.#streams.get(connection);
    let s = pair?.[direction];
    if (s === undefined) {
      if (this.#count >= this.#limits.maxStreams) {
        this.#onDrop('too_many_streams', data.length);
        return;
      }
      if (pair === undefined) {
        pair = [undefined, undefined];
        this.#streams.set(connection, pair);
      }
      s = newStream(connection, direction, false);
      pair[direction] = s;
      this.#count++;
    }
    if (s.eos) {
      this.#onDrop('state', data.length); // data after close: nothing can use it
      return;
    }
    if (gap) this.#breakStream(s, 'gap');
    if (s.length + data.length > this.#limits.maxStreamBytes) {
      this.#breakStream(s, 'overflow');
      if (s.length + data.length > this.#limits.maxStreamBytes) {
        this.#onDrop('overflow', data.length);
        this.#markDirty(s);
        return;
      }
    }
    if (data.length > 0) {
      if (tsNs !== undefined && Number.isSafeInteger(tsNs) && tsNs >= 0) addMark(s.marks, s.length, tsNs);
      // Copied: the probe's buffer may be a slice of a large ring-buffer batch.
      s.chunks.push(Buffer.from(data));
      s.length += data.length;
    }
    this.#markDirty(s);
  }

  /** The connection closed: its streams get `eos` on the next send, then are freed. */
  close(connection: bigint): void {
    const pair = this.#streams.get(connection);
    if (!pair) return;
    for (const s of pair) {
      if (s && !s.eos) {
        s.eos = true;
        this.#markDirty(s);
      }
    }
  }

  /**
   * Segments for the next call (dirty streams, oldest connection first, the
   * direction with the earlier new bytes first within one, until
   * `budgetBytes` is used; at least one). They are in flight until settle().
   */
  take(budgetBytes = Infinity): StreamSegment[] {
    const out: StreamSegment[] = [];
    if (this.#dirty === 0) return out;
    let used = 0;
    for (const pair of this.#streams.values()) {
      // The direction whose new bytes came first goes first: a server's request
      // before its response, a client's request before the reply (decoders read
      // segments in order, and a response ahead of its request cannot pair).
      const [a, b] = pair;
      const ordered = a?.dirty && b?.dirty && b.dirtySince < a.dirtySince ? [b, a] : pair;
      for (const s of ordered) {
        if (!s || !s.dirty) continue;
        if (out.length > 0 && used + s.length > budgetBytes) continue;
        used += s.length;
        out.push({ connection: s.connection, direction: s.direction, data: s.chunks.slice(), eos: s.eos, gap: s.gap, marks: s.marks.length > 0 ? s.marks.slice() : undefined });
        s.sent = s.length;
        s.dirty = false;
        s.gap = false;
        s.eosSent = s.eos;
        this.#dirty--;
      }
    }
    return out;
  }

  /**
   * Bytes that will never reach the decoder (it is restarting): the stream is
   * tracked so its next segment carries gap.
   */
  lose(connection: bigint, direction: 0 | 1, bytes: number, reason: StreamDropReason): void {
    this.#onDrop(reason, bytes);
    let pair = this.#streams.get(connection);
    if (pair?.[direction] === undefined) {
      if (this.#count >= this.#limits.maxStreams) return;
      if (pair === undefined) {
        pair = [undefined, undefined];
        this.#streams.set(connection, pair);
      }
      pair[direction] = newStream(connection, direction, true);
      this.#count++;
      return;
    }
    const s = pair[direction]!;
    if (s.length > 0) this.#breakStream(s, reason);
    s.gap = true;
  }

  /** Free a connection's streams without telling the decoder (it restarts without state). */
  forget(connection: bigint): void {
    const pair = this.#streams.get(connection);
    if (!pair) return;
    for (const s of pair) {
      if (!s) continue;
      this.#count--;
      if (s.dirty) this.#dirty--;
      if (s.length > 0) this.#onDrop('state', s.length);
    }
    this.#streams.delete(connection);
  }

  /**
   * After the call: `consumed` per stream from the decoder's stream-progress
   * (missing = 0, clamped to what was sent). `failed`: the output was not
   * usable (fault, bad_output, decode-error): what was sent is dropped and the
   * next segment carries gap.
   */
  settle(progress: ReadonlyMap<string, number> | null): void {
    for (const [conn, pair] of this.#streams) {
      for (const s of pair) {
        if (!s || (s.sent === 0 && !s.eosSent)) continue;
        if (s.eosSent) {
          // Closed and delivered: the decoder was told; free it.
          pair[s.direction] = undefined;
          this.#count--;
          if (s.dirty) this.#dirty--;
          continue;
        }
        if (progress === null) {
          const n = s.sent;
          this.#dropFront(s, n);
          this.#onDrop('reset', n);
          s.gap = true;
          this.#markDirty(s, s.length > 0);
        } else {
          const consumed = Math.min(progress.get(streamKey(s.connection, s.direction)) ?? 0, s.sent);
          const rest = s.sent - consumed;
          this.#dropFront(s, consumed);
          if (s.gapAfterSent) {
            this.#dropFront(s, rest);
            this.#onDrop('gap', rest);
            s.gapAfterSent = false;
          }
        }
        s.sent = 0;
        this.#compact(s);
      }
      if (pair[0] === undefined && pair[1] === undefined) this.#streams.delete(conn);
    }
  }

  /** The decoder instance was replaced: all held bytes are useless to the new one. */
  reset(): void {
    let dropped = 0;
    for (const [conn, pair] of this.#streams) {
      for (const s of pair) {
        if (!s) continue;
        dropped += s.length;
        if (s.dirty) this.#dirty--;
        if (s.eos) {
          pair[s.direction] = undefined;
          this.#count--;
          continue;
        }
        s.dirty = false;
        s.chunks = [];
        s.marks = [];
        s.length = 0;
        s.sent = 0;
        s.gapAfterSent = false;
        s.eosSent = false;
        s.gap = true;
      }
      if (pair[0] === undefined && pair[1] === undefined) this.#streams.delete(conn);
    }
    this.#onDrop('reset', dropped);
  }

  /** Forget everything (decoder quarantined or closed). */
  clear(): void {
    this.reset();
    this.#streams.clear();
    this.#count = 0;
    this.#dirty = 0;
  }

  /** Bytes before a loss cannot be continued: drop what is not in flight, flag gap. */
  #breakStream(s: Stream, reason: StreamDropReason): void {
    const unsent = s.length - s.sent;
    if (unsent > 0) {
      this.#truncate(s, s.sent);
      this.#onDrop(reason, unsent);
    }
    if (s.sent > 0) s.gapAfterSent = true;
    else if (s.length > 0) {
      this.#onDrop(reason, s.length);
      s.chunks = [];
      s.marks = [];
      s.length = 0;
    }
    s.gap = true;
  }

  #markDirty(s: Stream, dirty = true): void {
    if (dirty && !s.dirty) {
      s.dirty = true;
      s.dirtySince = ++this.#dirtySeq;
      this.#dirty++;
    }
  }

  #dropFront(s: Stream, n: number): void {
    let left = n;
    while (left > 0 && s.chunks.length > 0) {
      const c = s.chunks[0]!;
      if (c.length <= left) {
        s.chunks.shift();
        left -= c.length;
      } else {
        s.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    const dropped = n - left;
    s.length -= dropped;
    s.sent = Math.max(0, s.sent - n);
    shiftMarks(s.marks, dropped);
  }

  #truncate(s: Stream, keep: number): void {
    let total = 0;
    const kept: Buffer[] = [];
    for (const c of s.chunks) {
      if (total >= keep) break;
      const take = Math.min(c.length, keep - total);
      kept.push(take === c.length ? c : c.subarray(0, take));
      total += take;
    }
    s.chunks = kept;
    s.length = total;
    let m = 0;
    while (m < s.marks.length && s.marks[m]! < total) m += 2;
    s.marks.length = m;
  }

  /** Leftovers become one Buffer so many small chunks do not pile up. */
  #compact(s: Stream): void {
    if (s.chunks.length > 1) s.chunks = [Buffer.concat(s.chunks, s.length)];
  }
}

/** Time marks kept per stream; past this the two oldest merge (earlier time kept). */
export const MAX_STREAM_MARKS = 256;

function addMark(marks: number[], offset: number, tsNs: number): void {
  const n = marks.length;
  if (n > 0 && (marks[n - 1] === tsNs || marks[n - 2] === offset)) {
    if (marks[n - 2] === offset) marks[n - 1] = tsNs;
    return;
  }
  marks.push(offset, tsNs);
  if (marks.length > 2 * MAX_STREAM_MARKS) marks.splice(2, 2);
}

/** The first `n` bytes are gone: the mark covering byte n moves to offset 0. */
function shiftMarks(marks: number[], n: number): void {
  if (marks.length === 0 || n === 0) return;
  let i = 0;
  while (i + 2 < marks.length && marks[i + 2]! <= n) i += 2;
  if (i > 0) marks.splice(0, i);
  for (let j = 0; j < marks.length; j += 2) marks[j] = Math.max(0, marks[j]! - n);
}

export const streamKey = (connection: bigint, direction: 0 | 1): string => `${connection}:${direction}`;
