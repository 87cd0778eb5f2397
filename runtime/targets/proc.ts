// Reading process identity from /proc. A process is (pid, startTime): pids
// are reused, the start time (clock ticks since boot) is not, so comparing
// both detects that a pid now belongs to another process.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { TargetError } from '../errors';

export interface ProcStat {
  pid: number;
  /** Kernel comm: at most 15 bytes, may contain spaces and parentheses. */
  comm: string;
  ppid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot when the process started. */
  startTime: number;
  /** PF_KTHREAD set: kernel threads have no user-space sockets to watch. */
  kernelThread: boolean;
}

/** Injected /proc reader so the target logic is tested against fake trees. */
export interface ProcFs {
  listPids(): number[];
  /** Undefined when the process is gone (or vanishes while being read). */
  readStat(pid: number): ProcStat | undefined;
  /** Path from the "0::" line of /proc/PID/cgroup; undefined without cgroup v2 or when gone. */
  readCgroupV2Path(pid: number): string | undefined;
}

const PF_KTHREAD = 0x00200000;

/**
 * Parse the text of /proc/PID/stat; undefined if malformed. The comm sits in
 * parentheses and may itself contain ") " so everything up to the LAST ')' is comm.
 *
 * @example
 * parseProcStat('42 (my (app)) S 1 42 42 0 -1 4194560 ...').comm // "my (app)"
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 1 || close < open) return undefined;
  const pidText = text.slice(0, open).trim();
  if (!/^[0-9]+$/.test(pidText)) return undefined;
  // Fields from 3 (state) onward; index i holds field i + 3.
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const field = (n: number): string | undefined => rest[n - 3];
  const ppid = field(4);
  const flags = field(9);
  const start = field(22);
  if (ppid === undefined || flags === undefined || start === undefined) return undefined;
  if (!/^[0-9]+$/.test(start) || !/^-?[0-9]+$/.test(ppid) || !/^[0-9]+$/.test(flags)) return undefined;
  return {
    pid: Number(pidText),
    comm: text.slice(open + 1, close),
    ppid: Number(ppid),
    startTime: Number(start),
    kernelThread: (Number(flags) & PF_KTHREAD) !== 0,
  };
}

/** The "0::" (unified hierarchy) path of /proc/PID/cgroup text, if any. */
export function parseCgroupV2Path(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('0::')) return line.slice(3).trim();
  }
  return undefined;
}

const isGone = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code;
  // ESRCH: the process exited between open() and read().
  return code === 'ENOENT' || code === 'ESRCH';
};

function readProcFile(root: string, pid: number, name: string): string | undefined {
  const file = path.join(root, String(pid), name);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isGone(err)) return undefined;
    throw new TargetError(`reading ${file}: ${(err as Error).message}`, {
      cause: err,
      hint: (err as NodeJS.ErrnoException).code === 'EACCES' ? 'run as root, or check the hidepid mount option of /proc' : undefined,
    });
  }
}

export function readProcStat(pid: number, root = '/proc'): ProcStat | undefined {
  const text = readProcFile(root, pid, 'stat');
  return text === undefined ? undefined : parseProcStat(text);
}

export function readCgroupV2Path(pid: number, root = '/proc'): string | undefined {
  const text = readProcFile(root, pid, 'cgroup');
  return text === undefined ? undefined : parseCgroupV2Path(text);
}

/** Pids of all processes (thread-group leaders; /proc does not list threads at top level). */
export function listPids(root = '/proc'): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync(root)) {
    if (/^[0-9]+$/.test(name)) pids.push(Number(name));
  }
  return pids.sort((a, b) => a - b);
}

/** A ProcFs on a real or fake /proc tree. */
export function createProcFs(root = '/proc'): ProcFs {
  return {
    listPids: () => listPids(root),
    readStat: (pid) => readProcStat(pid, root),
    readCgroupV2Path: (pid) => readCgroupV2Path(pid, root),
  };
}
