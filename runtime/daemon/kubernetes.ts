// Kubernetes mode of `lightfoot run` (--control-addr): the control API, the
// pods it makes the selection, and the tables that put pod labels on metrics
// and event lines. run.ts calls these few hooks; everything else is here.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { ControlOptions } from '../cli/options';
import type { Logger } from '../log/logger';
import { BearerToken } from '../control/token';
import { DesiredStateStore } from '../control/desired-state-store';
import { startControlServer, type ControlServer } from '../control/server';
import { OwnerTable } from '../enrich/owner-table';
import { KubeSeriesLabeler, type IdentitySource } from '../enrich/kube-labels';
import { PodTargets, type PodSelection } from '../targets/pod-targets';

export class KubernetesMode {
  readonly owners = new OwnerTable();
  readonly identities: IdentitySource;
  readonly labeler: KubeSeriesLabeler;
  readonly #opts: ControlOptions;
  readonly #log: Logger;
  readonly #token: BearerToken;
  #pods: PodTargets | undefined;
  #store: DesiredStateStore | undefined;
  #server: ControlServer | undefined;
  #ready = false;

  /** Reads the token file now, so a bad one fails before anything is loaded. */
  constructor(opts: ControlOptions, logger: Logger) {
    this.#opts = opts;
    this.#log = logger.child('kubernetes');
    this.#token = new BearerToken(opts.tokenFile);
    this.identities = {
      ofPid: (pid) => {
        const cg = this.owners.cgroupOfPid(pid);
        return (cg !== undefined ? this.#pods?.identityOfCgroup(cg) : undefined) ?? this.#pods?.identityOfPid(pid);
      },
      ofConnection: (cookie) => {
        const cg = this.owners.cgroupOfCookie(cookie);
        return cg !== undefined ? this.#pods?.identityOfCgroup(cg) : undefined;
      },
    };
    this.labeler = new KubeSeriesLabeler({ identities: this.identities, podLabelKeys: opts.podLabels, dropPid: !opts.pidLabel });
  }

  /** Once the probe is loaded: pods are selected through `selection` from now on. */
  attach(selection: PodSelection, pinnedCgroups: readonly bigint[], registry: Registry): void {
    this.#pods = new PodTargets({ selection, pinnedCgroups, cgroupRoot: this.#opts.cgroupRoot, logger: this.#log });
    this.#store = new DesiredStateStore(this.#opts.nodeName, this.#pods);
    const pods = this.#pods;
    new Gauge({
      name: 'lightfoot_kube_containers',
      help: 'Containers of the desired pods, by state: attached (selected in the kernel) or unresolved (no cgroup yet; retried every rescan).',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const n = pods.attachedCount;
        this.set({ state: 'attached' }, n);
        this.set({ state: 'unresolved' }, pods.unresolved().length);
      },
    });
    const requests = new Counter({
      name: 'lightfoot_control_requests_total',
      help: 'Control API requests answered, by HTTP status code.',
      labelNames: ['code'],
      registers: [registry],
    });
    this.#countRequest = (code) => requests.inc({ code: String(code) });
  }

  #countRequest: (code: number) => void = () => {};

  /** Starts serving the control API (/readyz answers 503 until ready()). */
  async start(): Promise<void> {
    if (!this.#pods || !this.#store) throw new Error('KubernetesMode.start() before attach()');
    const pods = this.#pods;
    this.#server = await startControlServer({
      host: this.#opts.addr.host,
      port: this.#opts.addr.port,
      token: this.#token,
      tls: this.#opts.tls,
      store: this.#store,
      targets: () => pods.status(),
      ready: () => this.#ready,
      logger: this.#log,
      onResponse: (code) => this.#countRequest(code),
    });
  }

  get controlUrl(): string | undefined {
    const s = this.#server;
    if (!s) return undefined;
    const h = s.address.host.includes(':') ? `[${s.address.host}]` : s.address.host;
    return `${s.scheme}://${h}:${s.address.port}`;
  }

  ready(): void {
    this.#ready = true;
  }

  /** Every --rescan-interval-ms: retry unresolved containers, notice exits. */
  rescan(): void {
    try {
      this.#pods?.rescan();
    } catch (err) {
      this.#log.warn('pod rescan failed', { err });
    }
  }

  async close(): Promise<void> {
    this.#ready = false;
    await this.#server?.close();
  }
}
