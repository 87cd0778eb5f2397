/**
 * The TCP decoder component (probes/tcp/wasm/) in plain TypeScript: same input
 * (a msgpack batch, sdk/docs/batch-format.md), same output (the DecodeOutput of
 * docs/native-api.md), same state. It is the baseline of the "WASM decoder vs
 * the same logic in TS" benchmark and the second implementation the
 * differential tests compare the component with. It shares no code with the C
 * version but the generated record layout; keep the two in step.
 *
 * Semantics (those of probes/tcp/decoder.ts + runtime/daemon/tcp-sink.ts): per
 * socket cookie the last cumulative counters are kept and deltas emitted; a
 * connection's labels are those of its first record; CLOSE moves its state to a
 * recently-closed table (an RST reported after CLOSE then counts the reset but
 * no bytes). Within one batch updates are aggregated per (metric, labels) in
 * first-seen order: adds summed (an add summing to 0 is dropped), gauge sets
 * last-wins, histogram observations one each.
 */
import {
  LF_TCP_EVENT_FLAG as FLAG,
  LF_TCP_EVENT_KIND as KIND,
  LF_TCP_EVENT_OFFSETS as OFF,
  LF_TCP_ROLE as ROLE,
  SIZEOF_LF_TCP_EVENT,
} from './generated/events';

export type FieldValue = string | number | bigint | boolean;
export interface MetricUpdate {
  metric: number;
  labels: string[];
  op: 'add' | 'set' | 'observe';
  value: number;
}
export interface LogEvent {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  connection: bigint;
  fields: [string, FieldValue][];
}
export interface DecodeOutput {
  metrics: MetricUpdate[];
  logs: LogEvent[];
  annotations: { connection: bigint; key: string; value: string }[];
  streams: { connection: bigint; direction: 'egress' | 'ingress'; consumed: number }[];
}
export interface DecoderInfo {
  name: string;
  version: string;
  subscriptions: { probe: string; kinds: number[]; streams: boolean }[];
  metrics: { name: string; kind: 'counter' | 'gauge' | 'histogram'; help: string; labels: string[]; buckets: number[] }[];
}

/** A decode-error result, shaped like the native engine's (code LF_ERR_DECODE). */
export class DecodeError extends Error {
  readonly code = 'LF_ERR_DECODE';
  constructor(
    readonly decodeError: 'unsupported' | 'malformed',
    message: string,
  ) {
    super(message);
  }
}

const LABELS = ['pid', 'comm', 'role', 'peer', 'port'];
export const RTT_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

const M_OPENED = 0, M_CLOSED = 1, M_CONNECT_FAILED = 2, M_BYTES_SENT = 3, M_BYTES_RECEIVED = 4;
const M_RETRANSMITS = 5, M_RESETS = 6, M_RTT = 7, M_CWND = 8, M_ACTIVE = 9;

export function describeTcp(): DecoderInfo {
  const m = (name: string, kind: 'counter' | 'gauge' | 'histogram', help: string, labels = LABELS, buckets: number[] = []) => ({
    name, kind, help, labels: [...labels], buckets: [...buckets],
  });
  return {
    name: 'tcp',
    version: '0.1.0',
    subscriptions: [{ probe: 'tcp', kinds: [], streams: false }],
    metrics: [
      m('lightfoot_tcp_connections_opened_total', 'counter', 'TCP connections established by watched processes.'),
      m('lightfoot_tcp_connections_closed_total', 'counter', 'TCP connections of watched processes that closed.'),
      m('lightfoot_tcp_connect_failures_total', 'counter',
        'Outgoing TCP connection attempts that failed (refused, timed out, reset during handshake).'),
      m('lightfoot_tcp_bytes_sent_total', 'counter', 'Payload bytes sent on TCP connections.'),
      m('lightfoot_tcp_bytes_received_total', 'counter', 'Payload bytes received on TCP connections.'),
      m('lightfoot_tcp_retransmits_total', 'counter', 'TCP segments retransmitted.'),
      m('lightfoot_tcp_resets_total', 'counter',
        'TCP resets, by direction: sent by the watched process or received from the peer.', [...LABELS, 'direction']),
      m('lightfoot_tcp_rtt_seconds', 'histogram', 'Smoothed round-trip time (srtt) samples of TCP connections.', LABELS, RTT_BUCKETS),
      m('lightfoot_tcp_congestion_window_segments', 'gauge', 'Congestion window (snd_cwnd, in segments) of the most recent sample.'),
      m('lightfoot_tcp_active_connections', 'gauge', 'TCP connections currently open.'),
    ],
  };
}

