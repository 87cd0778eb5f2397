import { readFileSync } from 'node:fs';
/** What every benchmark returns, so one runner can record them all. */
export interface BenchRow {
  /** What was measured, e.g. "loopback ping-pong, 4 conns x 64 B". */
  name: string;
  /** The headline number. */
  value: number;
  unit: string;
  /** Free text: runs, medians, spread. */
  detail?: string;
}

export interface BenchSection {
  title: string;
  /** Why this is measured and how. */
  method: string;
  rows: BenchRow[];
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** utime + stime of a whole process so far (exited threads included), µs; USER_HZ is 100. */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 1e4; // fields 14 and 15
}
