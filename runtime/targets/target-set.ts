// The set of watched processes, kept up to date by periodic rescans of /proc.
// Each rescan returns only the difference, so callers update BPF allow-lists
// and metrics incrementally. Identity is (pid, startTime) to catch pid reuse.

import { TargetError } from '../errors';
import type { Logger } from '../log/logger';
import { cgroupContains } from './cgroup';
import type { ProcFs, ProcStat } from './proc';

export type TargetReason = 'pid' | 'comm' | 'cgroup' | 'all';

export interface Target {
  pid: number;
  comm: string;
  startTime: number;
  /** First selector that matched, in the order pid, comm, cgroup, all. */
  reason: TargetReason;
  /** Clock time (ms) of the rescan that found it. */
  since: number;
}

export interface TargetSelectors {
  pids: readonly number[];
  /** Exact kernel comm (15 bytes at most). */
  comms: readonly string[];
  /** Cgroup paths as in /proc/PID/cgroup, e.g. ResolvedCgroup.cgroupPath. */
  cgroupPaths: readonly string[];
  all: boolean;
}

export interface TargetSetOptions {
  selectors: TargetSelectors;
  procFs: ProcFs;
  /** Milliseconds; defaults to Date.now. */
  clock?: () => number;
  logger?: Logger;
  /**
   * Never matched by --comm/--cgroup/--all (an explicit --pid still is):
   * lightfoot watching its own metrics server would feed on itself.
   * Defaults to [process.pid].
   */
  excludePids?: readonly number[];
}

export interface TargetDiff {
  added: Target[];
  /** No longer targets: exited, pid reused by another process, or left a selected cgroup. */
  exited: Target[];
}

const keyOf = (pid: number, startTime: number): string => `${pid}:${startTime}`;

export class TargetSet {
  readonly #sel: TargetSelectors;
  readonly #proc: ProcFs;
  readonly #clock: () => number;
  readonly #log: Logger | undefined;
  readonly #exclude: Set<number>;
  readonly #comms: Set<string>;
  /** --pid selections pinned to the start time seen on the first scan. */
  readonly #pinned = new Map<number, number>();
  #live = new Map<string, Target>();
  #scanned = false;

  constructor(options: TargetSetOptions) {
    this.#sel = options.selectors;
    this.#proc = options.procFs;
    this.#clock = options.clock ?? Date.now;
    this.#log = options.logger;
    this.#exclude = new Set(options.excludePids ?? [process.pid]);
    this.#comms = new Set(options.selectors.comms);
  }

  /**
   * Scan /proc and return what changed since the last scan. The first scan
   * throws TargetError when a --pid process does not exist.
   */
  rescan(): TargetDiff {
    const now = this.#clock();
    const first = !this.#scanned;
    const onlyPids = !this.#sel.all && this.#comms.size === 0 && this.#sel.cgroupPaths.length === 0;
    // With only --pid selectors there is no need to read every process.
    const pids = onlyPids ? [...this.#sel.pids] : this.#proc.listPids();

    const next = new Map<string, Target>();
    for (const pid of pids) {
      let stat: ProcStat | undefined;
      try {
        stat = this.#proc.readStat(pid);
      } catch (err) {
        this.#log?.debug('skipping unreadable process', { pid, err });
        continue;
      }
      if (!stat) continue;
      if (first && this.#sel.pids.includes(pid)) this.#pinned.set(pid, stat.startTime);
      const reason = this.#match(stat);
      if (!reason) continue;
      const key = keyOf(stat.pid, stat.startTime);
      next.set(key, this.#live.get(key) ?? { pid, comm: stat.comm, startTime: stat.startTime, reason, since: now });
    }

    if (first) {
      const missing = this.#sel.pids.filter((p) => !this.#pinned.has(p));
      if (missing.length > 0) {
        const list = missing.join(', ');
        throw new TargetError(`no process with pid ${list}`, {
          hint: `check \`ps -p ${missing.join(',')}\``,
        });
      }
    }

    const added = [...next].filter(([k]) => !this.#live.has(k)).map(([, t]) => t);
    const exited = [...this.#live].filter(([k]) => !next.has(k)).map(([, t]) => t);
    this.#live = next;
    this.#scanned = true;
    return { added, exited };
  }

  #match(stat: ProcStat): TargetReason | undefined {
    const pinned = this.#pinned.get(stat.pid);
    if (pinned !== undefined && pinned === stat.startTime) return 'pid';
    if (this.#exclude.has(stat.pid) || stat.kernelThread) return undefined;
    if (this.#comms.has(stat.comm)) return 'comm';
    if (this.#sel.cgroupPaths.length > 0) {
      let cg: string | undefined;
      try {
        cg = this.#proc.readCgroupV2Path(stat.pid);
      } catch {
        cg = undefined;
      }
      if (cg !== undefined && this.#sel.cgroupPaths.some((sel) => cgroupContains(sel, cg))) return 'cgroup';
    }
    if (this.#sel.all) return 'all';
    return undefined;
  }

  /** Live targets after the last rescan, ordered by pid. */
  current(): Target[] {
    return [...this.#live.values()].sort((a, b) => a.pid - b.pid);
  }

  get size(): number {
    return this.#live.size;
  }

  /**
   * True when only --pid selectors were given and all those processes are
   * gone: nothing can ever match again, so the daemon may stop.
   */
  exhausted(): boolean {
    const onlyPids = !this.#sel.all && this.#comms.size === 0 && this.#sel.cgroupPaths.length === 0;
    return this.#scanned && onlyPids && this.#live.size === 0;
  }
}
