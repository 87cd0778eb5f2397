// The host owns decoder metrics. A decoder declares them in describe(); this
// module validates the declarations (Prometheus naming, lightfoot_ prefix,
// counters in _total, label names, buckets, lightfoot's own names, which are
// reserved before any decoder loads) and registers them in prom-client. Every
// metric has one owner, the decoder that declared it first; another decoder may
// write it only when the operator lists it in that decoder's `shareMetrics`
// (--config), with the same shape. Each DecodeOutput's updates are then
// validated as a whole (any bad update rejects them all, nothing is applied;
// values that would make a series non-finite too) and applied through the
// series cap.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { isOwnMetricName } from '../metrics/own-names';
import { SeriesCap, seriesRefusedCounter } from '../metrics/series-cap';
import { COMPACT_OPS, type CompactOutput, type MetricDecl, type MetricKind } from './engine';
import { show } from './show';

export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const METRIC_PREFIX = 'lightfoot_';
/** Names under this prefix belong to the host's own decoder metrics. */
export const HOST_PREFIX = 'lightfoot_decoder_';
const RESERVED_LABELS = new Set(['le', 'quantile']);
const KINDS: readonly MetricKind[] = ['counter', 'gauge', 'histogram'];

export const DECL_LIMITS = {
  metrics: 256,
  nameLength: 200,
  helpLength: 1024,
  labels: 16,
  buckets: 64,
  /** Longest label value an update may carry (characters). */
  labelValueLength: 1024,
} as const;

type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;

interface Family {
  decl: MetricDecl;
  shape: string;
  owner: string;
  /** Decoders other than the owner allowed to write it (shareMetrics). */
  sharers: string[];
  metric: AnyMetric;
  cap: SeriesCap<string>;
  /**
   * Sum of |value| of every update applied: no series (counter value, gauge value,
   * histogram sum) can exceed it, so while it is finite every series is.
   */
  absTotal: number;
  /** Host-side relabelling (SeriesLabeler); absent = the declared labels as they are. */
  relabel?: (labels: Record<string, string>) => Record<string, string>;
}

/**
 * Labels the host adds to decoder series without knowing their protocol (the
 * Kubernetes identity of the process in a `pid` label, runtime/enrich/).
 */
export interface SeriesLabeler {
  /** For a family declared with `declared` labels: the exposed label names and the mapping, or undefined to leave it alone. */
  forFamily(declared: readonly string[]): { labelNames: string[]; relabel(labels: Record<string, string>): Record<string, string> } | undefined;
}

/**
 * Problems with a decoder's declarations, one message each (empty = valid).
 * Checks the list on its own; clashes with registered metrics are checked by
 * DecoderMetricRegistry.register().
 */
export function validateMetricDecls(decls: unknown): string[] {
  if (!Array.isArray(decls)) return ['metrics: expected a list of metric declarations'];
  const problems: string[] = [];
  if (decls.length > DECL_LIMITS.metrics) {
    problems.push(`metrics: ${decls.length} declared, at most ${DECL_LIMITS.metrics} allowed`);
    return problems;
  }
  const names = new Set<string>();
  decls.forEach((d: unknown, i) => {
    const at = `metrics[${i}]`;
    if (typeof d !== 'object' || d === null) {
      problems.push(`${at}: expected a metric declaration`);
      return;
    }
    const { name, kind, help, labels, buckets } = d as Record<string, unknown>;
    if (typeof name !== 'string') {
      problems.push(`${at}: name is not a string`);
      return;
    }
    const p = (why: string): void => void problems.push(`${at} ${JSON.stringify(name)}: ${why}`);
    if (!KINDS.includes(kind as MetricKind)) return p(`kind must be counter, gauge or histogram`);
    if (name.length > DECL_LIMITS.nameLength) p(`name longer than ${DECL_LIMITS.nameLength} characters`);
    if (!METRIC_NAME.test(name)) p('not a valid Prometheus metric name (letters, digits and _ only, not starting with a digit)');
    else if (name.includes(':')) p('":" is reserved for recording rules; use "_"');
    if (!name.startsWith(METRIC_PREFIX)) p(`name must start with "${METRIC_PREFIX}"`);
    else if (name.startsWith(HOST_PREFIX)) p(`"${HOST_PREFIX}" is reserved for lightfoot's own decoder metrics; pick another name`);
    else {
      const own = (kind === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name]).find(isOwnMetricName);
      if (own !== undefined) p(`${own} is one of lightfoot's own metric names (reserved); pick another name`);
    }
    if (kind === 'counter' && !name.endsWith('_total')) p(`counter names must end in _total (rename to ${name}_total)`);
    if (kind !== 'counter' && name.endsWith('_total')) p(`only counters may end in _total; this is a ${kind as string}`);
    if (kind === 'histogram' && /_(bucket|sum|count)$/.test(name)) p('histogram names must not end in _bucket, _sum or _count (Prometheus adds those)');
    const exposed = kind === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    if (exposed.some((n) => names.has(n))) p('declared twice (or clashes with a histogram\'s _bucket/_sum/_count series)');
    for (const n of exposed) names.add(n);
    if (typeof help !== 'string' || help.trim() === '') p('help text is empty; describe what is counted, with units');
    else if (help.length > DECL_LIMITS.helpLength) p(`help longer than ${DECL_LIMITS.helpLength} characters`);
    if (!Array.isArray(labels)) p('labels is not a list');
    else {
      if (labels.length > DECL_LIMITS.labels) p(`${labels.length} labels, at most ${DECL_LIMITS.labels}`);
      const seen = new Set<string>();
      for (const l of labels) {
        if (typeof l !== 'string' || !LABEL_NAME.test(l)) p(`label ${show(l)} is not a valid label name`);
        else if (l.startsWith('__')) p(`label ${show(l)}: names starting with "__" are reserved`);
        else if (RESERVED_LABELS.has(l)) p(`label ${show(l)} is reserved by Prometheus`);
        else if (seen.has(l)) p(`label ${show(l)} is listed twice`);
        if (typeof l === 'string') seen.add(l);
      }
    }
    if (!Array.isArray(buckets)) p('buckets is not a list');
    else if (kind === 'histogram') {
      if (buckets.length === 0) p('a histogram needs bucket upper bounds');
      else if (buckets.length > DECL_LIMITS.buckets) p(`${buckets.length} buckets, at most ${DECL_LIMITS.buckets}`);
      else if (!buckets.every((b) => typeof b === 'number' && Number.isFinite(b))) p('buckets must be finite numbers (+Inf is added by Prometheus)');
      else if (!buckets.every((b, j) => j === 0 || (b as number) > (buckets[j - 1] as number))) p('buckets must be strictly ascending');
    } else if (buckets.length > 0) p(`only histograms have buckets; this is a ${kind as string}`);
  });
  return problems;
}

