// Resolving `--cgroup PATH` to a cgroup v2 id (the directory's inode, which
// is what bpf_get_current_cgroup_id() returns). The v2 hierarchy is not always
// at /sys/fs/cgroup: hybrid hosts mount it at /sys/fs/cgroup/unified, so the
// mount is looked up in /proc/self/mountinfo.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, NotSupportedError } from '../errors';

export const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface MountInfoEntry {
  /** Path inside the filesystem that is mounted (4th field). */
  root: string;
  mountPoint: string;
  fsType: string;
}

export interface ResolvedCgroup {
  /** What the user passed. */
  spec: string;
  /** Absolute filesystem path of the cgroup directory. */
  path: string;
  /** Path as shown in /proc/PID/cgroup ("0::/system.slice/x.service"). */
  cgroupPath: string;
  /** cgroup id: inode number of the directory. */
  id: bigint;
}

/** Filesystem calls used here; injected in tests because statfs cannot be faked on tmpfs. */
export interface CgroupFs {
  readMountInfo(): string;
  /** Undefined when the path does not exist. */
  stat(p: string): { ino: bigint; isDirectory: boolean } | undefined;
  statfsType(p: string): number;
}

export const realCgroupFs: CgroupFs = {
  readMountInfo: () => fs.readFileSync('/proc/self/mountinfo', 'utf8'),
  stat(p) {
    try {
      const st = fs.statSync(p, { bigint: true });
      return { ino: st.ino, isDirectory: st.isDirectory() };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        return undefined;
      }
      throw err;
    }
  },
  statfsType: (p) => fs.statfsSync(p).type,
};

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Parse /proc/PID/mountinfo (see proc(5)); malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    // Optional fields end with a lone "-", followed by fstype and source.
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 2) continue;
    out.push({ root: unescape(fields[3]!), mountPoint: unescape(fields[4]!), fsType: fields[sep + 1]! });
  }
  return out;
}

/** The cgroup v2 mount; prefers /sys/fs/cgroup when several exist. */
export function findCgroup2Mount(mountInfo: string): MountInfoEntry | undefined {
  const v2 = parseMountInfo(mountInfo).filter((m) => m.fsType === 'cgroup2');
  return v2.find((m) => m.mountPoint === '/sys/fs/cgroup') ?? v2[0];
}

// normalize() keeps a trailing slash; ids and messages want the canonical form.
const norm = (p: string): string => path.normalize(p).replace(/(.)\/+$/, '$1');
const under = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');

/**
 * Resolve a `--cgroup` argument. Accepted forms:
 * - a filesystem path under the v2 mount: /sys/fs/cgroup/unified/system.slice
 * - a path as printed in /proc/PID/cgroup: /system.slice/nginx.service
 * - a path relative to the v2 mount: system.slice/nginx.service
 *
 * @throws NotSupportedError without a cgroup v2 mount; ConfigError for a missing
 *         path or a directory that is not on cgroup v2.
 */
export function resolveCgroup(spec: string, cgfs: CgroupFs = realCgroupFs): ResolvedCgroup {
  const mount = findCgroup2Mount(cgfs.readMountInfo());
  if (!mount) {
    throw new NotSupportedError(`--cgroup ${spec}: this host has no cgroup v2 hierarchy mounted`, {
      feature: 'cgroup v2',
      minimumKernel: '4.5',
      hint: 'mount it with `mount -t cgroup2 none /sys/fs/cgroup/unified`, or select processes with --pid/--comm',
    });
  }
  const mp = mount.mountPoint;
  let p: string;
  if (!path.isAbsolute(spec)) {
    p = norm(path.join(mp, spec));
  } else if (under(norm(spec), mp)) {
    p = norm(spec);
  } else {
    // "/system.slice/x" as copied from /proc/PID/cgroup, unless it is a real path elsewhere.
    const inMount = norm(path.join(mp, spec));
    p = cgfs.stat(inMount) ? inMount : norm(spec);
  }

  const st = cgfs.stat(p);
  const hint = `pass a directory under the cgroup v2 mount ${mp}, e.g. --cgroup system.slice/NAME.service (the "0::" line of \`cat /proc/PID/cgroup\`)`;
  if (!st) throw new ConfigError(`--cgroup ${spec}: ${p} does not exist`, { hint });
  if (!st.isDirectory) throw new ConfigError(`--cgroup ${spec}: ${p} is not a directory`, { hint });
  if (cgfs.statfsType(p) !== CGROUP2_SUPER_MAGIC || !under(p, mp)) {
    throw new ConfigError(`--cgroup ${spec}: ${p} is not a cgroup v2 directory`, {
      hint: `cgroup v2 is mounted at ${mp} on this host; pass a path below it (cgroup v1 directories are not supported)`,
    });
  }
  const rel = path.relative(mp, p);
  return { spec, path: p, cgroupPath: norm(path.posix.join(mount.root, rel)), id: st.ino };
}

/** True when a process cgroup path (from /proc/PID/cgroup) is `selected` or below it. */
export function cgroupContains(selected: string, processPath: string): boolean {
  return selected === '/' || under(processPath, selected);
}
