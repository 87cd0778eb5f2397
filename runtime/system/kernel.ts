/** Facts about the running kernel that decide what the probes can do. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { parseMountInfo } from '../targets/cgroup';

export interface KernelVersion {
  major: number;
  minor: number;
  patch: number;
  release: string;
}

export function kernelVersion(release = os.release()): KernelVersion {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  return m
    ? { major: +m[1], minor: +m[2], patch: +(m[3] ?? 0), release }
    : { major: 0, minor: 0, patch: 0, release };
}

export function atLeast(v: KernelVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

export function hasVmlinuxBtf(): boolean {
  return fs.existsSync(VMLINUX_BTF);
}

/** Mount points by filesystem type, from /proc/self/mountinfo. */
export function mountsOfType(fstype: string, mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  return parseMountInfo(mountinfo)
    .filter((m) => m.fsType === fstype)
    .map((m) => m.mountPoint);
}
