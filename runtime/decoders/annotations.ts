// Per-connection annotations (`protocol` = `h2`) that decoders report; later
// log lines of that connection carry them. Bounded: connections (oldest
// evicted first), keys per connection, key and value length. A closed
// connection's entry is freed once every decoder told about the close has
// had its call (so the logs of that call still carry it).

export interface AnnotationLimits {
  maxConnections: number;
  maxKeysPerConnection: number;
  maxKeyLength: number;
  maxValueLength: number;
}

export const DEFAULT_ANNOTATION_LIMITS: Readonly<AnnotationLimits> = Object.freeze({
  maxConnections: 65_536,
  maxKeysPerConnection: 16,
  maxKeyLength: 64,
  maxValueLength: 256,
});

interface Entry {
  values: Record<string, string>;
  keys: number;
  /** Deliveries of a close still pending; undefined while open. */
  closing?: number;
}

export class AnnotationStore {
  readonly #limits: AnnotationLimits;
  readonly #map = new Map<bigint, Entry>();
  /** Annotations refused (limits) or evicted with their connection. */
  dropped = 0;

  constructor(limits: Partial<AnnotationLimits> = {}) {
    this.#limits = { ...DEFAULT_ANNOTATION_LIMITS, ...limits };
  }

  get size(): number {
    return this.#map.size;
  }

  /** False when refused (connection 0, bad key, limits). */
  set(connection: bigint, key: unknown, value: unknown): boolean {
    const l = this.#limits;
    if (typeof connection !== 'bigint' || connection === 0n) return this.#drop();
    if (typeof key !== 'string' || key.length === 0 || key.length > l.maxKeyLength) return this.#drop();
    if (typeof value !== 'string' || value.length > l.maxValueLength) return this.#drop();
    let e = this.#map.get(connection);
    if (e === undefined) {
      if (this.#map.size >= l.maxConnections) {
        // Evict the oldest connection (Map keeps insertion order).
        const oldest = this.#map.keys().next().value as bigint;
        this.dropped += this.#map.get(oldest)!.keys;
        this.#map.delete(oldest);
      }
      e = { values: Object.create(null) as Record<string, string>, keys: 0 };
      this.#map.set(connection, e);
    }
    if (!(key in e.values)) {
      if (e.keys >= l.maxKeysPerConnection) return this.#drop();
      e.keys++;
    }
    e.values[key] = value;
    return true;
  }

  get(connection: bigint): Readonly<Record<string, string>> | undefined {
    const e = this.#map.get(connection);
    return e && e.keys > 0 ? e.values : undefined;
  }

  /** The connection closed; `deliveries` decoders still have to see the close. */
  closing(connection: bigint, deliveries: number): void {
    const e = this.#map.get(connection);
    if (!e) return;
    if (deliveries <= 0) this.#map.delete(connection);
    else e.closing = (e.closing ?? 0) + deliveries;
  }

  /** One decoder has had the call that told it about the close (or never will). */
  closeDelivered(connection: bigint): void {
    const e = this.#map.get(connection);
    if (!e || e.closing === undefined) return;
    if (--e.closing <= 0) this.#map.delete(connection);
  }

  #drop(): false {
    this.dropped++;
    return false;
  }
}