const shapeOf = (d: MetricDecl): string => `${d.kind}{${d.labels.join(',')}}${d.kind === 'histogram' ? `[${d.buckets.join(',')}]` : ''}`;
const derived = (d: MetricDecl): string[] =>
  d.kind === 'histogram' ? [d.name, `${d.name}_bucket`, `${d.name}_sum`, `${d.name}_count`] : [d.name];

export class MetricDeclarationError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('; '));
    this.name = 'MetricDeclarationError';
    this.problems = problems;
  }
}

export interface DecoderMetricRegistryOptions {
  registry: Registry;
  /** Label sets per family before folding into "_overflow_" (--max-series). */
  maxSeries: number;
  labeler?: SeriesLabeler;
}

/** Per decoder, what the operator allowed (--config). */
export interface RegisterOptions {
  /** Names this decoder may write although another decoder declared them (same shape). */
  shareMetrics?: readonly string[];
}

/**
 * All decoders' metrics in one prom-client registry. Each metric belongs to the
 * decoder that declared it first; a second decoder declaring it is refused unless
 * its `shareMetrics` lists it and the shape (kind, labels, buckets) is the same.
 *
 * @example
 * const metrics = new DecoderMetricRegistry({ registry, maxSeries: 10_000 });
 * const m = metrics.register('http2', info.metrics);   // throws MetricDeclarationError
 * const problem = m.apply(output.metrics);            // null, or why the whole output was rejected
 */
export class DecoderMetricRegistry {
  readonly #registry: Registry;
  readonly #maxSeries: number;
  readonly #labeler: SeriesLabeler | undefined;
  readonly #families = new Map<string, Family>();
  /** Exposition names taken by decoder families (histograms take four). */
  readonly #taken = new Map<string, Family>();

  constructor(opts: DecoderMetricRegistryOptions) {
    this.#registry = opts.registry;
    this.#maxSeries = opts.maxSeries;
    this.#labeler = opts.labeler;
  }

  /** All problems that would refuse these declarations (empty = registrable). */
  check(decoder: string, decls: unknown, opts: RegisterOptions = {}): string[] {
    const problems = validateMetricDecls(decls);
    if (problems.length > 0) return problems;
    const share = new Set(opts.shareMetrics ?? []);
    (decls as MetricDecl[]).forEach((d, i) => {
      const at = `metrics[${i}] ${JSON.stringify(d.name)}`;
      const family = this.#families.get(d.name);
      if (family) {
        if (family.owner === decoder) return;
        if (!share.has(d.name)) {
          problems.push(
            `${at}: belongs to decoder ${family.owner}, which declared it first; decoder ${decoder} may not write it (to let it, list "${d.name}" in shareMetrics of ${decoder}'s --config entry, with the same kind, labels and buckets)`,
          );
        } else if (family.shape !== shapeOf(d)) {
          problems.push(
            `${at}: shared with decoder ${family.owner}, which declared it as ${family.shape}; decoder ${decoder} declares ${shapeOf(d)}; declare the same kind, labels and buckets`,
          );
        }
        return;
      }
      for (const n of derived(d)) {
        const clash = this.#taken.get(n);
        if (clash) {
          problems.push(`${at}: clashes with ${clash.decl.kind} ${clash.decl.name} of decoder ${clash.owner} (both expose ${n})`);
          return;
        }
        if (this.#registry.getSingleMetric(n)) {
          problems.push(`${at}: clashes with lightfoot's own metric ${n}; pick another name`);
          return;
        }
      }
    });
    return problems;
  }