// ---------------------------------------------------------------------------
// msgpack: just what a batch needs, with the strictness of sdk/guest/c/lf_batch.h
// (whole batch validated up front; unknown keys skipped; trailing bytes refused).

class Malformed extends Error {}

class Reader {
  p = 0;
  constructor(readonly b: Buffer) {}
  private need(n: number): void {
    if (this.b.length - this.p < n) throw new Malformed('truncated msgpack');
  }
  private tag(): number {
    this.need(1);
    return this.b[this.p];
  }
  private len(width: number): number {
    this.need(1 + width);
    const b = this.b, p = this.p + 1;
    return width === 1 ? b[p] : width === 2 ? b.readUInt16BE(p) : b.readUInt32BE(p);
  }
  map(): number {
    const t = this.tag();
    if (t >= 0x80 && t <= 0x8f) { this.p++; return t & 0x0f; }
    if (t === 0xde || t === 0xdf) { const w = t === 0xde ? 2 : 4; const n = this.len(w); this.p += 1 + w; return n; }
    throw new Malformed('type');
  }
  array(): number {
    const t = this.tag();
    if (t >= 0x90 && t <= 0x9f) { this.p++; return t & 0x0f; }
    if (t === 0xdc || t === 0xdd) { const w = t === 0xdc ? 2 : 4; const n = this.len(w); this.p += 1 + w; return n; }
    throw new Malformed('type');
  }
  private payload(width: number, inline: number): number {
    const n = width === 0 ? inline : this.len(width);
    this.need(1 + width + n);
    this.p += 1 + width;
    const start = this.p;
    this.p += n;
    return start;
  }
  /** Returns [start, end) of the string bytes. */
  str(): [number, number] {
    const t = this.tag();
    let s: number;
    if (t >= 0xa0 && t <= 0xbf) s = this.payload(0, t & 0x1f);
    else if (t === 0xd9 || t === 0xda || t === 0xdb) s = this.payload(t === 0xd9 ? 1 : t === 0xda ? 2 : 4, 0);
    else throw new Malformed('type');
    return [s, this.p];
  }
  bin(): [number, number] {
    const t = this.tag();
    if (t !== 0xc4 && t !== 0xc5 && t !== 0xc6) throw new Malformed('type');
    const s = this.payload(t === 0xc4 ? 1 : t === 0xc5 ? 2 : 4, 0);
    return [s, this.p];
  }
  uint(): bigint {
    const t = this.tag(), b = this.b;
    if (t <= 0x7f) { this.p++; return BigInt(t); }
    if (t >= 0xe0) throw new Malformed('range');
    let w: number;
    switch (t) {
      case 0xcc: case 0xd0: w = 1; break;
      case 0xcd: case 0xd1: w = 2; break;
      case 0xce: case 0xd2: w = 4; break;
      case 0xcf: case 0xd3: w = 8; break;
      default: throw new Malformed('type');
    }
    this.need(1 + w);
    const q = this.p + 1;
    let v: bigint;
    if (t >= 0xd0) {
      v = w === 1 ? BigInt(b.readInt8(q)) : w === 2 ? BigInt(b.readInt16BE(q)) : w === 4 ? BigInt(b.readInt32BE(q)) : b.readBigInt64BE(q);
      if (v < 0n) throw new Malformed('range');
    } else {
      v = w === 1 ? BigInt(b[q]) : w === 2 ? BigInt(b.readUInt16BE(q)) : w === 4 ? BigInt(b.readUInt32BE(q)) : b.readBigUInt64BE(q);
    }
    this.p += 1 + w;
    return v;
  }
  bool(): boolean {
    const t = this.tag();
    if (t !== 0xc2 && t !== 0xc3) throw new Malformed('type');
    this.p++;
    return t === 0xc3;
  }
  skip(): void {
    let pending = 1;
    while (pending > 0) {
      pending--;
      const t = this.tag();
      if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) { this.p++; continue; }
      if (t <= 0x8f) { pending += 2 * this.map(); continue; }
      if (t <= 0x9f) { pending += this.array(); continue; }
      if (t <= 0xbf) { this.str(); continue; }
      switch (t) {
        case 0xc4: case 0xc5: case 0xc6: this.bin(); break;
        case 0xc7: case 0xc8: case 0xc9: this.payload(t === 0xc7 ? 1 : t === 0xc8 ? 2 : 4, 0); this.need(1); this.p++; break;
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: this.payload(0, (1 << (t - 0xd4)) + 1); break;
        case 0xca: this.need(5); this.p += 5; break;
        case 0xcb: this.need(9); this.p += 9; break;
        case 0xcc: case 0xd0: this.need(2); this.p += 2; break;
        case 0xcd: case 0xd1: this.need(3); this.p += 3; break;
        case 0xce: case 0xd2: this.need(5); this.p += 5; break;
        case 0xcf: case 0xd3: this.need(9); this.p += 9; break;
        case 0xd9: case 0xda: case 0xdb: this.str(); break;
        case 0xdc: case 0xdd: pending += this.array(); break;
        case 0xde: case 0xdf: pending += 2 * this.map(); break;
        default: throw new Malformed('invalid msgpack'); // 0xc1
      }
    }
  }
}

