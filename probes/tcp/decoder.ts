/**
 * Turns TCP probe records into per-series metric updates and connection events.
 *
 * The kernel reports cumulative per-connection counters (on flush, reset and
 * close); this decoder keeps the last values per socket cookie and passes on
 * deltas, so a counter is never counted twice however many snapshots arrive.
 */
import {
  LF_TCP_EVENT_FLAG as FLAG,
  LF_TCP_EVENT_KIND as KIND,
  LF_TCP_ROLE as ROLE,
  LfTcpEvent,
  SIZEOF_LF_TCP_EVENT,
  readLfTcpEvent,
} from './generated/events';
import { tcpStateName } from './tcp-states';
import { formatEndpoint, formatIp } from '../../runtime/net/ip-format';
import { walkBatch } from '../../runtime/probes/batch';

export type TcpRole = 'client' | 'server' | 'unknown';

/** Labels of every TCP series: the local process and the remote peer. */
export interface TcpSeriesLabels {
  pid: string;
  comm: string;
  role: TcpRole;
  /** Remote IP address. */
  peer: string;
  /** Service port: the remote port of a client connection, the local port of a server one. */
  port: string;
}

export type TcpEventName = 'open' | 'state' | 'reset' | 'close' | 'flush';

/** One connection event, as logged (one JSON line each). */
export interface TcpConnectionEvent {
  event: TcpEventName;
  /** Kernel monotonic timestamp, ns. */
  tsNs: bigint;
  pid: number;
  comm: string;
  cgroupId: bigint;
  cookie: bigint;
  role: TcpRole;
  local: string;
  remote: string;
  oldState: string;
  state: string;
  preexisting: boolean;
  connectFailed: boolean;
  resetDirection?: 'sent' | 'received';
  bytesSent: bigint;
  bytesReceived: bigint;
  retransmits: number;
  srttUs: number;
  cwnd: number;
  resetsSent: number;
  resetsReceived: number;
  /** Since open (or first sight), ns. */
  ageNs: bigint;
}

/** Where the decoder's results go: metrics and the event log. */
export interface TcpSink {
  opened(l: TcpSeriesLabels): void;
  closed(l: TcpSeriesLabels): void;
  connectFailed(l: TcpSeriesLabels): void;
  bytes(l: TcpSeriesLabels, sent: number, received: number): void;
  retransmits(l: TcpSeriesLabels, n: number): void;
  reset(l: TcpSeriesLabels, direction: 'sent' | 'received'): void;
  rtt(l: TcpSeriesLabels, seconds: number): void;
  cwnd(l: TcpSeriesLabels, segments: number): void;
  event(e: TcpConnectionEvent): void;
}

interface ConnState {
  labels: TcpSeriesLabels;
  opened: boolean;
  sent: bigint;
  received: bigint;
  retrans: number;
}

export interface TcpDecoderStats {
  records: number;
  /** Records whose length or kind did not match bpf/tcp.h. */
  malformed: number;
  /** Connections forgotten to respect maxConnections. */
  evicted: number;
}

const ROLE_NAMES: Record<number, TcpRole> = {
  [ROLE.LF_TCP_ROLE_CLIENT]: 'client',
  [ROLE.LF_TCP_ROLE_SERVER]: 'server',
  [ROLE.LF_TCP_ROLE_UNKNOWN]: 'unknown',
};

const EVENT_NAMES: Record<number, TcpEventName> = {
  [KIND.LF_TCP_EV_OPEN]: 'open',
  [KIND.LF_TCP_EV_STATE]: 'state',
  [KIND.LF_TCP_EV_RESET]: 'reset',
  [KIND.LF_TCP_EV_CLOSE]: 'close',
  [KIND.LF_TCP_EV_FLUSH]: 'flush',
};

function labelsOf(ev: LfTcpEvent): TcpSeriesLabels {
  const role = ROLE_NAMES[ev.role] ?? 'unknown';
  return {
    pid: String(ev.tgid),
    comm: ev.comm,
    role,
    peer: formatIp(ev.family, ev.daddr),
    port: String(role === 'server' ? ev.sport : ev.dport),
  };
}

export class TcpDecoder {
  private readonly conns = new Map<bigint, ConnState>();
  /** Just-closed connections: an abortive close reports its RST after CLOSE. */
  private readonly closed = new Map<bigint, ConnState>();
  private static readonly CLOSED_KEPT = 4096;
  readonly stats: TcpDecoderStats = { records: 0, malformed: 0, evicted: 0 };

  constructor(
    private readonly sink: TcpSink,
    private readonly maxConnections = 65536,
  ) {}

  /** Live connections the decoder holds state for. */
  get connections(): number {
    return this.conns.size;
  }

