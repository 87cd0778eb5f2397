/**
 * The TCP probe: which programs of bpf/tcp.bpf.c attach where, and how a run's
 * options become rodata constants. Without payload capture every attached hook
 * fires per connection (state change, reset, destruction), none per send/recv.
 */
import { ProbeSpec, ProgramSpec, rodata } from '../../runtime/probes/probe-spec';

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
/** Iterator the host runs every flush interval and at shutdown: a FLUSH of every tracked connection of its network namespace. */
export const TCP_FLUSH_ITERATOR = 'lf_tcp_flush_iter';
/** The socket-local storage of tracked connections. */
export const TCP_SOCKETS_MAP = 'lf_tcp_socks';
/** Iterators the host runs, in this order, at start and when a rescan finds new targets:
 * they take over the listeners and open connections selected processes already had
 * (the first notes them from every process's open files, the second claims them). */
export const TCP_ADOPT_ITERATOR = 'lf_tcp_adopt_iter';
export const TCP_CLAIM_ITERATOR = 'lf_tcp_claim_iter';
/** Largest capture per syscall: LF_TCP_DATA_MAX - 1 (bpf/tcp.h). */
export const TCP_CAPTURE_MAX = 8191;

const CAPTURED_SYSCALLS = ['write', 'sendto', 'writev', 'read', 'recvfrom', 'readv'];

/**
 * Payload capture, loaded only when a decoder subscribes to streams: the socket
 * hooks say which tracked connection a syscall moves bytes on, and one entry and
 * one exit program per captured syscall copy them (bpf/tcp_capture.bpf.h).
 * These are the only per-send/recv hooks of the probe.
 */
function capturePrograms(): ProgramSpec[] {
  const socketHooks: ProgramSpec[] = ['send', 'recv'].map((dir) => ({
    name: `lf_tcp_${dir}_length`,
    attach: { kind: 'auto' as const },
    required: false,
    degrades: `payload ${dir === 'send' ? 'sent' : 'received'} is not captured for stream decoders`,
  }));
  return socketHooks.concat(CAPTURED_SYSCALLS.flatMap((sc) =>
    ['enter', 'exit'].map((side) => ({
      name: `lf_tcp_${side}_${sc}`,
      attach: { kind: 'auto' as const },
      required: false,
      degrades: `payload of ${sc}() is not captured for stream decoders`,
    })),
  ));
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
      ...[TCP_ADOPT_ITERATOR, TCP_CLAIM_ITERATOR].map((name) => ({
        name,
        attach: { kind: 'on-demand' as const },
        required: false,
        degrades: 'listeners and connections opened before their process was selected are watched only from their close (new ones are watched in full)',
      })),
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