interface Batch {
  v: bigint;
  probe: string;
  schema: bigint;
  logs: boolean;
  /** [start, end) of each record. */
  records: number[];
  closed: bigint[];
}

function keyIs(b: Buffer, [s, e]: [number, number], lit: string): boolean {
  if (e - s !== lit.length) return false;
  for (let i = 0; i < lit.length; i++) if (b[s + i] !== lit.charCodeAt(i)) return false;
  return true;
}

function readSegment(r: Reader): void {
  const n = r.map();
  let c = false, d = false, data = false;
  for (let i = 0; i < n; i++) {
    const k = r.str();
    if (keyIs(r.b, k, 'c')) { r.uint(); c = true; }
    else if (keyIs(r.b, k, 'd')) { if (r.uint() > 1n) throw new Malformed('range'); d = true; }
    else if (keyIs(r.b, k, 'data')) { r.bin(); data = true; }
    else if (keyIs(r.b, k, 'eos') || keyIs(r.b, k, 'gap')) r.bool();
    else r.skip();
  }
  if (!c || !d || !data) throw new Malformed('segment');
}

function parseBatch(b: Buffer): Batch {
  const r = new Reader(b);
  const out: Batch = { v: 0n, probe: '', schema: 0n, logs: true, records: [], closed: [] };
  let hasV = false;
  const fail = (what: string) => { throw new DecodeError('malformed', what); };
  const step = <T>(what: string, f: () => T): T => {
    try { return f(); } catch (e) { if (e instanceof Malformed) fail(what); throw e; }
  };
  const n = step('batch is not a msgpack map', () => r.map());
  for (let i = 0; i < n; i++) {
    const k = step('batch key is not a string', () => r.str());
    if (keyIs(b, k, 'v')) { out.v = step('`v` is not a uint', () => r.uint()); hasV = true; }
    else if (keyIs(b, k, 'probe')) { const [s, e] = step('`probe` is not a string', () => r.str()); out.probe = b.toString('latin1', s, e); }
    else if (keyIs(b, k, 'schema')) out.schema = step('`schema` is not a uint', () => r.uint());
    else if (keyIs(b, k, 'logs')) out.logs = step('`logs` is not a bool', () => r.bool());
    else if (keyIs(b, k, 'records')) {
      const m = step('`records` is not an array', () => r.array());
      const recs: number[] = [];
      for (let j = 0; j < m; j++) {
        const [s, e] = step('a record is not bin', () => r.bin());
        if (e === s) fail('empty record (no kind byte)');
        recs.push(s, e);
      }
      out.records = recs;
    } else if (keyIs(b, k, 'streams')) {
      const m = step('`streams` is not an array', () => r.array());
      for (let j = 0; j < m; j++) step('bad stream segment (needs c: uint, d: 0|1, data: bin)', () => readSegment(r));
    } else if (keyIs(b, k, 'closed')) {
      const m = step('`closed` is not an array', () => r.array());
      const cl: bigint[] = [];
      for (let j = 0; j < m; j++) cl.push(step('`closed` holds a non-uint', () => r.uint()));
      out.closed = cl;
    } else step('bad value under an unknown key', () => r.skip());
  }
  if (!hasV) fail('batch has no `v`');
  if (r.p !== b.length) fail('trailing bytes after the batch map');
  return out;
}

