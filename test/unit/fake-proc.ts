// Test helpers: /proc/PID/stat text and an in-memory ProcFs.
import { parseProcStat, type ProcFs } from '../../runtime/targets/proc';

/** A /proc/PID/stat line as the kernel writes it (52 fields). */
export function statLine(pid: number, comm: string, startTime: number, opts: { ppid?: number; flags?: number } = {}): string {
  const after = ['S', String(opts.ppid ?? 1), String(pid), String(pid), '0', '-1', String(opts.flags ?? 4194560)];
  while (after.length < 19) after.push('0');
  after.push(String(startTime));
  while (after.length < 50) after.push('0');
  return `${pid} (${comm}) ${after.join(' ')}\n`;
}

export interface FakeProc {
  comm: string;
  startTime: number;
  cgroup?: string;
  kernelThread?: boolean;
}

/** Mutable process table behind a ProcFs; tests start, stop and replace processes. */
export class FakeProcFs implements ProcFs {
  readonly procs = new Map<number, FakeProc>();
  reads = 0;
  listPids(): number[] {
    return [...this.procs.keys()].sort((a, b) => a - b);
  }
  readStat(pid: number) {
    this.reads++;
    const p = this.procs.get(pid);
    if (!p) return undefined;
    return parseProcStat(statLine(pid, p.comm, p.startTime, { flags: p.kernelThread ? 0x208040 : 0x400100 }));
  }
  readCgroupV2Path(pid: number) {
    return this.procs.get(pid)?.cgroup;
  }
}
