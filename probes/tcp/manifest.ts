/**
 * The TCP probe: which programs of bpf/tcp.bpf.c attach where, and how a run's
 * options become rodata constants. Without payload capture every attached hook
 * fires per connection (state change, reset, destruction), none per send/recv.
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
    {
      map: TCP_RING_BUFFER,
      type: 'records',
      close: { kind: LF_TCP_EVENT_KIND.LF_TCP_EV_CLOSE, cookieOffset: LF_TCP_EVENT_OFFSETS.cookie },
      owner: {
        cookieOffset: LF_TCP_EVENT_OFFSETS.cookie,
        tgidOffset: LF_TCP_EVENT_OFFSETS.tgid,
        cgroupOffset: LF_TCP_EVENT_OFFSETS.cgroup_id,
        minLength: LF_TCP_EVENT_OFFSETS.cgroup_id + 8,
      },
    },
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
        ts: LF_TCP_DATA_OFFSETS.ts_ns,
      },
    },
  ],
  stats: { map: TCP_STATS_MAP, names: TCP_STAT_NAMES },
  // Payload capture uses classic syscall tracepoints, which libbpf finds through tracefs.
  needsTracefs: (ctx) => ctx.wantsStreams('tcp'),
  onSelectionGrew: {
    // Takes over what selected processes already had open when they became
    // selected: their listeners, so connections accepted from them later are
    // attributed, and their open connections, counted from now on as
    // preexisting. Connections opened later are attributed in the kernel at
    // connect()/listen(); this walk is the only way to find the older ones
    // without a hook on every send and recv. First every process's open files,
    // then the TCP sockets of the daemon's network namespace (bpf/tcp.bpf.c
    // explains why two walks); sockets noted in other network namespaces are
    // taken over at their next state change.
    name: 'take over open sockets of selected processes',
    programs: [TCP_ADOPT_ITERATOR, TCP_CLAIM_ITERATOR],
    run: (obj) => {
      obj.runIterator(TCP_ADOPT_ITERATOR);
      return obj.runIterator(TCP_CLAIM_ITERATOR).length / 8; // one cookie each
    },
  },
  periodic: {
    // Counters of live connections (idle ones too) come from a walk of the tracked
    // sockets, never from the send/recv path. Returns how many there were.
    name: 'flush open connections',
    program: TCP_FLUSH_ITERATOR,
    intervalMs: (ctx) => ctx.flushIntervalMs,
    run: (obj) => obj.runIterator(TCP_FLUSH_ITERATOR).length / 8, // one cookie each
  },
};
