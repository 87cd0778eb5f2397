/**
 * The OpenSSL/BoringSSL module: plaintext of SSL_read/SSL_write (+ _ex, _ex2)
 * in any binary that has them (libssl.so.3, a static libssl.a, BoringSSL, the
 * OpenSSL inside node), as streams per TCP connection under the TCP probe's
 * socket cookie. Its planner (planner/plan.c) picks the functions per binary.
 */
import type { ProbeModule } from '../../runtime/modules/module';
import { rodata } from '../../runtime/probes/probe-spec';
import { LF_SSL_DATA_OFFSETS, LF_SSL_EVENT_KIND, LF_SSL_EVENT_OFFSETS, LF_SSL_STAT } from './generated/events';

export const SSL_DATA_RING_BUFFER = 'lf_ssl_data_events';
export const SSL_RING_BUFFER = 'lf_ssl_events';
export const SSL_STATS_MAP = 'lf_ssl_stats';
/** bpf/openssl.h: LF_SSL_CHUNK * LF_SSL_MAX_CHUNKS. */
export const SSL_CAPTURE_MAX = 8192 * 32;
export const SSL_CAPTURE_DEFAULT = 65536;

/** Slot names of lf_ssl_stats, in slot order. */
const STAT_NAMES = Object.entries(LF_SSL_STAT)
  .filter(([k]) => k !== 'LF_SSL_STAT_MAX')
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => k.replace('LF_SSL_STAT_', '').toLowerCase());

/** Uprobe programs a plan may name (bpf/openssl.bpf.c). */
export const SSL_UPROBE_PROGRAMS = ['lf_ssl_rw_enter', 'lf_ssl_rw_ex_enter', 'lf_ssl_write_ex2_enter', 'lf_ssl_rw_exit', 'lf_ssl_free'];
/** The socket join: attached only while some binary carries the uprobes. */
export const SSL_JOIN_PROGRAMS = ['lf_ssl_sock_send', 'lf_ssl_sock_recv'];

export const opensslModule: ProbeModule = {
  name: 'openssl',
  // Only when a decoder wants TLS plaintext (and --capture allows it): otherwise nothing is attached anywhere.
  enabled: (ctx) => ctx.wantsStreams('openssl'),
  whyNot: 'no decoder wants its plaintext streams, or --capture leaves openssl out',
  spec: (ctx) => ({
    name: 'openssl',
    object: 'dist/bpf/openssl.bpf.o',
    ringBuffer: SSL_DATA_RING_BUFFER,
    programs: [
      ...SSL_UPROBE_PROGRAMS.map((name) => ({ name, attach: { kind: 'on-demand' as const }, required: true })),
      ...SSL_JOIN_PROGRAMS.map((name) => ({
        name,
        attach: { kind: 'on-demand' as const },
        required: false,
        degrades: 'TLS streams are not joined to their TCP connection (pseudo connection ids)',
      })),
    ],
    constants: {
      lf_cfg_select_all: rodata.u8(ctx.selectAll),
      lf_cfg_filter_comm: rodata.u8(ctx.filterComm),
      lf_cfg_filter_cgroup: rodata.u8(ctx.filterCgroup),
      lf_cfg_self_tgid: rodata.u32(ctx.selfTgid),
      lf_cfg_capture_bytes: rodata.u32(Math.min(ctx.captureBytes ?? SSL_CAPTURE_DEFAULT, SSL_CAPTURE_MAX)),
      lf_cfg_wakeup_bytes: rodata.u64(Math.max(4096, ctx.ringBufferBytes / 8)),
    },
    maxEntries: { [SSL_DATA_RING_BUFFER]: ctx.ringBufferBytes },
  }),
  rings: () => [
    { map: SSL_RING_BUFFER, type: 'records', close: { kind: LF_SSL_EVENT_KIND.LF_SSL_EV_CLOSE, cookieOffset: LF_SSL_EVENT_OFFSETS.cookie } },
    {
      map: SSL_DATA_RING_BUFFER,
      type: 'streams',
      layout: {
        kind: LF_SSL_EVENT_KIND.LF_SSL_EV_DATA,
        header: LF_SSL_DATA_OFFSETS.data,
        cookie: LF_SSL_DATA_OFFSETS.cookie,
        direction: LF_SSL_DATA_OFFSETS.direction,
        len: LF_SSL_DATA_OFFSETS.len,
        captured: LF_SSL_DATA_OFFSETS.captured,
        offset: LF_SSL_DATA_OFFSETS.offset,
        seq: LF_SSL_DATA_OFFSETS.seq,
        ts: LF_SSL_DATA_OFFSETS.ts_ns,
      },
    },
  ],
  stats: { map: SSL_STATS_MAP, names: STAT_NAMES },
  planner: {
    component: 'dist/probes/openssl/planner.wasm',
    interest: { names: ['SSL_read', 'SSL_write', 'SSL_read_ex', 'SSL_write_ex', 'SSL_write_ex2', 'SSL_free'] },
    programs: SSL_UPROBE_PROGRAMS,
    companions: SSL_JOIN_PROGRAMS,
  },
};
