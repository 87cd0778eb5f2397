// Where decoders come from, in this order: built-ins (the daemon passes
// `dist/probes/<probe>/decoder.wasm`), every `*.wasm` in each `--decoders DIR`,
// then the entries of `--config FILE`. A config entry naming a file already
// listed overrides its pin, `enabled` and limits; others are added. Also holds
// the sha256 pin check (constant time, before anything is compiled).

import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { DEFAULT_LIMITS, isSha256Hex, readDecoderConfig } from './config';
import type { InstanceLimits } from './engine';

export interface BuiltinDecoder {
  path: string;
  sha256?: string;
}

export type DecoderOrigin = 'builtin' | 'dir' | 'config';

export interface DecoderSource {
  path: string;
  origin: DecoderOrigin;
  /** Expected sha256 (lower-case hex), checked before compiling. */
  sha256?: string;
  /** Refused when there is no sha256 (config `requirePinned`; never for built-ins). */
  requirePinned: boolean;
  enabled: boolean;
  limits: InstanceLimits;
  /**
   * Metric names this decoder may write although another decoder declared them first
   * (config `shareMetrics`; the shapes must match). Absent: it shares nothing.
   */
  shareMetrics?: string[];
  /** `--config FILE decoders[2]`, `--decoders DIR`, `built-in`: for messages. */
  from: string;
}

/** The file system calls the resolver makes; fakes in tests. */
export interface ManifestFs {
  readdir(dir: string): string[];
  isDirectory(p: string): boolean;
  readText(p: string): string;
}

export const nodeManifestFs: ManifestFs = {
  readdir: (d) => fs.readdirSync(d),
  isDirectory: (p) => fs.statSync(p).isDirectory(),
  readText: (p) => fs.readFileSync(p, 'utf8'),
};

export interface ResolveOptions {
  builtins?: readonly BuiltinDecoder[];
  /** `--decoders DIR`, repeatable. */
  dirs?: readonly string[];
  /** `--config FILE`. */
  configFile?: string;
  defaultLimits?: InstanceLimits;
  fs?: ManifestFs;
}

/**
 * Every decoder source, deduplicated by absolute path. Throws ConfigError for
 * an unusable --decoders directory or config file; problems with a single
 * module (unreadable, bad pin) are found later and refuse only that module.
 *
 * @example
 * const sources = resolveDecoderSources({ builtins: builtinDecoders(packageRoot()), dirs: opts.decoderDirs, configFile: opts.decoderConfig });
 */
export function resolveDecoderSources(opts: ResolveOptions): DecoderSource[] {
  const mfs = opts.fs ?? nodeManifestFs;
  const limits = opts.defaultLimits ?? DEFAULT_LIMITS;
  const byPath = new Map<string, DecoderSource>();
  const add = (s: DecoderSource): void => {
    if (!byPath.has(s.path)) byPath.set(s.path, s);
  };

  for (const b of opts.builtins ?? []) {
    const src: DecoderSource = {
      path: path.resolve(b.path),
      origin: 'builtin',
      requirePinned: false,
      enabled: true,
      limits: { ...limits },
      from: 'built-in',
    };
    if (b.sha256 !== undefined) src.sha256 = b.sha256.toLowerCase();
    add(src);
  }

  const config = opts.configFile !== undefined ? readDecoderConfig(opts.configFile, mfs.readText) : undefined;
  const requirePinned = config?.requirePinned ?? false;

  for (const dir of opts.dirs ?? []) {
    let names: string[];
    try {
      if (!mfs.isDirectory(dir)) {
        throw new ConfigError(`--decoders ${dir}: not a directory`, { hint: 'give a directory holding *.wasm decoders' });
      }
      names = mfs.readdir(dir);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(`--decoders ${dir}: cannot read the directory (${code ?? (err as Error).message})`, {
        hint: code === 'ENOENT' ? 'check the path' : 'check the path and its permissions',
        cause: err,
      });
    }
    for (const name of names.filter((n) => n.endsWith('.wasm')).sort()) {
      add({
        path: path.resolve(dir, name),
        origin: 'dir',
        requirePinned,
        enabled: true,
        limits: { ...limits },
        from: `--decoders ${dir}`,
      });
    }
  }

  for (const e of config?.decoders ?? []) {
    const from = `--config ${config!.file} ${e.where}`;
    const existing = byPath.get(e.path);
    const merged: DecoderSource = existing
      ? { ...existing, enabled: e.enabled, limits: { ...existing.limits, ...e.limits }, from }
      : { path: e.path, origin: 'config', requirePinned, enabled: e.enabled, limits: { ...limits, ...e.limits }, from };
    if (e.sha256 !== undefined) merged.sha256 = e.sha256;
    if (e.shareMetrics !== undefined) merged.shareMetrics = [...e.shareMetrics];
    if (existing && existing.origin !== 'builtin') merged.requirePinned = requirePinned;
    byPath.set(e.path, merged);
  }
  return [...byPath.values()];
}

/** `dist/probes/<probe>/decoder.wasm` files under the package root. */
export function builtinDecoders(root: string, mfs: ManifestFs = nodeManifestFs): BuiltinDecoder[] {
  const probesDir = path.join(root, 'dist', 'probes');
  let probes: string[];
  try {
    probes = mfs.readdir(probesDir).sort();
  } catch {
    return [];
  }
  const out: BuiltinDecoder[] = [];
  for (const p of probes) {
    const file = path.join(probesDir, p, 'decoder.wasm');
    try {
      if (mfs.readdir(path.join(probesDir, p)).includes('decoder.wasm')) out.push({ path: file });
    } catch {
      // not a directory
    }
  }
  return out;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export type PinCheck = { ok: true; actual: string } | { ok: false; actual: string; message: string };

/**
 * Compare the module's sha256 with the pin in constant time (the pin is not a
 * secret, but a timing-safe compare costs nothing and keeps the habit).
 */
export function checkPin(bytes: Buffer, expectedHex: string): PinCheck {
  const actualDigest = createHash('sha256').update(bytes).digest();
  const actual = actualDigest.toString('hex');
  if (!isSha256Hex(expectedHex)) {
    return { ok: false, actual, message: `sha256 pin ${JSON.stringify(expectedHex)} is not 64 hex digits` };
  }
  const expected = Buffer.from(expectedHex, 'hex');
  if (expected.length === actualDigest.length && timingSafeEqual(expected, actualDigest)) return { ok: true, actual };
  return { ok: false, actual, message: `sha256 mismatch: expected ${expectedHex.toLowerCase()}, actual ${actual}` };
}