  decodeBatch(batch: Buffer): number {
    const walk = walkBatch(batch, (buf, off, len) => this.decodeRecord(buf, off, len));
    if (walk.malformedBytes) this.stats.malformed++;
    return walk.records;
  }

  decodeRecord(buf: Buffer, off: number, len: number): void {
    this.stats.records++;
    if (len < SIZEOF_LF_TCP_EVENT || !(buf[off] in EVENT_NAMES)) {
      this.stats.malformed++;
      return;
    }
    this.apply(readLfTcpEvent(buf, off));
  }

  private state(ev: LfTcpEvent): ConnState {
    let c = this.conns.get(ev.cookie) ?? this.closed.get(ev.cookie);
    if (!c) {
      if (this.conns.size >= this.maxConnections) {
        // Oldest first: Map iterates in insertion order.
        const oldest = this.conns.keys().next().value as bigint;
        this.conns.delete(oldest);
        this.stats.evicted++;
      }
      c = { labels: labelsOf(ev), opened: false, sent: 0n, received: 0n, retrans: 0 };
      this.conns.set(ev.cookie, c);
    }
    return c;
  }

  private apply(ev: LfTcpEvent): void {
    const kind = ev.kind;
    const failedConnect = kind === KIND.LF_TCP_EV_CLOSE && (ev.flags & FLAG.LF_TCP_F_NEVER_ESTABLISHED) !== 0;
    const c = this.state(ev);
    const l = c.labels;

    if (kind === KIND.LF_TCP_EV_OPEN && !c.opened) {
      c.opened = true;
      this.sink.opened(l);
    }
    this.flushCounters(c, ev);
    if (kind === KIND.LF_TCP_EV_RESET) {
      this.sink.reset(l, ev.flags & FLAG.LF_TCP_F_RESET_SENT ? 'sent' : 'received');
    }
    if ((kind === KIND.LF_TCP_EV_CLOSE || kind === KIND.LF_TCP_EV_FLUSH) && ev.srtt_us > 0) {
      this.sink.rtt(l, ev.srtt_us / 1e6);
    }
    if (ev.snd_cwnd > 0 && kind !== KIND.LF_TCP_EV_RESET) this.sink.cwnd(l, ev.snd_cwnd);
    if (kind === KIND.LF_TCP_EV_CLOSE) {
      if (failedConnect) this.sink.connectFailed(l);
      else this.sink.closed(l);
      this.conns.delete(ev.cookie);
      this.closed.set(ev.cookie, c);
      if (this.closed.size > TcpDecoder.CLOSED_KEPT) this.closed.delete(this.closed.keys().next().value as bigint);
    }
    this.sink.event(this.toEvent(ev, failedConnect));
  }

  private flushCounters(c: ConnState, ev: LfTcpEvent): void {
    const sent = ev.bytes_sent > c.sent ? ev.bytes_sent - c.sent : 0n;
    const received = ev.bytes_received > c.received ? ev.bytes_received - c.received : 0n;
    if (sent || received) this.sink.bytes(c.labels, Number(sent), Number(received));
    c.sent = ev.bytes_sent > c.sent ? ev.bytes_sent : c.sent;
    c.received = ev.bytes_received > c.received ? ev.bytes_received : c.received;
    if (ev.total_retrans > c.retrans) {
      this.sink.retransmits(c.labels, ev.total_retrans - c.retrans);
      c.retrans = ev.total_retrans;
    }
  }

  private toEvent(ev: LfTcpEvent, connectFailed: boolean): TcpConnectionEvent {
    const kind = EVENT_NAMES[ev.kind];
    return {
      event: kind,
      tsNs: ev.ts_ns,
      pid: ev.tgid,
      comm: ev.comm,
      cgroupId: ev.cgroup_id,
      cookie: ev.cookie,
      role: ROLE_NAMES[ev.role] ?? 'unknown',
      local: formatEndpoint(ev.family, ev.saddr, ev.sport),
      remote: formatEndpoint(ev.family, ev.daddr, ev.dport),
      oldState: tcpStateName(ev.old_state),
      state: tcpStateName(ev.new_state),
      preexisting: (ev.flags & FLAG.LF_TCP_F_PREEXISTING) !== 0,
      connectFailed,
      resetDirection:
        kind === 'reset' ? (ev.flags & FLAG.LF_TCP_F_RESET_SENT ? 'sent' : 'received') : undefined,
      bytesSent: ev.bytes_sent,
      bytesReceived: ev.bytes_received,
      retransmits: ev.total_retrans,
      srttUs: ev.srtt_us,
      cwnd: ev.snd_cwnd,
      resetsSent: ev.resets_sent,
      resetsReceived: ev.resets_received,
      ageNs: ev.ts_ns > ev.open_ts_ns ? ev.ts_ns - ev.open_ts_ns : 0n,
    };
  }
}
