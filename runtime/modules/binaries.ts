/**
 * Which binaries a process runs: its executable and the shared objects it has
 * mapped executable (/proc/PID/maps), and, right after an exec, the libraries
 * the dynamic loader is about to map (DT_NEEDED, resolved like ld.so does for
 * the common cases), so uprobes are in place before the program's first call.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface MappedBinary {
  /** Path as the process sees it (inside its mount namespace). */
  path: string;
  /** st_dev (the kernel's encoding, as stat() gives it); with the inode, the file's identity. */
  dev: number;
  inode: number;
  /** Where the host opens it: /proc/PID/root + path (works across containers). */
  hostPath: string;
}

/** Executable file mappings of a process, one per inode. Empty when the process is gone. */
export function mappedBinaries(pid: number, read: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): MappedBinary[] {
  let text: string;
  try {
    text = read(`/proc/${pid}/maps`);
  } catch {
    return [];
  }
  const seen = new Map<number, MappedBinary>();
  for (const line of text.split('\n')) {
    // 7f..-7f.. r-xp 00000000 fd:01 1234   /usr/lib/x86_64-linux-gnu/libssl.so.3
    const m = /^\S+ (\S{4}) \S+ (\S+) (\d+)\s+(\/.*)$/.exec(line);
    if (!m || m[1][2] !== 'x') continue;
    const inode = Number(m[3]);
    const p = m[4];
    if (inode === 0 || p.endsWith(' (deleted)') || seen.has(inode)) continue;
    seen.set(inode, { path: p, dev: devNumber(m[2]), inode, hostPath: `/proc/${pid}/root${p}` });
  }
  return [...seen.values()];
}

/** `fd:01` (major:minor in hex, as /proc/PID/maps prints it) as st_dev (new_encode_dev). */
export function devNumber(text: string): number {
  const [maj, min] = text.split(':').map((x) => parseInt(x, 16));
  return (min! & 0xff) | ((maj! & 0xfff) << 8) | ((min! & ~0xff) * 4096);
}

const DEFAULT_LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];

/**
 * Resolves DT_NEEDED names of `from` to files under `root` (the process's root):
 * DT_RUNPATH ($ORIGIN expanded), then the default directories. Names with a '/'
 * are taken as paths. Unresolved names are skipped (ld.so may still find them
 * through ld.so.cache or LD_LIBRARY_PATH; /proc/PID/maps catches those later).
 */
export function resolveNeeded(root: string, fromPath: string, needed: readonly string[], runpath: readonly string[]): string[] {
  const origin = path.dirname(fromPath);
  const dirs = [...runpath.map((d) => d.replace(/\$\{?ORIGIN\}?/g, origin)), ...DEFAULT_LIB_DIRS];
  const out: string[] = [];
  for (const name of needed) {
    const candidates = name.includes('/') ? [name] : dirs.map((d) => path.join(d, name));
    for (const c of candidates) {
      try {
        if (fs.statSync(root + c).isFile()) {
          out.push(c);
          break;
        }
      } catch {
        // not there
      }
    }
  }
  return out;
}
