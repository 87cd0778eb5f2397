// The watcher's own Prometheus metrics (docs/metrics.md, "watcher").

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface WatcherMetrics {
  registry: Registry;
  podsSelected: Gauge;
  daemons: Gauge;
  isLeader: Gauge;
  pushes: Counter<'result'>;
  pushFailures: Counter<'reason'>;
  lag: Histogram;
  watchRestarts: Counter<'resource'>;
}

export function createWatcherMetrics(registry = new Registry()): WatcherMetrics {
  collectDefaultMetrics({ register: registry, prefix: 'lightfoot_watcher_' });
  return {
    registry,
    podsSelected: new Gauge({
      name: 'lightfoot_watcher_pods_selected',
      help: 'Pods that match the selector and namespace filters and are scheduled on a node',
      registers: [registry],
    }),
    daemons: new Gauge({
      name: 'lightfoot_watcher_daemons',
      help: 'Node daemons discovered through their DaemonSet pods (with an IP and a control port)',
      registers: [registry],
    }),
    isLeader: new Gauge({
      name: 'lightfoot_watcher_leader',
      help: '1 while this replica holds the leader Lease and pushes, else 0',
      registers: [registry],
    }),
    pushes: new Counter({
      name: 'lightfoot_watcher_pushes_total',
      help: 'Desired-state pushes to node daemons by result (applied, conflict, error)',
      labelNames: ['result'],
      registers: [registry],
    }),
    pushFailures: new Counter({
      name: 'lightfoot_watcher_push_failures_total',
      help: 'Failed pushes by reason (unreachable, unauthorized, rejected, conflict, node_mismatch)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    lag: new Histogram({
      name: 'lightfoot_watcher_push_lag_seconds',
      help: "Time from the first pod event that changed a node's desired set to that daemon's acknowledgement",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    watchRestarts: new Counter({
      name: 'lightfoot_watcher_watch_restarts_total',
      help: 'Watch streams restarted after an error or API-server restart, by resource (pods, daemons)',
      labelNames: ['resource'],
      registers: [registry],
    }),
  };
}
