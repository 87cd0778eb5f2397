/**
 * At shutdown, connections that are still open have counters in the kernel's
 * socket map that no event has reported yet (flushes ride on the next
 * send/recv). These become FLUSH records, so a daemon stop loses no bytes.
 * Kernel-side fields the map does not hold (RTT, cwnd, retransmits) stay zero,
 * which the decoder treats as "no new sample".
 */
import type { BpfObject } from '../../runtime/native/binding';
import {
  LF_TCP_EVENT_KIND,
  SIZEOF_LF_TCP_EVENT,
  readLfTcpSock,
  writeLfTcpEvent,
} from './generated/events';

export const TCP_SOCKETS_MAP = 'lf_tcp_socks';

export function finalFlushRecords(obj: BpfObject, nowNs: bigint): Buffer[] {
  const out: Buffer[] = [];
  for (const key of obj.mapKeys(TCP_SOCKETS_MAP)) {
    const value = obj.mapLookup(TCP_SOCKETS_MAP, key);
    if (!value) continue; // closed meanwhile
    const s = readLfTcpSock(value, 0);
    const rec = Buffer.alloc(SIZEOF_LF_TCP_EVENT);
    writeLfTcpEvent(rec, 0, {
      kind: LF_TCP_EVENT_KIND.LF_TCP_EV_FLUSH,
      family: s.family,
      old_state: 0,
      new_state: 0,
      role: s.role,
      flags: s.flags,
      tgid: s.tgid,
      sport: s.sport,
      dport: s.dport,
      ts_ns: nowNs,
      cookie: key.readBigUInt64LE(0),
      cgroup_id: s.cgroup_id,
      saddr: s.saddr,
      daddr: s.daddr,
      comm: s.comm,
      bytes_sent: s.bytes_sent,
      bytes_received: s.bytes_received,
      bytes_acked: 0n,
      bytes_retrans: 0n,
      total_retrans: 0,
      srtt_us: 0,
      snd_cwnd: 0,
      resets_sent: s.resets_sent,
      resets_received: s.resets_received,
      open_ts_ns: s.open_ts_ns,
    });
    out.push(rec);
  }
  return out;
}
