// Who owns what, learned from the probe's own records before they reach the
// decoders: every TCP event names its socket (cookie), the owning process
// (tgid) and that process's cgroup id. Decoder output that arrives later (a
// metric labelled with a pid, an event line about a connection) is joined to
// a pod through these tables, with no race against short-lived processes:
// the record that produced the output taught the table first.

/** Entries per table; the oldest are evicted beyond it (Map insertion order). */
export const OWNER_TABLE_MAX = 65_536;

export class OwnerTable {
  readonly #byCookie = new Map<bigint, bigint>();
  readonly #byPid = new Map<number, bigint>();
  /** Closed connections, forgotten once their last event lines are surely written. */
  #closing: { cookie: bigint; at: number }[] = [];

  constructor(
    private readonly max = OWNER_TABLE_MAX,
    private readonly clock: () => number = Date.now,
    private readonly closeGraceMs = 10_000,
  ) {}

  /** The connection's CLOSE record went by: forget it after the grace period. */
  closed(cookie: bigint): void {
    const now = this.clock();
    this.#closing.push({ cookie, at: now });
    if (this.#closing[0]!.at + this.closeGraceMs <= now) {
      const keep: { cookie: bigint; at: number }[] = [];
      for (const c of this.#closing) {
        if (c.at + this.closeGraceMs <= now) this.#byCookie.delete(c.cookie);
        else keep.push(c);
      }
      this.#closing = keep;
    }
  }

  /** One record's owner. Cheap when nothing changed (two lookups). */
  see(cookie: bigint, tgid: number, cgroupId: bigint): void {
    if (this.#byCookie.get(cookie) !== cgroupId) put(this.#byCookie, cookie, cgroupId, this.max);
    if (this.#byPid.get(tgid) !== cgroupId) put(this.#byPid, tgid, cgroupId, this.max);
  }

  /** The connection closed: forget its cookie (after its last event lines). */
  forgetCookie(cookie: bigint): void {
    this.#byCookie.delete(cookie);
  }

  cgroupOfCookie(cookie: bigint): bigint | undefined {
    return this.#byCookie.get(cookie);
  }

  cgroupOfPid(pid: number): bigint | undefined {
    return this.#byPid.get(pid);
  }

  get size(): { cookies: number; pids: number } {
    return { cookies: this.#byCookie.size, pids: this.#byPid.size };
  }
}

function put<K>(m: Map<K, bigint>, k: K, v: bigint, max: number): void {
  m.delete(k); // re-insert: most recent last
  m.set(k, v);
  if (m.size > max) m.delete(m.keys().next().value as K);
}
