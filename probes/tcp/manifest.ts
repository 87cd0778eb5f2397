/**
 * The TCP probe: which programs of bpf/tcp.bpf.c attach where, and how a run's
 * options become rodata constants.
 */
import { ProbeSpec, rodata } from '../../runtime/probes/probe-spec';

export interface TcpProbeConfig {
  selectAll: boolean;
  filterComm: boolean;
  filterCgroup: boolean;
  selfTgid: number;
  flushIntervalMs: number;
  ringBufferBytes: number;
  /** Force a consumer wake-up once this many bytes wait in the ring. */
  wakeupBytes?: number;
  emitStateChanges?: boolean;
}

export const TCP_RING_BUFFER = 'lf_tcp_events';
export const TCP_STATS_MAP = 'lf_tcp_stats';

export function tcpProbe(cfg: TcpProbeConfig): ProbeSpec {
  return {
    name: 'tcp',
    object: 'dist/bpf/tcp.bpf.o',
    ringBuffer: TCP_RING_BUFFER,
    programs: [
      { name: 'lf_tcp_set_state', attach: { kind: 'auto' }, required: true },
      { name: 'lf_tcp_destroy_sock', attach: { kind: 'auto' }, required: true },
      {
        name: 'lf_tcp_send_length',
        attach: { kind: 'auto' },
        required: false,
        degrades: 'bytes sent are not counted; accepted connections are claimed only at close',
      },
      {
        name: 'lf_tcp_recv_length',
        attach: { kind: 'auto' },
        required: false,
        degrades: 'bytes received are not counted; accepted connections are claimed only at close',
      },
      { name: 'lf_tcp_send_reset', attach: { kind: 'auto' }, required: false, degrades: 'resets sent are not counted' },
      {
        name: 'lf_tcp_receive_reset',
        attach: { kind: 'auto' },
        required: false,
        degrades: 'resets received are not counted',
      },
      {
        name: 'lf_tcp_process_free',
        attach: { kind: 'auto' },
        required: false,
        degrades: 'exited --pid targets are forgotten at the next rescan instead of at once',
      },
    ],
    constants: {
      lf_cfg_select_all: rodata.u8(cfg.selectAll),
      lf_cfg_filter_comm: rodata.u8(cfg.filterComm),
      lf_cfg_filter_cgroup: rodata.u8(cfg.filterCgroup),
      lf_cfg_self_tgid: rodata.u32(cfg.selfTgid),
      lf_cfg_flush_interval_ns: rodata.u64(BigInt(cfg.flushIntervalMs) * 1_000_000n),
      lf_cfg_wakeup_bytes: rodata.u64(cfg.wakeupBytes ?? Math.max(4096, cfg.ringBufferBytes / 8)),
      lf_cfg_emit_state_changes: rodata.u8(cfg.emitStateChanges ?? true),
    },
    maxEntries: { [TCP_RING_BUFFER]: cfg.ringBufferBytes },
  };
}