// ---------------------------------------------------------------------------
// text forms

function ipv4(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipText(family: number, b: Buffer, o: number): string {
  if (family === 2) return ipv4(b, o);
  if (family !== 10) return `unknown-family-${family}`;
  let mapped = b[o + 10] === 0xff && b[o + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = b[o + i] === 0;
  if (mapped) return ipv4(b, o + 12);
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[o + 2 * i] << 8) | b[o + 2 * i + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function endpoint(family: number, b: Buffer, o: number, port: number): string {
  const ip = ipText(family, b, o);
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function commText(b: Buffer, o: number): string {
  let e = o;
  while (e < o + 16 && b[e] !== 0) e++;
  return b.toString('latin1', o, e);
}

const roleName = (r: number) => (r === ROLE.LF_TCP_ROLE_CLIENT ? 'client' : r === ROLE.LF_TCP_ROLE_SERVER ? 'server' : 'unknown');
const STATES = [
  'UNKNOWN', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT',
  'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE',
];
const stateName = (s: number) => STATES[s] ?? `STATE_${s}`;
const EVENTS = ['', 'open', 'state', 'reset', 'close', 'flush'];
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER) + 1n; // 2^53
const uintField = (v: bigint): number | bigint => (v <= MAX_SAFE ? Number(v) : v);

// ---------------------------------------------------------------------------

interface Conn {
  labels: string[];
  key: string;
  opened: boolean;
  sent: bigint;
  received: bigint;
  retrans: number;
}

export class ReferenceTcpDecoder {
  static readonly MAX_CONNECTIONS = 65536;
  static readonly CLOSED_KEPT = 4096;
  private readonly conns = new Map<bigint, Conn>();
  private readonly closed = new Map<bigint, Conn>();
  private malformedTotal = 0n;
  private evictedTotal = 0n;

  describe(): DecoderInfo {
    return describeTcp();
  }

  /** Live connections held. */
  get connections(): number {
    return this.conns.size;
  }

  decode(batch: Uint8Array): DecodeOutput {
    const b = Buffer.isBuffer(batch) ? batch : Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
    const parsed = parseBatch(b);
    if (parsed.probe !== 'tcp') throw new DecodeError('unsupported', 'the tcp decoder reads only probe "tcp" batches');
    if (parsed.v !== 1n) throw new DecodeError('unsupported', 'unsupported batch format version (this decoder reads v 1)');
    if (parsed.schema !== 1n) throw new DecodeError('unsupported', 'unsupported tcp record schema (this decoder reads schema 1)');

    const metrics: MetricUpdate[] = [];
    // (labels) -> update per metric slot (10 metrics + resets received), keyed by the
    // connection's label text: one Map lookup per update on a string whose hash V8 caches.
    const agg = new Map<string, (MetricUpdate | undefined)[]>();
    const logs: LogEvent[] = [];
    const emit = (metric: number, op: 'add' | 'set' | 'observe', value: number, c: Conn, dir?: 'sent' | 'received') => {
      const labels = dir ? [...c.labels, dir] : c.labels;
      if (op === 'observe') {
        metrics.push({ metric, labels: labels.slice(), op, value });
        return;
      }
      let slots = agg.get(c.key);
      if (!slots) agg.set(c.key, (slots = new Array(11)));
      const slot = dir === 'received' ? 10 : metric;
      const u = slots[slot];
      if (u) {
        if (op === 'set') u.value = value;
        else u.value += value;
        return;
      }
      const nu: MetricUpdate = { metric, labels: labels.slice(), op, value };
      slots[slot] = nu;
      metrics.push(nu);
    };

    let malformed = 0, evicted = 0;
    const recs = parsed.records;
    for (let i = 0; i < recs.length; i += 2) {
      const o = recs[i], len = recs[i + 1] - o;
      const kind = b[o];
      if (len < SIZEOF_LF_TCP_EVENT || kind < KIND.LF_TCP_EV_OPEN || kind > KIND.LF_TCP_EV_FLUSH) {
        malformed++;
        continue;
      }
      const flags = b[o + OFF.flags];
      const cookie = b.readBigUInt64LE(o + OFF.cookie);
      const failedConnect = kind === KIND.LF_TCP_EV_CLOSE && (flags & FLAG.LF_TCP_F_NEVER_ESTABLISHED) !== 0;
      let c = this.conns.get(cookie) ?? this.closed.get(cookie);
      if (!c) {
        if (this.conns.size >= ReferenceTcpDecoder.MAX_CONNECTIONS) {
          this.conns.delete(this.conns.keys().next().value as bigint);
          evicted++;
        }
        const role = b[o + OFF.role];
        const labels = [
          String(b.readUInt32LE(o + OFF.tgid)),
          commText(b, o + OFF.comm),
          roleName(role),
          ipText(b[o + OFF.family], b, o + OFF.daddr),
          String(role === ROLE.LF_TCP_ROLE_SERVER ? b.readUInt16LE(o + OFF.sport) : b.readUInt16LE(o + OFF.dport)),
        ];
        c = { labels, key: labels.join('\u0000'), opened: false, sent: 0n, received: 0n, retrans: 0 };
        this.conns.set(cookie, c);
      }
      if (kind === KIND.LF_TCP_EV_OPEN && !c.opened) {
        c.opened = true;
        emit(M_OPENED, 'add', 1, c);
        emit(M_ACTIVE, 'add', 1, c);
      }
      const sent = b.readBigUInt64LE(o + OFF.bytes_sent);
      const received = b.readBigUInt64LE(o + OFF.bytes_received);
      const retrans = b.readUInt32LE(o + OFF.total_retrans);
      const srtt = b.readUInt32LE(o + OFF.srtt_us);
      const cwnd = b.readUInt32LE(o + OFF.snd_cwnd);
      if (sent > c.sent) { emit(M_BYTES_SENT, 'add', Number(sent - c.sent), c); c.sent = sent; }
      if (received > c.received) { emit(M_BYTES_RECEIVED, 'add', Number(received - c.received), c); c.received = received; }
      if (retrans > c.retrans) { emit(M_RETRANSMITS, 'add', retrans - c.retrans, c); c.retrans = retrans; }
      if (kind === KIND.LF_TCP_EV_RESET) emit(M_RESETS, 'add', 1, c, flags & FLAG.LF_TCP_F_RESET_SENT ? 'sent' : 'received');
      if ((kind === KIND.LF_TCP_EV_CLOSE || kind === KIND.LF_TCP_EV_FLUSH) && srtt > 0) emit(M_RTT, 'observe', srtt / 1e6, c);
      if (cwnd > 0 && kind !== KIND.LF_TCP_EV_RESET) emit(M_CWND, 'set', cwnd, c);
      if (kind === KIND.LF_TCP_EV_CLOSE) {
        if (failedConnect) emit(M_CONNECT_FAILED, 'add', 1, c);
        else {
          emit(M_CLOSED, 'add', 1, c);
          emit(M_ACTIVE, 'add', -1, c);
        }
        this.retire(cookie, c);
      }
      if (parsed.logs) logs.push(this.event(b, o, kind, flags, cookie, failedConnect));
    }
    for (const cookie of parsed.closed) {
      const c = this.conns.get(cookie);
      if (c) this.retire(cookie, c);
    }
    this.malformedTotal += BigInt(malformed);
    this.evictedTotal += BigInt(evicted);
    const diag = (message: string, count: number, total: bigint): LogEvent => ({
      level: 'warn', message, connection: 0n, fields: [['count', count], ['total', uintField(total)]],
    });
    if (malformed) logs.push(diag('malformed-records', malformed, this.malformedTotal));
    if (evicted) logs.push(diag('connections-evicted', evicted, this.evictedTotal));
    return {
      metrics: metrics.filter((u) => !(u.op === 'add' && u.value === 0)),
      logs,
      annotations: [],
      streams: [],
    };
  }

  private retire(cookie: bigint, c: Conn): void {
    if (this.closed.has(cookie)) return;
    this.conns.delete(cookie);
    if (this.closed.size >= ReferenceTcpDecoder.CLOSED_KEPT) this.closed.delete(this.closed.keys().next().value as bigint);
    this.closed.set(cookie, c);
  }

  private event(b: Buffer, o: number, kind: number, flags: number, cookie: bigint, connectFailed: boolean): LogEvent {
    const family = b[o + OFF.family];
    const ts = b.readBigUInt64LE(o + OFF.ts_ns);
    const openTs = b.readBigUInt64LE(o + OFF.open_ts_ns);
    const fields: [string, FieldValue][] = [
      ['pid', b.readUInt32LE(o + OFF.tgid)],
      ['comm', commText(b, o + OFF.comm)],
      ['role', roleName(b[o + OFF.role])],
      ['local', endpoint(family, b, o + OFF.saddr, b.readUInt16LE(o + OFF.sport))],
      ['remote', endpoint(family, b, o + OFF.daddr, b.readUInt16LE(o + OFF.dport))],
      ['oldState', stateName(b[o + OFF.old_state])],
      ['state', stateName(b[o + OFF.new_state])],
      ['preexisting', (flags & FLAG.LF_TCP_F_PREEXISTING) !== 0],
      ['connectFailed', connectFailed],
    ];
    if (kind === KIND.LF_TCP_EV_RESET) fields.push(['resetDirection', flags & FLAG.LF_TCP_F_RESET_SENT ? 'sent' : 'received']);
    fields.push(
      ['bytesSent', uintField(b.readBigUInt64LE(o + OFF.bytes_sent))],
      ['bytesReceived', uintField(b.readBigUInt64LE(o + OFF.bytes_received))],
      ['retransmits', b.readUInt32LE(o + OFF.total_retrans)],
      ['srttUs', b.readUInt32LE(o + OFF.srtt_us)],
      ['cwnd', b.readUInt32LE(o + OFF.snd_cwnd)],
      ['resetsSent', b.readUInt32LE(o + OFF.resets_sent)],
      ['resetsReceived', b.readUInt32LE(o + OFF.resets_received)],
      ['ageMs', Number((ts > openTs ? ts - openTs : 0n) / 1000n) / 1000],
      ['cgroupId', b.readBigUInt64LE(o + OFF.cgroup_id).toString()],
      ['tsNs', uintField(ts)],
    );
    return { level: 'info', message: EVENTS[kind], connection: cookie, fields };
  }
}
