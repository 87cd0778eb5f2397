/** Re-export so tests can import from test/helpers/ as well. */
export { buildWorkloads, tcpWorkloadSource, DEFAULT_CACHE_DIR } from '../workloads/build';
export type { Workloads } from '../workloads/build';
