/**
 * Converts kernel timestamps (bpf_ktime_get_ns: CLOCK_MONOTONIC) to wall time.
 * Node's hrtime reads the same clock, so one offset taken at start suffices.
 */
export class MonotonicClock {
  private readonly offsetNs: bigint;

  constructor() {
    this.offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  }

  toIso(monotonicNs: bigint): string {
    return new Date(Number((monotonicNs + this.offsetNs) / 1_000_000n)).toISOString();
  }
}
