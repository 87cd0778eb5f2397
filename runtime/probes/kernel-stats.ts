/**
 * Sums a probe's per-CPU stats array (struct lf_<probe>_stats: u64 counters[])
 * into totals. Read at scrape time and at shutdown, never per event.
 */
import type { BpfObject } from '../native/binding';

export function readPerCpuCounters(obj: BpfObject, map: string, slots: number, cpus: number): bigint[] {
  const key = Buffer.alloc(4);
  const value = obj.mapLookup(map, key);
  const totals = new Array<bigint>(slots).fill(0n);
  if (!value) return totals;
  const stride = value.length / cpus;
  for (let cpu = 0; cpu < cpus; cpu++) {
    for (let s = 0; s < slots; s++) totals[s] += value.readBigUInt64LE(cpu * stride + s * 8);
  }
  return totals;
}
