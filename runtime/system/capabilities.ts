/** The effective capabilities of this process, from /proc/self/status. */
import * as fs from 'node:fs';

export const CAP = { NET_ADMIN: 12, SYS_ADMIN: 21, SYS_PTRACE: 19, DAC_READ_SEARCH: 2, PERFMON: 38, BPF: 39 } as const;
export type CapName = keyof typeof CAP;

export function effectiveCapabilities(statusText = fs.readFileSync('/proc/self/status', 'utf8')): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export function hasCapability(caps: bigint, name: CapName): boolean {
  return (caps >> BigInt(CAP[name])) & 1n ? true : false;
}

/** Loading tracing programs needs CAP_BPF + CAP_PERFMON (5.8+), or CAP_SYS_ADMIN. */
export function canLoadTracing(caps: bigint): boolean {
  return (hasCapability(caps, 'BPF') && hasCapability(caps, 'PERFMON')) || hasCapability(caps, 'SYS_ADMIN');
}
