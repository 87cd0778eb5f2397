/**
 * Carries the TCP probe's ring buffers to the decoders: event records as they
 * are, payload records as per-connection stream segments. The host reads only
 * each record's kind, cookie and (for payload) direction and length; decoding
 * is the decoders' job.
 */
import type { BpfObject, RingBufferReader } from '../native/binding';
import type { DecoderManager } from '../decoders/decoder-manager';
import { walkBatch } from '../probes/batch';
import {
  LF_TCP_DATA_OFFSETS,
  LF_TCP_EVENT_KIND,
  LF_TCP_EVENT_OFFSETS,
} from '../../probes/tcp/generated/events';
import { TCP_DATA_RING_BUFFER, TCP_RING_BUFFER } from '../../probes/tcp/manifest';
import type { OwnerTable } from '../enrich/owner-table';

const RING_POLL_MS = 20;
const RING_BATCH_BYTES = 256 * 1024;
const RING_PENDING_BATCHES = 4;
/** Payload and events travel in separate rings: a close waits this long so the
 * connection's last payload is dispatched before its state is freed. */
const CLOSE_DELAY_MS = 200;

export interface TcpPipelineStats {
  batches: number;
  records: number;
  segments: number;
}

export class TcpPipeline {
  readonly stats: TcpPipelineStats = { batches: 0, records: 0, segments: 0 };
  private readonly readers: RingBufferReader[] = [];
  /** Streams whose previous segment was cut short: the next one starts after a gap. */
  private readonly gapPending = new Set<string>();
  private readonly closeTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly obj: BpfObject,
    private readonly manager: DecoderManager,
    private readonly onEvents: (records: number) => void,
    streams: boolean,
    /** Kubernetes mode: learns each record's owner (socket → pid → cgroup) before the decoders see it. */
    private readonly owners?: OwnerTable,
  ) {
    const opts = { pollIntervalMs: RING_POLL_MS, maxBatchBytes: RING_BATCH_BYTES, maxPendingBatches: RING_PENDING_BATCHES };
    this.readers.push(obj.openRingBuffer(TCP_RING_BUFFER, opts, (b) => this.onEventBatch(b, streams)));
    if (streams) this.readers.push(obj.openRingBuffer(TCP_DATA_RING_BUFFER, opts, (b) => this.onDataBatch(b)));
  }

  private onEventBatch(batch: Buffer, streams: boolean): void {
    const records: Buffer[] = [];
    const owners = this.owners;
    walkBatch(batch, (buf, off, len) => {
      const rec = buf.subarray(off, off + len);
      records.push(rec);
      if (owners !== undefined && len >= LF_TCP_EVENT_OFFSETS.cgroup_id + 8) {
        const cookie = rec.readBigUInt64LE(LF_TCP_EVENT_OFFSETS.cookie);
        owners.see(cookie, rec.readUInt32LE(LF_TCP_EVENT_OFFSETS.tgid), rec.readBigUInt64LE(LF_TCP_EVENT_OFFSETS.cgroup_id));
        if (rec[0] === LF_TCP_EVENT_KIND.LF_TCP_EV_CLOSE) owners.closed(cookie);
      }
      if (streams && rec[0] === LF_TCP_EVENT_KIND.LF_TCP_EV_CLOSE && len >= LF_TCP_EVENT_OFFSETS.cookie + 8) {
        this.closeLater(rec.readBigUInt64LE(LF_TCP_EVENT_OFFSETS.cookie));
      }
    });
    this.stats.batches++;
    this.stats.records += records.length;
    this.onEvents(records.length);
    this.manager.dispatch('tcp', records);
  }

  private onDataBatch(batch: Buffer): void {
    const header = LF_TCP_DATA_OFFSETS.data;
    walkBatch(batch, (buf, off, len) => {
      if (len < header || buf[off] !== LF_TCP_EVENT_KIND.LF_TCP_EV_DATA) return;
      const connection = buf.readBigUInt64LE(off + LF_TCP_DATA_OFFSETS.cookie);
      const direction = buf[off + LF_TCP_DATA_OFFSETS.direction] ? 1 : 0;
      const moved = buf.readUInt32LE(off + LF_TCP_DATA_OFFSETS.len);
      const captured = Math.min(buf.readUInt32LE(off + LF_TCP_DATA_OFFSETS.captured), len - header);
      const key = `${connection}/${direction}`;
      const gap = this.gapPending.delete(key);
      if (captured < moved) this.gapPending.add(key);
      this.stats.segments++;
      this.manager.dispatchStream('tcp', { connection, direction, data: buf.subarray(off + header, off + header + captured), gap });
    });
  }

  private closeLater(connection: bigint): void {
    const t = setTimeout(() => {
      this.closeTimers.delete(t);
      this.gapPending.delete(`${connection}/0`);
      this.gapPending.delete(`${connection}/1`);
      this.manager.connectionClosed('tcp', connection);
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
