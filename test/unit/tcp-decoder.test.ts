import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpDecoder, type TcpConnectionEvent, type TcpSeriesLabels, type TcpSink } from '../../probes/tcp/decoder';
import { LF_TCP_EVENT_FLAG as F, LF_TCP_EVENT_KIND as K, LF_TCP_ROLE as R } from '../../probes/tcp/generated/events';
import { encodeTcpEvent, packBatch } from '../helpers/tcp-records';

type Call = [string, ...unknown[]];

function recordingSink(): { sink: TcpSink; calls: Call[]; events: TcpConnectionEvent[] } {
  const calls: Call[] = [];
  const events: TcpConnectionEvent[] = [];
  const rec = (name: string) => (l: TcpSeriesLabels, ...rest: unknown[]) => calls.push([name, l.port, ...rest]);
  return {
    calls,
    events,
    sink: {
      opened: rec('opened'),
      closed: rec('closed'),
      connectFailed: rec('connectFailed'),
      bytes: rec('bytes'),
      retransmits: rec('retransmits'),
      reset: rec('reset'),
      rtt: rec('rtt'),
      cwnd: rec('cwnd'),
      event: (e) => events.push(e),
    },
  };
}

const lo = Uint8Array.from([127, 0, 0, 1]);
const base = { tgid: 42, comm: 'curl', cookie: 7n, saddr: lo, daddr: lo, sport: 50000, dport: 8080, role: R.LF_TCP_ROLE_CLIENT };

test('a client connection: open, flushes and close count each byte once', () => {
  const { sink, calls, events } = recordingSink();
  const d = new TcpDecoder(sink);
  const batch = packBatch([
    encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_OPEN, old_state: 2, new_state: 1, snd_cwnd: 10 }),
    encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_FLUSH, bytes_sent: 100n, bytes_received: 40n, srtt_us: 250, snd_cwnd: 10 }),
    encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_FLUSH, bytes_sent: 100n, bytes_received: 90n, total_retrans: 2, snd_cwnd: 10 }),
    encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_CLOSE, old_state: 5, new_state: 7, bytes_sent: 300n, bytes_received: 90n, total_retrans: 3, srtt_us: 500, snd_cwnd: 12 }),
  ]);
  assert.equal(d.decodeBatch(batch), 4);
  assert.deepEqual(calls, [
    ['opened', '8080'],
    ['cwnd', '8080', 10],
    ['bytes', '8080', 100, 40],
    ['rtt', '8080', 0.00025],
    ['cwnd', '8080', 10],
    ['bytes', '8080', 0, 50],
    ['retransmits', '8080', 2],
    ['cwnd', '8080', 10],
    ['bytes', '8080', 200, 0],
    ['retransmits', '8080', 1],
    ['rtt', '8080', 0.0005],
    ['cwnd', '8080', 12],
    ['closed', '8080'],
  ]);
  assert.deepEqual(events.map((e) => e.event), ['open', 'flush', 'flush', 'close']);
  assert.equal(events[3].local, '127.0.0.1:50000');
  assert.equal(events[3].remote, '127.0.0.1:8080');
  assert.equal(events[3].oldState, 'FIN_WAIT2');
  assert.equal(events[3].state, 'CLOSE');
  assert.equal(d.connections, 0);
});

test('a server connection is labelled with its local (service) port', () => {
  const { sink, calls } = recordingSink();
  const d = new TcpDecoder(sink);
  d.decodeBatch(packBatch([encodeTcpEvent({ ...base, role: R.LF_TCP_ROLE_SERVER, kind: K.LF_TCP_EV_OPEN, sport: 8080, dport: 50000 })]));
  assert.deepEqual(calls[0], ['opened', '8080']);
});

test('an RST reported after an abortive close is counted once, without recounting bytes', () => {
  const { sink, calls } = recordingSink();
  const d = new TcpDecoder(sink);
  d.decodeBatch(
    packBatch([
      encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_OPEN }),
      encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_CLOSE, bytes_sent: 10n }),
      encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_RESET, flags: F.LF_TCP_F_RESET_SENT, bytes_sent: 10n, resets_sent: 1 }),
    ]),
  );
  assert.deepEqual(
    calls.filter((c) => c[0] !== 'cwnd'),
    [
      ['opened', '8080'],
      ['bytes', '8080', 10, 0],
      ['closed', '8080'],
      ['reset', '8080', 'sent'],
    ],
  );
});

test('a failed connect is a connect failure, not an open/close pair', () => {
  const { sink, calls, events } = recordingSink();
  const d = new TcpDecoder(sink);
  d.decodeBatch(packBatch([encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_CLOSE, old_state: 2, new_state: 7, flags: F.LF_TCP_F_NEVER_ESTABLISHED })]));
  assert.deepEqual(calls, [['connectFailed', '8080']]);
  assert.equal(events[0].connectFailed, true);
});

test('short records and unknown kinds are counted as malformed and change nothing', () => {
  const { sink, calls } = recordingSink();
  const d = new TcpDecoder(sink);
  const good = encodeTcpEvent({ ...base, kind: K.LF_TCP_EV_OPEN });
  const unknown = encodeTcpEvent({ ...base, kind: 99 });
  d.decodeBatch(packBatch([good.subarray(0, 20), unknown]));
  assert.deepEqual(calls, []);
  assert.equal(d.stats.malformed, 2);
  assert.equal(d.stats.records, 2);
});

test('the connection table is bounded; the oldest connection is evicted and counted', () => {
  const { sink } = recordingSink();
  const d = new TcpDecoder(sink, 2);
  for (const cookie of [1n, 2n, 3n]) d.decodeBatch(packBatch([encodeTcpEvent({ ...base, cookie, kind: K.LF_TCP_EV_OPEN })]));
  assert.equal(d.connections, 2);
  assert.equal(d.stats.evicted, 1);
});
