/**
 * The TCP probe: which programs of bpf/tcp.bpf.c attach where, and how a run's
 * options become rodata constants.
 */
import { ProbeSpec, ProgramSpec, rodata } from '../../runtime/probes/probe-spec';
import type { ProbeModule } from '../../runtime/modules/module';
import { LF_TCP_DATA_OFFSETS, LF_TCP_EVENT_KIND, LF_TCP_EVENT_OFFSETS } from './generated/events';

export interface TcpProbeConfig {
  selectAll: boolean;
  filterComm: boolean;
  filterCgroup: boolean;
  selfTgid: number;
  ringBufferBytes: number;
  /** Force a consumer wake-up once this many bytes wait in the ring. */
  wakeupBytes?: number;
  emitStateChanges?: boolean;
  /** Capture payload bytes for stream decoders (classic syscall tracepoints; needs tracefs). */
  captureData?: boolean;
  /** Bytes captured per send/recv syscall (1 .. LF_TCP_DATA_MAX-1). */
  captureBytes?: number;
  /** Size of the payload ring buffer when capturing. */
  dataRingBufferBytes?: number;
}

export const TCP_RING_BUFFER = 'lf_tcp_events';
export const TCP_DATA_RING_BUFFER = 'lf_tcp_data_events';
/** Iterator the host runs every flush interval and at shutdown: a FLUSH of every tracked connection. */
export const TCP_FLUSH_ITERATOR = 'lf_tcp_flush_iter';
/** The socket-local storage of tracked connections, which that iterator walks. */
export const TCP_SOCKETS_MAP = 'lf_tcp_socks';
/** Largest capture per syscall: LF_TCP_DATA_MAX - 1 (bpf/tcp.h). */
export const TCP_CAPTURE_MAX = 8191;

const CAPTURED_SYSCALLS = ['write', 'sendto', 'writev', 'read', 'recvfrom', 'readv'];

/** One entry and one exit program per captured syscall (bpf/tcp_capture.bpf.h). */
function capturePrograms(): ProgramSpec[] {
  return CAPTURED_SYSCALLS.flatMap((sc) =>
    ['enter', 'exit'].map((side) => ({
      name: `lf_tcp_${side}_${sc}`,
      attach: { kind: 'auto' as const },
      required: false,
      degrades: `payload of ${sc}() is not captured for stream decoders`,
    })),
  );
}
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
        name: TCP_FLUSH_ITERATOR,
        attach: { kind: 'on-demand' },
        required: false,
        degrades: 'live connections report their counters only at close (no periodic or shutdown flush)',
      },
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
      ...(cfg.captureData ? capturePrograms() : []),
    ],
    constants: {
      lf_cfg_select_all: rodata.u8(cfg.selectAll),
      lf_cfg_filter_comm: rodata.u8(cfg.filterComm),
      lf_cfg_filter_cgroup: rodata.u8(cfg.filterCgroup),
      lf_cfg_self_tgid: rodata.u32(cfg.selfTgid),
      lf_cfg_wakeup_bytes: rodata.u64(cfg.wakeupBytes ?? Math.max(4096, cfg.ringBufferBytes / 8)),
      lf_cfg_emit_state_changes: rodata.u8(cfg.emitStateChanges ?? true),
      lf_cfg_capture_data: rodata.u8(cfg.captureData ?? false),
      lf_cfg_capture_bytes: rodata.u32(Math.min(cfg.captureBytes ?? 4096, TCP_CAPTURE_MAX)),
    },
    maxEntries: {
      [TCP_RING_BUFFER]: cfg.ringBufferBytes,
      // The map exists either way; without capture it only needs one page.
      [TCP_DATA_RING_BUFFER]: cfg.captureData ? (cfg.dataRingBufferBytes ?? cfg.ringBufferBytes) : 4096,
    },
  };
}

/** Names of the lf_tcp_stats slots, in slot order (bpf/tcp.h enum lf_tcp_stat). */
const TCP_STAT_NAMES = ['emitted', 'dropped', 'tracked', 'filtered', 'map_full', 'data_emitted', 'data_dropped'] as const;

/** The TCP probe as a module of the host (probes/index.ts lists it). */
export const tcpModule: ProbeModule = {
  name: 'tcp',
  // Always on: the built-in tcp decoder and the per-connection event lines come from it.
  enabled: () => true,
  spec: (ctx) =>
    tcpProbe({
      selectAll: ctx.selectAll,
      filterComm: ctx.filterComm,
      filterCgroup: ctx.filterCgroup,
      selfTgid: ctx.selfTgid,
      ringBufferBytes: ctx.ringBufferBytes,
      captureData: ctx.wantsStreams('tcp'),
      ...(ctx.captureBytes !== undefined ? { captureBytes: ctx.captureBytes } : {}),
    }),
  rings: () => [
    { map: TCP_RING_BUFFER, type: 'records', close: { kind: LF_TCP_EVENT_KIND.LF_TCP_EV_CLOSE, cookieOffset: LF_TCP_EVENT_OFFSETS.cookie } },
    {
      map: TCP_DATA_RING_BUFFER,
      type: 'streams',
      layout: {
        kind: LF_TCP_EVENT_KIND.LF_TCP_EV_DATA,
        header: LF_TCP_DATA_OFFSETS.data,
        cookie: LF_TCP_DATA_OFFSETS.cookie,
        direction: LF_TCP_DATA_OFFSETS.direction,
        len: LF_TCP_DATA_OFFSETS.len,
        captured: LF_TCP_DATA_OFFSETS.captured,
      },
    },
  ],
  stats: { map: TCP_STATS_MAP, names: TCP_STAT_NAMES },
  // Payload capture uses classic syscall tracepoints, which libbpf finds through tracefs.
  needsTracefs: (ctx) => ctx.wantsStreams('tcp'),
  periodic: {
    // Counters of live connections (idle ones too) come from a walk of the tracked
    // sockets, never from the send/recv path. Returns how many there were.
    name: 'flush open connections',
    program: TCP_FLUSH_ITERATOR,
    intervalMs: (ctx) => ctx.flushIntervalMs,
    run: (obj) => obj.runIterator(TCP_FLUSH_ITERATOR, TCP_SOCKETS_MAP).length / 8, // one cookie each
  },
};
