/**
 * Takes over what selected processes already had open when they became
 * selected (the daemon started, or a rescan found a new target): their
 * listeners, so connections accepted from them later are attributed, and their
 * open connections, counted from now on as preexisting. Connections opened
 * later are attributed in the kernel at connect()/listen() time; this walk is
 * the only way to find the older ones without a hook on every send and recv.
 */
import type { BpfObject } from '../../runtime/native/binding';
import type { Logger } from '../../runtime/log/logger';
import { TCP_ADOPT_ITERATOR, TCP_CLAIM_ITERATOR } from './manifest';

/** The programs this needs (both, or it does nothing). */
export const CLAIM_PROGRAMS = [TCP_ADOPT_ITERATOR, TCP_CLAIM_ITERATOR];

/**
 * Returns a function that walks every process's open files, then the TCP sockets
 * of the daemon's network namespace (bpf/tcp.bpf.c explains why two walks), and
 * returns how many sockets it took over. Sockets noted in other network
 * namespaces are taken over in the kernel at their next state change.
 */
export function existingSocketClaimer(obj: BpfObject, available: boolean, log: Logger): () => number {
  return () => {
    if (!available) return 0;
    try {
      obj.runIterator(TCP_ADOPT_ITERATOR);
      return obj.runIterator(TCP_CLAIM_ITERATOR).length / 8; // one cookie each
    } catch (err) {
      log.warn('could not take over the open sockets of selected processes', { reason: (err as Error).message });
      return 0;
    }
  };
}