  /** Validate and register, all or nothing; throws MetricDeclarationError. */
  register(decoder: string, decls: MetricDecl[], opts: RegisterOptions = {}): DecoderMetrics {
    const problems = this.check(decoder, decls, opts);
    if (problems.length > 0) throw new MetricDeclarationError(problems);
    const families = decls.map((d) => {
      const f = this.#families.get(d.name);
      if (f === undefined) return this.#create(decoder, d);
      if (f.owner !== decoder && !f.sharers.includes(decoder)) f.sharers.push(decoder);
      return f;
    });
    return new DecoderMetrics(families);
  }

  /** Who owns a metric and who else writes it (tests, `decoders list`). */
  writers(name: string): { owner: string; sharers: string[] } | undefined {
    const f = this.#families.get(name);
    return f === undefined ? undefined : { owner: f.owner, sharers: [...f.sharers] };
  }

  #create(owner: string, d: MetricDecl): Family {
    const host = this.#labeler?.forFamily(d.labels);
    const labelNames = host ? host.labelNames : [...d.labels];
    const base = { name: d.name, help: d.help, labelNames, registers: [this.#registry] };
    const metric: AnyMetric =
      d.kind === 'counter' ? new Counter(base) : d.kind === 'gauge' ? new Gauge(base) : new Histogram({ ...base, buckets: [...d.buckets] });
    const cap = new SeriesCap<string>(labelNames, {
      metric: d.name,
      maxSeries: this.#maxSeries,
      refused: seriesRefusedCounter(this.#registry),
    });
    const decl: MetricDecl = { ...d, labels: [...d.labels], buckets: [...d.buckets] };
    const family: Family = { decl, shape: shapeOf(d), owner, sharers: [], metric, cap, absTotal: 0 };
    if (host) family.relabel = (l) => host.relabel(l);
    this.#families.set(d.name, family);
    for (const n of derived(d)) this.#taken.set(n, family);
    return family;
  }
}

/** One decoder's view: its declarations by index. */
export class DecoderMetrics {
  readonly #families: Family[];

  constructor(families: Family[]) {
    this.#families = families;
  }

  /**
   * Validate every update, then apply them all. Returns null when applied, or
   * the reason the whole list was rejected (nothing applied).
   */
  apply(updates: unknown): string | null {
    if (!Array.isArray(updates)) return 'metrics: not a list of updates';
    const fams = this.#families;
    const pending = new Float64Array(fams.length);
    for (let i = 0; i < updates.length; i++) {
      const problem = this.#check(updates[i], i);
      if (problem !== null) return problem;
      const u = updates[i] as { metric: number; value: number };
      const p = (pending[u.metric] += Math.abs(u.value));
      if (!Number.isFinite(fams[u.metric]!.absTotal + p)) return nonFinite(i, fams[u.metric]!.decl);
    }
    for (let k = 0; k < fams.length; k++) fams[k]!.absTotal += pending[k]!;
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i] as { metric: number; labels: string[]; op: string; value: number };
      const f = fams[u.metric]!;
      const names = f.decl.labels;
      const labels: Record<string, string> = {};
      for (let j = 0; j < names.length; j++) labels[names[j]!] = u.labels[j]!;
      const admitted = f.cap.admit(f.relabel ? f.relabel(labels) : labels);
      if (u.op === 'add') (f.metric as Counter<string> | Gauge<string>).inc(admitted, u.value);
      else if (u.op === 'set') (f.metric as Gauge<string>).set(admitted, u.value);
      else (f.metric as Histogram<string>).observe(admitted, u.value);
    }
    return null;
  }

