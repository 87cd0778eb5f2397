// lightfoot's own metric names, reserved before any decoder loads: a decoder that
// declares one is refused (runtime/decoders/metric-registry.ts), so it can neither
// stop the daemon from registering its own metrics nor write into them.
//
// Exact names come from the modules that register them; whole prefixes are
// reserved for families lightfoot adds to (Node process metrics, probe and BPF
// program statistics, the decoder runtime's own metrics).

import { metricNames as decoderSelfNames } from '../decoders/self-metrics';
import { metricNames as selfNames } from './self-metrics';
import { SERIES_REFUSED_METRIC } from './series-cap';

export const OWN_METRIC_NAMES: ReadonlySet<string> = new Set<string>([
  ...selfNames,
  ...decoderSelfNames,
  'lightfoot_probe_kernel_events_total', // probe-kernel-metrics.ts
  SERIES_REFUSED_METRIC,
]);

/** prom-client's default metrics get `lightfoot_process_*` and `lightfoot_nodejs_*`. */
export const OWN_METRIC_PREFIXES: readonly string[] = [
  'lightfoot_decoder_',
  'lightfoot_process_',
  'lightfoot_nodejs_',
  'lightfoot_probe_',
  'lightfoot_bpf_',
  'lightfoot_ringbuf_',
];

/** True for a name lightfoot registers (or may register) itself. */
export function isOwnMetricName(name: string): boolean {
  return OWN_METRIC_NAMES.has(name) || OWN_METRIC_PREFIXES.some((p) => name.startsWith(p));
}
