/**
 * Carries one probe module's ring buffers to the decoders, whatever the
 * protocol: record rings as they are, payload rings as per-connection stream
 * segments. The host reads only the offsets the module declared (kind, cookie,
 * direction, lengths); decoding is the decoders' job.
 */
import type { BpfObject, RingBufferReader } from '../native/binding';
import type { DecoderManager } from '../decoders/decoder-manager';
import { walkBatch } from '../probes/batch';
import type { RecordRing, RingRoute, StreamLayout } from './module';

const RING_POLL_MS = 20;
const RING_BATCH_BYTES = 256 * 1024;
const RING_PENDING_BATCHES = 4;
/** Payload and events travel in separate rings: a close waits this long so the
 * connection's last payload is dispatched before its state is freed. */
const CLOSE_DELAY_MS = 200;

export interface RingPipelineStats {
  batches: number;
  records: number;
  segments: number;
  /** Segments dispatched with `gap` (bytes lost before them). */
  gaps: number;
}

/** Reassembly state of one (connection, direction) on the host side. */
interface StreamState {
  /** Set when the next segment must carry `gap`. */
  gap: boolean;
  /** Where the next record of the current call starts; 0 when the call is complete. */
  expect: number;
  /** Expected `seq` of the next call, when the layout has one. */
  nextSeq?: number;
}

/**
 * Decides `gap` for each payload record. Exported for tests: a record of a
 * new call after an incomplete one, an offset that skips bytes, or a call
 * sequence that jumps, all mean lost bytes.
 */
export class StreamGaps {
  private readonly streams = new Map<string, StreamState>();

  constructor(private readonly layout: StreamLayout) {}

  /** `gap` for this record; updates the stream's state. */
  next(key: string, offset: number, captured: number, len: number, seq: number | undefined): boolean {
    let st = this.streams.get(key);
    if (!st) {
      st = { gap: false, expect: 0 };
      this.streams.set(key, st);
    }
    let gap = st.gap;
    st.gap = false;
    if (offset === 0) {
      if (st.expect !== 0) gap = true; // the previous call was cut short
      if (seq !== undefined) {
        if (st.nextSeq !== undefined && seq !== st.nextSeq) gap = true; // whole calls lost
        st.nextSeq = (seq + 1) >>> 0;
      }
    } else if (offset !== st.expect) {
      gap = true;
    }
    const end = offset + captured;
    st.expect = end >= len ? 0 : end;
    if (this.layout.offset === undefined && captured < len) {
      // No continuation records in this layout: the rest of the call is gone.
      st.expect = 0;
      st.gap = true;
    }
    return gap;
  }

  forget(connection: bigint): void {
    this.streams.delete(`${connection}/0`);
    this.streams.delete(`${connection}/1`);
  }
}

/** Learns who owns each connection from the records (Kubernetes mode: runtime/enrich/owner-table.ts). */
export interface OwnerSink {
  see(cookie: bigint, tgid: number, cgroupId: bigint): void;
  closed(cookie: bigint): void;
}

export class RingPipeline {
  readonly stats: RingPipelineStats = { batches: 0, records: 0, segments: 0, gaps: 0 };
  private readonly readers: RingBufferReader[] = [];
  private readonly closeTimers = new Set<NodeJS.Timeout>();
  private readonly gaps: StreamGaps[] = [];

  constructor(
    obj: BpfObject,
    private readonly probe: string,
    routes: readonly RingRoute[],
    private readonly manager: DecoderManager,
    /** Whether this probe's payload is captured (a decoder wants it and --capture allows it). */
    streamsWanted: boolean,
    private readonly onRecords: (records: number) => void,
    /** Fed from every record of a ring that declares `owner`, before the decoders see it. */
    private readonly owners?: OwnerSink,
  ) {
    const opts = { pollIntervalMs: RING_POLL_MS, maxBatchBytes: RING_BATCH_BYTES, maxPendingBatches: RING_PENDING_BATCHES };
    for (const r of routes) {
      if (r.type === 'records') {
        this.readers.push(obj.openRingBuffer(r.map, opts, (b) => this.onRecordBatch(b, r, streamsWanted)));
      } else if (streamsWanted) {
        const gaps = new StreamGaps(r.layout);
        this.gaps.push(gaps);
        this.readers.push(obj.openRingBuffer(r.map, opts, (b) => this.onStreamBatch(b, r.layout, gaps)));
      }
    }
  }

  private onRecordBatch(batch: Buffer, route: RecordRing, streams: boolean): void {
    const records: Buffer[] = [];
    const close = route.close;
    const owner = this.owners && route.owner;
    const owners = this.owners;
    walkBatch(batch, (buf, off, len) => {
      const rec = buf.subarray(off, off + len);
      records.push(rec);
      if (owner && owners && len >= owner.minLength) {
        const cookie = rec.readBigUInt64LE(owner.cookieOffset);
        owners.see(cookie, rec.readUInt32LE(owner.tgidOffset), rec.readBigUInt64LE(owner.cgroupOffset));
        if (close && rec[0] === close.kind) owners.closed(cookie);
      }
      if (streams && close && rec[0] === close.kind && len >= close.cookieOffset + 8) {
        this.closeLater(rec.readBigUInt64LE(close.cookieOffset));
      }
    });
    this.stats.batches++;
    this.stats.records += records.length;
    this.onRecords(records.length);
    this.manager.dispatch(this.probe, records);
  }

  private onStreamBatch(batch: Buffer, l: StreamLayout, gaps: StreamGaps): void {
    walkBatch(batch, (buf, off, len) => {
      if (len < l.header || buf[off] !== l.kind) return;
      const connection = buf.readBigUInt64LE(off + l.cookie);
      const direction = buf[off + l.direction] ? 1 : 0;
      const moved = buf.readUInt32LE(off + l.len);
      const captured = Math.min(buf.readUInt32LE(off + l.captured), len - l.header);
      const offset = l.offset === undefined ? 0 : buf.readUInt32LE(off + l.offset);
      const seq = l.seq === undefined ? undefined : buf.readUInt32LE(off + l.seq);
      const gap = gaps.next(`${connection}/${direction}`, offset, captured, moved, seq);
      this.stats.segments++;
      if (gap) this.stats.gaps++;
      const data = buf.subarray(off + l.header, off + l.header + captured);
      const tsNs = l.ts === undefined ? undefined : Number(buf.readBigUInt64LE(off + l.ts));
      this.manager.dispatchStream(this.probe, { connection, direction, data, gap, ...(tsNs !== undefined ? { tsNs } : {}) });
    });
  }

  private closeLater(connection: bigint): void {
    const t = setTimeout(() => {
      this.closeTimers.delete(t);
      for (const g of this.gaps) g.forget(connection);
      this.manager.connectionClosed(this.probe, connection);
    }, CLOSE_DELAY_MS);
    t.unref();
    this.closeTimers.add(t);
  }

  /** Stops the readers; batches already handed to JS are still delivered. */
  stop(): void {
    for (const r of this.readers.splice(0)) r.stop();
    for (const t of this.closeTimers) clearTimeout(t);
    this.closeTimers.clear();
  }
}