  /**
   * apply() for the compact form (engine.ts CompactOutput): the same rules, read from
   * the columns; label values resolved through `strings`.
   */
  applyCompact(c: CompactOutput): string | null {
    const fams = this.#families;
    const { metric, op, value, labelStart, labelIdx, strings } = c;
    const n = metric.length;
    if (op.length !== n || value.length !== n || labelStart.length !== n + 1 || labelStart[0] !== 0 || labelStart[n] !== labelIdx.length) {
      return 'metrics: compact columns have inconsistent lengths';
    }
    const nf = fams.length;
    const ns = strings.length;
    const pending = new Float64Array(nf);
    for (let i = 0; i < n; i++) {
      const m = metric[i]!;
      if (m >= nf) return `metric update ${i}: metric index ${m} is not declared (the decoder declared ${nf})`;
      const f = fams[m]!;
      const decl = f.decl;
      const at = (): string => `metric update ${i} (${decl.name})`;
      const s = labelStart[i]!;
      const e = labelStart[i + 1]!;
      if (e < s) return 'metrics: compact columns have inconsistent lengths';
      if (e - s !== decl.labels.length) {
        return `${at()}: ${e - s} label values for ${decl.labels.length} labels [${decl.labels.join(', ')}]`;
      }
      for (let j = s; j < e; j++) {
        const k = labelIdx[j]!;
        if (k >= ns) return `${at()}: label string index ${k} out of range`;
        if (strings[k]!.length > DECL_LIMITS.labelValueLength) return `${at()}: label value longer than ${DECL_LIMITS.labelValueLength} characters`;
      }
      const v = value[i]!;
      if (!Number.isFinite(v)) return `${at()}: value ${show(v)} is not a finite number`;
      const p = (pending[m] += Math.abs(v));
      if (!Number.isFinite(f.absTotal + p)) return nonFinite(i, decl);
      const o = op[i]!;
      const kind = decl.kind;
      // Fast accept of the valid combinations; anything else gets its message from opProblem.
      if ((o === 0 && (kind === 'gauge' || (kind === 'counter' && v >= 0))) || (o === 1 && kind === 'gauge') || (o === 2 && kind === 'histogram')) continue;
      return opProblem(`metric update ${i}`, decl, COMPACT_OPS[o] ?? o, v) ?? `metric update ${i} (${decl.name}): refused`;
    }
    for (let k = 0; k < nf; k++) fams[k]!.absTotal += pending[k]!;
    for (let i = 0; i < n; i++) {
      const f = fams[metric[i]!]!;
      const names = f.decl.labels;
      const labels: Record<string, string> = {};
      const s = labelStart[i]!;
      for (let j = 0; j < names.length; j++) labels[names[j]!] = strings[labelIdx[s + j]!]!;
      const admitted = f.cap.admit(f.relabel ? f.relabel(labels) : labels);
      const o = op[i];
      if (o === 0) (f.metric as Counter<string> | Gauge<string>).inc(admitted, value[i]!);
      else if (o === 1) (f.metric as Gauge<string>).set(admitted, value[i]!);
      else (f.metric as Histogram<string>).observe(admitted, value[i]!);
    }
    return null;
  }

  #check(u: unknown, i: number): string | null {
    const at = `metric update ${i}`;
    if (typeof u !== 'object' || u === null) return `${at}: not an update`;
    const { metric, labels, op, value } = u as Record<string, unknown>;
    if (typeof metric !== 'number' || !Number.isInteger(metric) || metric < 0 || metric >= this.#families.length) {
      return `${at}: metric index ${show(metric)} is not declared (the decoder declared ${this.#families.length})`;
    }
    const f = this.#families[metric]!;
    const name = f.decl.name;
    if (!Array.isArray(labels) || labels.length !== f.decl.labels.length) {
      return `${at} (${name}): ${Array.isArray(labels) ? labels.length : 'no'} label values for ${f.decl.labels.length} labels [${f.decl.labels.join(', ')}]`;
    }
    for (const l of labels) {
      if (typeof l !== 'string') return `${at} (${name}): label value ${show(l)} is not a string`;
      if (l.length > DECL_LIMITS.labelValueLength) return `${at} (${name}): label value longer than ${DECL_LIMITS.labelValueLength} characters`;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) return `${at} (${name}): value ${show(value)} is not a finite number`;
    return opProblem(at, f.decl, op, value);
  }
}

function nonFinite(i: number, decl: MetricDecl): string {
  return `metric update ${i} (${decl.name}): would make the ${decl.kind} non-finite (its values add up past ${Number.MAX_VALUE})`;
}

function opProblem(at: string, decl: MetricDecl, op: unknown, value: number): string | null {
  const kind = decl.kind;
  const name = decl.name;
  switch (op) {
    case 'add':
      if (kind === 'histogram') return `${at} (${name}): "add" on a histogram; use "observe"`;
      if (kind === 'counter' && value < 0) return `${at} (${name}): negative add ${value} to a counter`;
      return null;
    case 'set':
      if (kind !== 'gauge') return `${at} (${name}): "set" on a ${kind}; only gauges can be set`;
      return null;
    case 'observe':
      if (kind !== 'histogram') return `${at} (${name}): "observe" on a ${kind}; only histograms observe`;
      return null;
    default:
      return `${at} (${name}): unknown op ${show(op)}`;
  }
}
