/**
 * Decoders have no clock: they report the kernel timestamp (`tsNs`, CLOCK_MONOTONIC)
 * of what they saw. Event lines carry wall time instead.
 */
import type { EventRecord, EventWriter } from '../log/event-writer';
import { MonotonicClock } from './clock';

export function withWallTime(inner: EventWriter, clock = new MonotonicClock()): EventWriter {
  return {
    write(event: EventRecord) {
      const { tsNs, ...rest } = event;
      if (typeof tsNs === 'number' || typeof tsNs === 'bigint' || typeof tsNs === 'string') {
        inner.write({ ...rest, time: clock.toIso(BigInt(tsNs)) });
      } else {
        inner.write(event);
      }
    },
    stats: () => inner.stats(),
  };
}
