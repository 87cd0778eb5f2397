// Validation of what describe() returns (name, version, subscriptions). The
// metric declarations are checked by metric-registry.ts. The native binding
// hands typed values, but this is the trust boundary: check shapes too.

import type { DecoderInfo } from './engine';
import { validateMetricDecls } from './metric-registry';
import { show } from './show';

export const DECODER_NAME = /^[a-z][a-z0-9-]*$/;
export const PROBE_NAME = /^[a-z][a-z0-9_-]*$/;
const VERSION = /^[0-9A-Za-z.+-]{1,64}$/;
const NAME_MAX = 64;
const SUBSCRIPTIONS_MAX = 64;

/** Problems with a describe() result, one message each (empty = valid). */
export function validateDecoderInfo(info: unknown): string[] {
  if (typeof info !== 'object' || info === null) return ['describe() returned no decoder-info'];
  const { name, version, subscriptions, metrics } = info as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof name !== 'string' || !DECODER_NAME.test(name) || name.length > NAME_MAX) {
    problems.push(`name ${show(name)}: expected [a-z][a-z0-9-]*, at most ${NAME_MAX} characters`);
  }
  if (typeof version !== 'string' || !VERSION.test(version)) {
    problems.push(`version ${show(version)}: expected a semantic version such as 1.2.0`);
  }
  if (!Array.isArray(subscriptions) || subscriptions.length === 0) {
    problems.push('subscriptions: a decoder must subscribe to at least one probe');
  } else if (subscriptions.length > SUBSCRIPTIONS_MAX) {
    problems.push(`subscriptions: ${subscriptions.length}, at most ${SUBSCRIPTIONS_MAX}`);
  } else {
    const probes = new Set<string>();
    subscriptions.forEach((s: unknown, i) => {
      const at = `subscriptions[${i}]`;
      if (typeof s !== 'object' || s === null) return void problems.push(`${at}: not a subscription`);
      const { probe, kinds, streams } = s as Record<string, unknown>;
      if (typeof probe !== 'string' || !PROBE_NAME.test(probe)) problems.push(`${at}: probe ${show(probe)} is not a probe name such as "tcp"`);
      else if (probes.has(probe)) problems.push(`${at}: probe ${probe} is subscribed twice; merge the kinds into one subscription`);
      else probes.add(probe);
      if (!Array.isArray(kinds) || !kinds.every((k) => Number.isInteger(k) && k >= 0 && k <= 255)) {
        problems.push(`${at}: kinds must be record kinds 0..255 (empty for all)`);
      } else if (new Set(kinds).size !== kinds.length) problems.push(`${at}: kinds lists a kind twice`);
      if (typeof streams !== 'boolean') problems.push(`${at}: streams must be true or false`);
    });
  }
  problems.push(...validateMetricDecls(metrics));
  return problems;
}

/** Same declared contract? (A restarted instance must describe itself identically.) */
export function sameInfo(a: DecoderInfo, b: DecoderInfo): boolean {
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}

/** `tcp[1,2]+streams, openssl` */
export function formatSubscriptions(info: Pick<DecoderInfo, 'subscriptions'>): string {
  return info.subscriptions
    .map((s) => `${s.probe}${s.kinds.length > 0 ? `[${s.kinds.join(',')}]` : ''}${s.streams ? '+streams' : ''}`)
    .join(', ');
}
