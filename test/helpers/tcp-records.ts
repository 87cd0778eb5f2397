/** Builds TCP probe records byte for byte, at the generated offsets of bpf/tcp.h. */
import { LF_TCP_EVENT_OFFSETS as OFF, SIZEOF_LF_TCP_EVENT, type LfTcpEvent } from '../../probes/tcp/generated/events';

export function encodeTcpEvent(ev: Partial<LfTcpEvent>): Buffer {
  const b = Buffer.alloc(SIZEOF_LF_TCP_EVENT);
  const u8 = { kind: 0, family: 2, old_state: 0, new_state: 0, role: 0, flags: 0 } as Record<string, number>;
  for (const k of Object.keys(u8)) b.writeUInt8((ev as Record<string, number>)[k] ?? u8[k], (OFF as Record<string, number>)[k]);
  b.writeUInt32LE(ev.tgid ?? 0, OFF.tgid);
  b.writeUInt16LE(ev.sport ?? 0, OFF.sport);
  b.writeUInt16LE(ev.dport ?? 0, OFF.dport);
  for (const k of ['ts_ns', 'cookie', 'cgroup_id', 'bytes_sent', 'bytes_received', 'bytes_acked', 'bytes_retrans', 'open_ts_ns'] as const) {
    b.writeBigUInt64LE(ev[k] ?? 0n, OFF[k]);
  }
  for (const k of ['total_retrans', 'srtt_us', 'snd_cwnd', 'resets_sent', 'resets_received'] as const) {
    b.writeUInt32LE(ev[k] ?? 0, OFF[k]);
  }
  if (ev.saddr) Buffer.from(ev.saddr).copy(b, OFF.saddr);
  if (ev.daddr) Buffer.from(ev.daddr).copy(b, OFF.daddr);
  b.write(ev.comm ?? 'test', OFF.comm, 15, 'latin1');
  return b;
}

export { packBatch } from '../../runtime/probes/batch';
