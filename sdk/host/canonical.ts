// Canonical JSON of decoder results, for fixtures and engine comparison:
// bigints become decimal strings, key order is fixed by the output shape, field
// lists stay ordered [key, value] pairs, and pretty-printing puts one record per
// line so diffs point at the record that changed.
import { DecodeOutput } from './types';

export type BatchResult = { ok: DecodeOutput } | { error: { kind: string; message: string } };

export function toJsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJsonValue(x);
    return out;
  }
  return v;
}

function canonOutput(o: DecodeOutput): unknown {
  return {
    metrics: o.metrics.map((m) => ({ metric: m.metric, labels: m.labels, op: m.op, value: m.value })),
    logs: o.logs.map((l) => ({ level: l.level, message: l.message, connection: l.connection, fields: l.fields })),
    annotations: o.annotations.map((a) => ({ connection: a.connection, key: a.key, value: a.value })),
    streams: o.streams.map((s) => ({ connection: s.connection, direction: s.direction, consumed: s.consumed })),
  };
}

export function canonResult(r: BatchResult): unknown {
  return toJsonValue('ok' in r ? { ok: canonOutput(r.ok) } : { error: { kind: r.error.kind, message: r.error.message } });
}

/** Pretty JSON with every leaf record (no nested objects/arrays of objects) on one line. */
export function stringifyCanonical(v: unknown, indent = ''): string {
  const isObj = (x: unknown): boolean => x !== null && typeof x === 'object' && !Array.isArray(x);
  // One line: no plain object below this value (records with label lists and field pairs).
  const flat = (x: unknown): boolean =>
    Array.isArray(x) ? x.every((e) => !isObj(e) && flat(e))
      : isObj(x) ? Object.values(x as object).every((e) => !isObj(e) && flat(e)) : true;
  if (flat(v)) return JSON.stringify(v);
  const inner = indent + '  ';
  if (Array.isArray(v)) return `[\n${v.map((x) => inner + stringifyCanonical(x, inner)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(v as object);
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${stringifyCanonical(x, inner)}`).join(',\n')}\n${indent}}`;
}

/** Line diff (LCS) of two texts, `-`/`+`/` ` prefixed, with `context` lines around changes. */
export function lineDiff(a: string, b: string, context = 3): string {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length * y.length > 4e6) return `--- expected\n${a}\n+++ actual\n${b}`;
  const n = x.length, m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const ops: string[] = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { ops.push('  ' + x[i]); i++; j++; }
    else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) ops.push('+ ' + y[j++]);
    else ops.push('- ' + x[i++]);
  }
  const keep = ops.map((op, k) => ops.slice(Math.max(0, k - context), k + context + 1).some((o) => o[0] !== ' '));
  const out: string[] = [];
  ops.forEach((op, k) => { if (keep[k]) out.push(op); else if (out[out.length - 1] !== '  …') out.push('  …'); });
  return out.join('\n');
}
