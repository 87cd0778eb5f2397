/**
 * Shared set-up of the kernel tests: they load real eBPF, so they need root.
 * In CI (root) they never skip; elsewhere they skip with this reason.
 */
import { isRoot } from '../helpers/daemon';
import { sumOf, type Sample } from '../helpers/prom';

export const needsRoot = isRoot() ? false : 'needs root (CAP_BPF + CAP_PERFMON) to load eBPF programs';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A short comm unique to this run, so earlier runs' processes never match. */
export function uniqueComm(tag: string): string {
  return `${tag}${process.pid % 100000}`.slice(0, 15);
}

/** TCP metric values of one process name and role, for exact comparisons. */
export function tcpOf(samples: Sample[], comm: string, role?: string) {
  const m: Record<string, string> = role ? { comm, role } : { comm };
  return {
    opened: sumOf(samples, 'lightfoot_tcp_connections_opened_total', m),
    closed: sumOf(samples, 'lightfoot_tcp_connections_closed_total', m),
    failed: sumOf(samples, 'lightfoot_tcp_connect_failures_total', m),
    sent: sumOf(samples, 'lightfoot_tcp_bytes_sent_total', m),
    received: sumOf(samples, 'lightfoot_tcp_bytes_received_total', m),
    retransmits: sumOf(samples, 'lightfoot_tcp_retransmits_total', m),
    resetsSent: sumOf(samples, 'lightfoot_tcp_resets_total', { ...m, direction: 'sent' }),
    resetsReceived: sumOf(samples, 'lightfoot_tcp_resets_total', { ...m, direction: 'received' }),
    active: sumOf(samples, 'lightfoot_tcp_active_connections', m),
  };
}

export function kernelStat(samples: Sample[], stat: string): number {
  return sumOf(samples, 'lightfoot_probe_kernel_events_total', { probe: 'tcp', stat });
}
