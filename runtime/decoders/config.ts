// The decoder config file (`--config FILE`, JSON). Schema in README.md:
//   { "requirePinned": false,
//     "decoders": [{ "path": "...", "sha256": "...", "enabled": true,
//                    "limits": { "memoryBytes": N, "deadlineMs": N, "fuel": N,
//                                "outputBytes": N, "outputItems": N },
//                    "shareMetrics": ["lightfoot_x_total"] }] }
// Parsing is pure; every error names the file, the key and what to write instead.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import type { InstanceLimits } from './engine';

export interface DecoderConfigEntry {
  /** Absolute; a relative path in the file is relative to the file's directory. */
  path: string;
  /** Lower-case hex. */
  sha256?: string;
  enabled: boolean;
  /** Only the limits the file sets. */
  limits: Partial<InstanceLimits>;
  /** Metric names this decoder may share with the decoder that declared them first. */
  shareMetrics?: string[];
  /** `decoders[3]`, for messages. */
  where: string;
}

export interface DecoderConfig {
  file: string;
  /** Refuse every decoder from --decoders or the file that has no sha256. */
  requirePinned: boolean;
  decoders: DecoderConfigEntry[];
}

export const DEFAULT_LIMITS: Readonly<InstanceLimits> = Object.freeze({
  memoryBytes: 64 * 1024 * 1024,
  deadlineMs: 100,
  /** Per-call output budget (native/src/wasm/budget.rs): strings read + JSON rendered. */
  outputBytes: 16 * 1024 * 1024,
  /** Per-call output budget: updates, labels, logs, fields, annotations, stream entries. */
  outputItems: 262_144,
});

/** Inclusive ranges for each limit. */
export const LIMIT_RANGES = {
  memoryBytes: [1024 * 1024, 4 * 1024 * 1024 * 1024],
  deadlineMs: [1, 10_000],
  fuel: [1, Number.MAX_SAFE_INTEGER],
  outputBytes: [64 * 1024, 1024 * 1024 * 1024],
  outputItems: [16, 16 * 1024 * 1024],
} as const;

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const TOP_KEYS = ['decoders', 'requirePinned'];
const ENTRY_KEYS = ['path', 'sha256', 'enabled', 'limits', 'shareMetrics'];
const LIMIT_KEYS = Object.keys(LIMIT_RANGES);
const HINT = 'the schema is in runtime/decoders/README.md';

export function isSha256Hex(text: string): boolean {
  return SHA256_HEX.test(text);
}

/**
 * @example
 * const cfg = parseDecoderConfig('{"decoders":[{"path":"http2.wasm","sha256":"ab…"}]}', '/etc/lightfoot/decoders.json');
 */
export function parseDecoderConfig(text: string, file: string): DecoderConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`--config ${file}: not valid JSON: ${(err as Error).message}`, {
      hint: `fix the syntax; ${HINT}`,
      cause: err,
    });
  }
  const bad = (key: string, why: string, hint = HINT): ConfigError =>
    new ConfigError(`--config ${file}: ${key}: ${why}`, { hint });

  if (!isObject(doc)) throw bad('(top level)', `expected an object like {"decoders": [...]}, got ${kind(doc)}`);
  unknownKeys(doc, TOP_KEYS, '(top level)', bad);
  const requirePinned = doc.requirePinned ?? false;
  if (typeof requirePinned !== 'boolean') throw bad('requirePinned', `expected true or false, got ${kind(requirePinned)}`);
  const list = doc.decoders ?? [];
  if (!Array.isArray(list)) throw bad('decoders', `expected an array of {"path": …} objects, got ${kind(list)}`);

  const dir = path.dirname(path.resolve(file));
  const seen = new Map<string, string>();
  const decoders = list.map((raw: unknown, i: number): DecoderConfigEntry => {
    const where = `decoders[${i}]`;
    if (!isObject(raw)) throw bad(where, `expected an object like {"path": "x.wasm"}, got ${kind(raw)}`);
    unknownKeys(raw, ENTRY_KEYS, where, bad);
    if (typeof raw.path !== 'string' || raw.path.trim() === '') {
      throw bad(`${where}.path`, raw.path === undefined ? 'missing' : `expected a file name, got ${kind(raw.path)}`,
        'give the .wasm file, absolute or relative to the config file');
    }
    const abs = path.resolve(dir, raw.path);
    const dup = seen.get(abs);
    if (dup !== undefined) throw bad(`${where}.path`, `${raw.path} is already listed as ${dup}`, 'list each decoder once');
    seen.set(abs, where);
    let sha256: string | undefined;
    if (raw.sha256 !== undefined) {
      if (typeof raw.sha256 !== 'string' || !isSha256Hex(raw.sha256)) {
        throw bad(`${where}.sha256`, `expected 64 hex digits, got ${kind(raw.sha256)}`,
          `compute it with \`sha256sum ${raw.path}\` or \`lightfoot decoders verify ${raw.path}\``);
      }
      sha256 = raw.sha256.toLowerCase();
    }
    const enabled = raw.enabled ?? true;
    if (typeof enabled !== 'boolean') throw bad(`${where}.enabled`, `expected true or false, got ${kind(enabled)}`);
    const limits = parseLimits(raw.limits, `${where}.limits`, bad);
    const entry: DecoderConfigEntry = { path: abs, enabled, limits, where };
    if (sha256 !== undefined) entry.sha256 = sha256;
    if (raw.shareMetrics !== undefined) {
      const sm = raw.shareMetrics;
      if (!Array.isArray(sm) || !sm.every((n) => typeof n === 'string' && /^lightfoot_[a-zA-Z0-9_]+$/.test(n))) {
        throw bad(`${where}.shareMetrics`, `expected a list of metric names like ["lightfoot_http_requests_total"], got ${kind(sm)}`,
          'list the decoder metrics this decoder may also write; each must have the same kind, labels and buckets as the first declaration');
      }
      entry.shareMetrics = [...new Set(sm as string[])];
    }
    return entry;
  });
  return { file, requirePinned, decoders };
}

/** Read and parse; a missing or unreadable file is a ConfigError naming --config. */
export function readDecoderConfig(file: string, readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): DecoderConfig {
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`--config ${file}: cannot read the file (${code ?? (err as Error).message})`, {
      hint: code === 'ENOENT' ? 'check the path' : 'check the path and its permissions',
      cause: err,
    });
  }
  return parseDecoderConfig(text, file);
}

function parseLimits(
  raw: unknown,
  where: string,
  bad: (key: string, why: string, hint?: string) => ConfigError,
): Partial<InstanceLimits> {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw bad(where, `expected an object like {"deadlineMs": 50}, got ${kind(raw)}`);
  unknownKeys(raw, LIMIT_KEYS, where, bad);
  const out: Partial<InstanceLimits> = {};
  for (const k of LIMIT_KEYS as (keyof typeof LIMIT_RANGES)[]) {
    const v = raw[k];
    if (v === undefined) continue;
    const [min, max] = LIMIT_RANGES[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw bad(`${where}.${k}`, `expected a whole number from ${min} to ${max}, got ${kind(v)}`,
        `the default is ${k === 'fuel' ? 'no fuel limit' : DEFAULT_LIMITS[k]!}`);
    }
    out[k] = v;
  }
  return out;
}

function unknownKeys(
  obj: Record<string, unknown>,
  known: readonly string[],
  where: string,
  bad: (key: string, why: string, hint?: string) => ConfigError,
): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) {
      const at = where === '(top level)' ? k : `${where}.${k}`;
      throw bad(at, 'unknown key', `known keys here: ${known.join(', ')}`);
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v);
  if (text === undefined) return typeof v;
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
