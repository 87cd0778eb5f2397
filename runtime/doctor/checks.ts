/**
 * The checks behind `lightfoot doctor`. Each says what it found and, when it
 * fails, what to do about it. Program checks load the real probe programs one
 * at a time, so "ok" means the kernel accepted exactly what `run` will load.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { atLeast, hasVmlinuxBtf, kernelVersion, mountsOfType, VMLINUX_BTF } from '../system/kernel';
import { canLoadTracing, effectiveCapabilities, hasCapability } from '../system/capabilities';
import type { ProbeSpec } from '../probes/probe-spec';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  /** What to do, when status is not ok. */
  fix?: string;
}

export function checkKernel(): CheckResult {
  const v = kernelVersion();
  if (!atLeast(v, 5, 8)) {
    return { check: 'kernel', status: 'fail', detail: v.release, fix: 'upgrade to Linux 5.8 or newer (BPF ring buffer, CAP_BPF)' };
  }
  if (!atLeast(v, 6, 1)) {
    return {
      check: 'kernel',
      status: 'warn',
      detail: v.release,
      fix: 'Linux 6.1+ has sock_send_length/sock_recv_length; without them stream decoders get no payload',
    };
  }
  return { check: 'kernel', status: 'ok', detail: v.release };
}

export function checkBtf(): CheckResult {
  return hasVmlinuxBtf()
    ? { check: 'btf', status: 'ok', detail: VMLINUX_BTF }
    : { check: 'btf', status: 'fail', detail: `${VMLINUX_BTF} missing`, fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y' };
}

export function checkCapabilities(): CheckResult {
  const caps = effectiveCapabilities();
  const names = (['BPF', 'PERFMON', 'SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE'] as const).filter((n) => hasCapability(caps, n));
  const detail = names.length ? `CAP_${names.join(', CAP_')}` : 'none';
  return canLoadTracing(caps)
    ? { check: 'capabilities', status: 'ok', detail }
    : { check: 'capabilities', status: 'fail', detail, fix: 'run as root, or grant CAP_BPF and CAP_PERFMON' };
}

export function checkTracefs(): CheckResult {
  const mounts = mountsOfType('tracefs');
  if (mounts.length) return { check: 'tracefs', status: 'ok', detail: mounts.join(', ') };
  return {
    check: 'tracefs',
    status: 'warn',
    detail: 'not mounted',
    fix: 'only classic tracepoints need it (the TCP probe uses BTF tracepoints); mount with `mount -t tracefs nodev /sys/kernel/tracing`',
  };
}

export function checkCgroupV2(): CheckResult {
  const mounts = mountsOfType('cgroup2');
  return mounts.length
    ? { check: 'cgroup v2', status: 'ok', detail: mounts.join(', ') }
    : { check: 'cgroup v2', status: 'warn', detail: 'not mounted', fix: '--cgroup selection needs a cgroup v2 hierarchy' };
}

export function checkProbeObject(spec: ProbeSpec, packageRoot: string): CheckResult {
  const file = path.resolve(packageRoot, spec.object);
  return fs.existsSync(file)
    ? { check: `probe ${spec.name} object`, status: 'ok', detail: path.relative(packageRoot, file) }
    : { check: `probe ${spec.name} object`, status: 'fail', detail: `${file} missing`, fix: 'run `npm run build`' };
}

/** Minimal slice of the native binding the program checks need. */
export interface ObjectOpener {
  open(file: string): {
    programs(): { name: string }[];
    setAutoload(p: string, on: boolean): void;
    setConstant(n: string, v: Buffer): void;
    load(): void;
    close(): void;
  };
}

/** Loads each program of the probe alone and reports what the kernel said. */
export function checkPrograms(spec: ProbeSpec, packageRoot: string, native: ObjectOpener): CheckResult[] {
  const file = path.resolve(packageRoot, spec.object);
  return spec.programs.map((p) => {
    const check = `program ${p.name}`;
    let obj: ReturnType<ObjectOpener['open']> | undefined;
    try {
      obj = native.open(file);
      for (const [n, v] of Object.entries(spec.constants)) obj.setConstant(n, v);
      for (const other of obj.programs()) obj.setAutoload(other.name, other.name === p.name);
      obj.load();
      return { check, status: 'ok' as const, detail: p.required ? 'loads (required)' : 'loads' };
    } catch (err) {
      const reason = (err as Error).message.split('\n', 1)[0];
      return p.required
        ? { check, status: 'fail' as const, detail: reason, fix: 'the kernel refuses a required program; see the detail and `lightfoot doctor --json`' }
        : { check, status: 'warn' as const, detail: reason, fix: `optional: without it ${p.degrades ?? 'some data is missing'}` };
    } finally {
      obj?.close();
    }
  });
}
